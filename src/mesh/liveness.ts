/**
 * Which workers of one function a caller knows to be alive, and what it
 * trusts after a silence (the requester's liveness concern). A worker is
 * heard from with each final reply; a request that falls silent makes the
 * function's queue group distrusted for a while, since nats-server keeps a
 * vanished machine's workers as members until its pings give up: resends then
 * go straight to a worker heard within ALIVE_MS, or, with none, the workers
 * known are pinged on their direct subjects and the first to answer takes the
 * waiting job.
 */
import { ALIVE_MS, DISTRUST_MS, FORGET_MS, MAX_HEARD, PING_WAIT_MS } from './timing.js';

export class WorkerLiveness {
  /** Workers by when their last final reply came. */
  private readonly heard = new Map<string, number>();
  /** Until then a request fell silent recently: the queue group may still count a vanished worker. */
  private distrustUntil = 0;
  /** When the known workers were last pinged. */
  private pingedAt = 0;

  heardFrom(worker: string, at: number): void {
    this.heard.set(worker, at);
  }

  /** A worker went silent, or the server says it is gone: none of the function's jobs go there until it answers again. */
  lost(worker: string): void {
    this.heard.delete(worker);
  }

  /** A request fell silent (or the connection moved to another node): avoid the queue group for DISTRUST_MS. */
  distrust(now: number): void {
    this.distrustUntil = now + DISTRUST_MS;
  }

  distrusted(now: number): boolean {
    return now < this.distrustUntil;
  }

  /** A worker that answered within ALIVE_MS (one at random, to spread resends). */
  aliveWorker(now: number): string | undefined {
    const alive: string[] = [];
    for (const [worker, at] of this.heard) if (now - at <= ALIVE_MS) alive.push(worker);
    return alive.length ? alive[Math.floor(Math.random() * alive.length)] : undefined;
  }

  /** The workers to ping now (none: there are none, or a ping round went out lately); marks the round. */
  pingRound(now: number): string[] {
    if (this.heard.size === 0 || now - this.pingedAt <= 2 * PING_WAIT_MS) return [];
    this.pingedAt = now;
    return [...this.heard.keys()];
  }

  /** A ping round is out and its answers may still come: the waiting job is for the first worker to answer. */
  awaitingPongs(now: number): boolean {
    return now - this.pingedAt < PING_WAIT_MS;
  }

  /** Workers come and go (reloads, restarts): past MAX_HEARD, forget the ones silent for FORGET_MS. */
  forgetSilent(now: number): void {
    if (this.heard.size <= MAX_HEARD) return;
    for (const [worker, at] of this.heard) if (now - at > FORGET_MS) this.heard.delete(worker);
  }
}
