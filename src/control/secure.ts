/**
 * The identities of the secure NATS variant (config/nats-auth.conf): which
 * user each role connects as, where its password comes from, and its private
 * inbox prefix. The launcher and the tests make passwords per run.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { projectRoot } from '../shared/config.js';
import type { LocalClusterOptions } from './local.js';

export const AUTH_CONF = path.join(projectRoot, 'config', 'nats-auth.conf');

export const IDENTITIES = {
  worker: { user: 'dips-worker', passEnv: 'DIPS_NATS_WORKER_PASS', inbox: '_INBOX' },
  caller: { user: 'dips-caller', passEnv: 'DIPS_NATS_CALLER_PASS', inbox: '_INBOX_caller' },
  gateway: { user: 'dips-gateway', passEnv: 'DIPS_NATS_GATEWAY_PASS', inbox: '_INBOX_gateway' },
  agent: { user: 'dips-agent', passEnv: 'DIPS_NATS_AGENT_PASS', inbox: '_INBOX' },
  admin: { user: 'dips-admin', passEnv: 'DIPS_NATS_ADMIN_PASS', inbox: '_INBOX_admin' },
} as const;
export type Identity = keyof typeof IDENTITIES;

/**
 * The cluster route's user (config/nats-route-auth.conf). A route is trusted
 * with every subject once it is up, so only a nats-server that knows this
 * password may join: a stranger's server on the route port is refused before
 * it sees or sends a message.
 */
export const ROUTE = { user: 'dips-route', passEnv: 'DIPS_NATS_ROUTE_PASS' } as const;

/**
 * Random passwords for every identity. nats-server parses an environment
 * variable it substitutes as a config value, so one starting with '-' (or
 * shaped like a number) fails to parse and the server will not start: these
 * are letters and digits, starting with a letter.
 */
export function makePasswords(): Record<string, string> {
  return Object.fromEntries([...Object.values(IDENTITIES), ROUTE].map((id) => [id.passEnv, `p${randomBytes(18).toString('hex')}`]));
}

/**
 * A route URL that carries the route credentials: nats-server 2.9 presents
 * only what a route's URL names (not its own cluster authorization), so every
 * node's routes to the others must spell them out.
 */
export function routeUrl(host: string, port: number, passwords: Record<string, string>): string {
  return `nats-route://${ROUTE.user}:${encodeURIComponent(passwords[ROUTE.passEnv])}@${host}:${port}`;
}

/** startLocalCluster's options for the secure variant: identities, their passwords, an authenticated route. */
export function secureClusterOptions(passwords: Record<string, string>, includes: string[] = [AUTH_CONF]): LocalClusterOptions {
  return { includes, env: passwords, routeAuth: { user: ROUTE.user, pass: passwords[ROUTE.passEnv] } };
}

/** The DIPS_* environment a process of `identity` connects with. */
export function identityEnv(identity: Identity, passwords: Record<string, string>): Record<string, string> {
  const id = IDENTITIES[identity];
  const env: Record<string, string> = { DIPS_NATS_USER: id.user, DIPS_NATS_PASS: passwords[id.passEnv], DIPS_NATS_INBOX_PREFIX: id.inbox };
  if (identity === 'agent') {
    env.DIPS_AGENT_WORKER_USER = IDENTITIES.worker.user;
    env.DIPS_AGENT_WORKER_PASS = passwords[IDENTITIES.worker.passEnv];
  }
  return env;
}
