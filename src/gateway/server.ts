/**
 * The Gearman gateway: a TCP server whose jobs become NATS requests. Binary
 * client packets and gearmand's text admin commands share the port.
 */
import net from 'node:net';
import os from 'node:os';
import type { NatsConnection, Subscription } from 'nats';
import { GATEWAY_STATUS_SUBJECT, type GatewayStatus } from '../shared/control.js';
import path from 'node:path';
import { maxWaitingBytes, projectRoot, type DipsConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { effectiveMaxPayload } from '../mesh/nats.js';
import { repliesToInbox } from '../mesh/replies.js';
import { Requester } from '../mesh/requester.js';
import { flushTracing, startTracing } from '../shared/tracing.js';
import type { Registry } from 'prom-client';
import { gatewayMetrics } from './metrics.js';
import { adminField, mayChangeState, runAdminCommand } from './admin.js';
import { UnreadBudget } from './unread-budget.js';
import { NativeFunctions } from './native-functions.js';
import { Connection } from './connection.js';
import { Discovery } from '../mesh/discovery.js';
import { listenerOf } from './handlers/client.js';
import { packetTable } from './handlers/index.js';
import { workerWire } from './handlers/worker.js';
import { handleBase, Jobs } from './jobs.js';
import { JobStore } from './store.js';
import { answerDeadLetters } from './dead-letters.js';
import { capSegmentSize } from './segment-size.js';
import { LegacyBridge } from './legacy.js';
import { version } from '../shared/process.js';
import { ErrorName, PACKET_NAMES } from './protocol/constants.js';
import type { Packet } from './protocol/parser.js';

export class Gateway {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  readonly jobs: Jobs;
  private readonly discovery: Discovery;
  private readonly requester: Requester;
  private readonly legacy: LegacyBridge;
  private readonly store: JobStore;
  private statusSub?: Subscription;
  private deadLetterSub?: Subscription;
  private draining = false;

  constructor(private readonly nc: NatsConnection, private readonly config: DipsConfig, private readonly log: Logger, registry?: Registry) {
    const maxBytes = maxWaitingBytes(config);
    this.requester = new Requester(nc, { maxPendingBytes: maxBytes, limitName: 'queue.maxWaitingBytes' });
    this.discovery = new Discovery(nc);
    const port = config.gateway.port;
    this.store = JobStore.open(config.gateway.dataDir || path.join(projectRoot, 'run', `gateway-${port || process.pid}`));
    const native = new NativeFunctions(this.discovery, this.store);
    this.legacy = new LegacyBridge(nc, version, log, {
      defaultDeadlineMs: config.worker.defaultDeadlineMs, maxWaitingBytes: maxBytes, legacyFunctions: config.gateway.legacyFunctions,
      maxAbilities: config.gateway.maxAbilities, idempotentFunctions: config.gateway.idempotentFunctions, wire: workerWire,
      nativelyServed: (fns) => native.of(fns),
    });
    this.jobs = new Jobs(this.requester, {
      isIdempotent: (fn) => this.discovery.isIdempotent(fn),
      metrics: registry
        ? gatewayMetrics(registry, { connections: () => this.connections.size, jobs: () => this.jobs.size, waiting: () => this.requester.waiting(), all: () => this.jobs.all(), deadLetters: () => this.jobs.deadCount() })
        : undefined,
      timeoutMs: config.nats.requestTimeoutMs,
      backgroundMaxAgeMs: config.queue.backgroundMaxAgeMs,
      backgroundAttempts: config.gateway.backgroundAttempts,
      backgroundRunTimeoutMs: config.queue.backgroundRunTimeoutMs,
      retries: config.gateway.retries,
      maxBytes,
      handleHost: config.gateway.handleHost || os.hostname(),
      handleBase: handleBase(port),
      store: this.store,
      log,
    });
    const restored = this.jobs.restore();
    if (restored) log.info({ jobs: restored }, 'background jobs restored from the store; they run again');
    // Never accept a packet NATS could not carry.
    const maxPacketBytes = Math.min(config.gateway.maxPacketBytes, effectiveMaxPayload(nc, config));
    const unread = new UnreadBudget(config.gateway.maxUnreadBytes, (holder, bytes, total) => {
      const conn = holder as Connection;
      log.warn({ conn: conn.id, remote: conn.remote, clientId: conn.clientId, unreadBytes: bytes, totalUnreadBytes: total, limit: config.gateway.maxUnreadBytes }, 'closing the connection holding the most unread answers: clients hold more than gateway.maxUnreadBytes');
    });
    const limits = { maxPacketBytes, idleTimeoutMs: config.gateway.idleTimeoutMs, highWaterBytes: 4 * maxPacketBytes, maxConnectionBytes: config.gateway.maxConnectionBytes, unread };
    const clientContext = { jobs: this.jobs, draining: () => this.draining };
    const table = packetTable(clientContext, this.legacy);
    const handlers = {
      packet: (conn: Connection, packet: Packet) => {
        const handler = table.get(packet.type);
        if (handler) return handler(conn, packet);
        const name = PACKET_NAMES[packet.type];
        conn.sendError(ErrorName.invalidCommand, name ? `Command not expected: ${name}` : `Invalid command ${packet.type}`);
      },
      text: (conn: Connection, line: string) =>
        runAdminCommand(line, {
          jobs: this.jobs,
          discovery: this.discovery,
          logLevel: config.log.level,
          connections: () => [...this.connections].map((c) => `${c.fd} ${c.remote} ${c.clientId} :${this.legacy.abilities(c).map((fn) => ` ${adminField(fn)}`).join('')}`),
          gatewayId: this.legacy.id,
          mayChangeState: mayChangeState(conn.remote, config.gateway.remoteAdmin),
        }),
      closed: (conn: Connection) => {
        this.connections.delete(conn);
        this.jobs.detach(listenerOf(conn));
        void this.legacy.disconnected(conn);
      },
    };
    this.server = net.createServer((socket) => {
      const conn = new Connection(socket, handlers, limits, log);
      this.connections.add(conn);
    });
    this.server.maxConnections = config.gateway.maxConnections;
  }

  async listen(port = this.config.gateway.port, host = this.config.gateway.host): Promise<number> {
    // before the first job: spans of jobs taken while the SDK loads would be lost
    await startTracing(this.config, 'gateway', this.log);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.capSegmentSize();
        this.answerStatus();
        this.deadLetterSub = answerDeadLetters(this.nc, this.jobs, this.log, () => ({ id: this.legacy.id, host: os.hostname(), port: this.port() }));
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Answer the dashboard's status requests (GATEWAY_STATUS_SUBJECT): connections, jobs, what waits. */
  private answerStatus(): void {
    const startedAt = Date.now();
    this.statusSub = this.nc.subscribe(GATEWAY_STATUS_SUBJECT, {
      callback: (err, msg) => {
        if (err || !repliesToInbox(msg, this.log)) return;
        const status: GatewayStatus = {
          kind: 'gearman',
          id: this.legacy.id,
          host: os.hostname(),
          pid: process.pid,
          port: this.port(),
          connections: this.connections.size,
          jobs: this.jobs.size,
          stored: this.store.jobCount(),
          deadLetters: this.jobs.deadCount(),
          waiting: Object.fromEntries(this.requester.waiting()),
          uptimeSec: Math.round((Date.now() - startedAt) / 1000),
        };
        msg.respond(JSON.stringify(status));
      },
    });
  }

  /** The port it listens on (0 before it does). */
  private port(): number {
    return (this.server.address() as net.AddressInfo | null)?.port ?? 0;
  }

  private capSegmentSize(): void {
    const bytes = this.config.gateway.maxSegmentBytes;
    if (!bytes) return;
    const result = capSegmentSize(this.server, bytes);
    if (result instanceof Error) this.log.warn({ err: result, bytes }, 'cannot cap the TCP segment size; large jobs from libgearman clients on loopback will be slow');
    else this.log.debug({ mss: result }, 'TCP segment size capped');
  }

  /** Ready while it accepts connections (NATS is checked by the caller). */
  readiness(): true | string {
    return this.server.listening ? true : 'not listening';
  }

  /** SIGTERM: stop accepting, let foreground jobs finish (bounded), then close; background jobs keep their place on disk. */
  async close(graceMs = 30_000): Promise<void> {
    this.draining = true;
    this.server.close();
    this.statusSub?.unsubscribe();
    this.deadLetterSub?.unsubscribe();
    const deadline = Date.now() + graceMs;
    while ([...this.jobs.all()].some((j) => j.listeners.length > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const conn of this.connections) conn.destroy('gateway stopping');
    const attemptsSaved = this.jobs.stop();
    await this.legacy.close();
    this.requester.close('gateway stopping');
    if (!this.nc.isClosed()) await this.nc.drain();
    // background jobs stay on disk and run again when a gateway starts on this data directory
    await attemptsSaved;
    await this.store.close();
    await flushTracing();
  }
}
