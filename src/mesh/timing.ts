/**
 * Every timing default of the mesh protocol, named in one place (as nats.js
 * keeps its defaults in one options file): how callers wait for room and
 * notice silence (requester), how workers show a job is alive (events), how
 * room is offered (room), how discovery gathers. Each says why it is what it
 * is; the NATS-level pings are in config/nats-common.conf and nats.pingIntervalMs.
 */

// requester: gates, probes and resends
/**
 * A function nobody has called for this long loses its gate and room
 * subscription: callers name functions freely (a Gearman client may submit
 * any name), and each name must not hold a subscription for good.
 */
export const GATE_IDLE_MS = 5 * 60_000;
/** A gate no worker ever answered through (a made-up name) goes this soon once nothing waits in it. */
export const UNSERVED_GATE_IDLE_MS = 2000;
/**
 * Most functions one caller keeps gates for at once (each is a subscription,
 * some kilobytes and a probe while jobs wait): far above any deployment's
 * functions, and what bounds a flood of made-up names. Past it, a call for yet
 * another name is refused BUSY.
 */
export const MAX_GATES = 1000;
/** How often a job waiting for a function no worker ever served probes its queue group (a new worker also announces room). */
export const UNSERVED_PROBE_MS = 250;
/**
 * No-room answers while the gate is open are tried again at once through the
 * queue group, this many in a row: NATS picks a member at random, and another
 * worker may well have room. Past it, jobs wait for room in order.
 */
export const BOUNCE_RETRIES = 3;
/*
 * A job of BIG_JOB_BYTES or more is never sent on a guess: a bounce costs its
 * whole payload's trip through NATS (a photo: ~7 ms of CPU across the
 * processes). It goes to the queue group only while nobody waits and no worker
 * was found full, and once bounced it waits for room heard of.
 */
/** While jobs wait and no room was announced for this long, the oldest is sent to the queue group anyway (announcements are at most once). */
export const PROBE_MS = 25;
/** The same for a big job, whose probe of a full queue group moves its whole payload for nothing: hand-offs carry the flow. */
export const BIG_PROBE_MS = 250;
export const TICK_MS = 25;
/** Sent requests are checked for silence every 10th tick (250 ms): their timeouts are seconds. */
export const LIVENESS_EVERY_TICKS = 10;
export const DEFAULT_RUN_TIMEOUT_MS = 60_000;
/**
 * A worker that answered within this long is alive: a request that fell
 * silent is sent again straight to one of those, not to the queue group,
 * where NATS keeps a vanished machine's workers as members until its pings
 * give up and would hand the resend to a dead one again.
 */
export const ALIVE_MS = 250;
/**
 * How long after a silence the queue group is avoided: nats-server drops a
 * vanished client, and its queue-group membership, after ping_max pings
 * without an answer (config/nats-common.conf: 2 x 500 ms), give or take one ping.
 */
export const DISTRUST_MS = 2000;
/**
 * A silence with no worker heard within ALIVE_MS (every job of ours was with
 * the vanished one): the workers we know are pinged on their direct subjects,
 * and the first to answer takes the waiting job. Without an answer for this
 * long, jobs go to the queue group after all (and the next silence pings again).
 */
export const PING_WAIT_MS = 250;
/** Workers remembered per function before those silent for FORGET_MS are forgotten. */
export const MAX_HEARD = 64;
export const FORGET_MS = 60_000;

// events: a held job's signs of life (see events.ts)
/**
 * A worker acknowledges a job it holds after ACK_DELAY_MS (fast jobs answer
 * first and cost no extra message) and beats every HEARTBEAT_MS; a requester
 * that hears nothing for ACK_TIMEOUT_MS after sending, or LIVENESS_TIMEOUT_MS
 * after the last sign of life, knows the request or its worker was lost.
 */
export const ACK_DELAY_MS = 25;
export const HEARTBEAT_MS = 1000;
export const ACK_TIMEOUT_MS = 1000;
export const LIVENESS_TIMEOUT_MS = 3500;

// room: offering freed slots
/** How long a freed slot waits for its caller's next job before it is announced to everyone. */
export const HAND_OFF_GRACE_MS = 2;
/**
 * A big job (a photo) takes milliseconds to arrive: the room a final reply
 * offered its caller is held this long for the job it hands off, so an
 * announcement does not book the same slot twice (the second job would travel
 * for nothing and bounce).
 */
export const BIG_OFFER_HOLD_MS = 20;

// discovery: gathering $SRV.INFO answers
/** Admin answers share a gathering this recent (several commands in one burst); older ones are gathered again. */
export const LIST_FRESH_MS = 100;
/** A gathering ends this long after it began even if replies keep coming. */
export const GATHER_MAX_MS = 2000;
