/**
 * The identities of the secure NATS variant (config/nats-auth.conf): which
 * user each role connects as, where its password comes from, and its private
 * inbox prefix. The launcher and the tests make passwords per run; authConf()
 * writes the users and permissions, for more callers than the one of the
 * default file too.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { projectRoot } from '../shared/config.js';
import type { LocalClusterOptions } from './local.js';
import { writePrivateFile } from '../shared/private-file.js';

export const AUTH_CONF = path.join(projectRoot, 'config', 'nats-auth.conf');

/**
 * A user's private inbox prefix: its replies arrive on `<prefix>.<nuid>`, and
 * only that user may subscribe under it (authConf), so no identity reads
 * another's replies. It stays under `_INBOX.` because workers answer only
 * there (isInboxSubject in src/mesh/subjects.ts); src/mesh/nats.ts derives
 * the same prefix from nats.user, so a process needs no setting for it.
 */
export function inboxOf(user: string): string {
  return `_INBOX.${user}`;
}

export interface IdentitySpec {
  user: string;
  /** The environment variable nats-server reads the password from. */
  passEnv: string;
  inbox: string;
}

const makeIdentity = (user: string, passEnv: string): IdentitySpec => ({ user, passEnv, inbox: inboxOf(user) });

export const IDENTITIES = {
  worker: makeIdentity('dips-worker', 'DIPS_NATS_WORKER_PASS'),
  caller: makeIdentity('dips-caller', 'DIPS_NATS_CALLER_PASS'),
  gateway: makeIdentity('dips-gateway', 'DIPS_NATS_GATEWAY_PASS'),
  agent: makeIdentity('dips-agent', 'DIPS_NATS_AGENT_PASS'),
  admin: makeIdentity('dips-admin', 'DIPS_NATS_ADMIN_PASS'),
} as const;
export type Identity = keyof typeof IDENTITIES;

/** Names of extra callers: one NATS subject token, so the inbox prefix is exactly `_INBOX.dips-caller-<name>`. */
const CALLER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * A caller of its own (a web server, a service), beside the shared
 * `dips-caller`: user `dips-caller-<name>`, password from
 * `DIPS_NATS_CALLER_<NAME>_PASS`, inbox `_INBOX.dips-caller-<name>`. Give each
 * machine or service one, so none can read another's replies.
 */
export function callerIdentity(name: string): IdentitySpec {
  if (!CALLER_NAME.test(name)) throw new Error(`caller name ${JSON.stringify(name)}: use lowercase letters, digits and '-' (it becomes a NATS subject token)`);
  return makeIdentity(`dips-caller-${name}`, `DIPS_NATS_CALLER_${name.toUpperCase().replace(/-/g, '_')}_PASS`);
}

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
export function makePasswords(callers: string[] = []): Record<string, string> {
  const all = [...Object.values(IDENTITIES), ...callers.map(callerIdentity), ROUTE];
  return Object.fromEntries(all.map((id) => [id.passEnv, `p${randomBytes(18).toString('hex')}`]));
}

const list = (subjects: string[]) => `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;

/** One user of the authorization block; passwords are `$ENV` references, never written into the file. */
function userBlock(id: IdentitySpec, comment: string, publish: string, subscribe: string[], responses?: string): string {
  return [
    `    # ${comment}`,
    `    { user: ${id.user}, password: $${id.passEnv},`,
    '      permissions: {',
    `        publish: ${publish}`,
    `        subscribe: { allow: ${list(subscribe)} }`,
    ...(responses ? [`        allow_responses: ${responses}`] : []),
    '      } }',
  ].join('\n');
}

/**
 * The authorization block of the secure variant: the five roles and one user
 * per extra caller (callerIdentity). nats-server's plain users have no
 * templates, so each requesting identity's inbox is written out: it may
 * subscribe to `_INBOX.<its user>.>` and nowhere else under `_INBOX`.
 * Workers, gateways and agents answer with allow_responses: they may publish
 * to a reply subject only after a request named it, which is how a worker
 * reaches every caller's inbox without being able to write into one unasked.
 * config/nats-auth.conf is authConf() (test/security.test.ts checks).
 */
export function authConf(callers: string[] = []): string {
  const { worker, caller, gateway, agent, admin } = IDENTITIES;
  const callerBlock = (id: IdentitySpec, who: string) =>
    userBlock(id, `${who}: request dips.fn.>, hear room announcements, read its own inbox only`, `{ allow: ${list(['dips.fn.>'])} }`, [`${id.inbox}.>`, 'dips.room.*']);
  return [
    '# DIPS identities and what each may do. Included by nats-secure-{a,b}.conf (and',
    '# the security tests); made by authConf() in src/control/secure.ts. Passwords come',
    '# from the environment of nats-server (DIPS_NATS_*_PASS), never from this file.',
    '# Each identity that makes requests has a private inbox prefix, _INBOX.<user>,',
    '# and may read only that, so nobody can read another\'s replies.',
    'authorization {',
    '  users: [',
    userBlock(worker, 'workers: take dips.fn.> requests (queue groups, and direct ones after they announced\n    # room on dips.room.*) and answer them (and service discovery), nothing else',
      `{ allow: ${list(['dips.room.*'])} }`, ['dips.fn.>', '$SRV.>'], '{ max: 1000000, expires: "15m" }'),
    callerBlock(caller, 'callers (web servers, services)'),
    ...callers.map((name) => callerBlock(callerIdentity(name), `caller ${name}`)),
    userBlock(gateway, 'gateways: callers for Gearman clients, and workers for the Gearman workers they bridge;\n    # they answer the dashboard\'s status requests on dips.status.gateways and the operator\'s on dips.admin.>',
      `{ allow: ${list(['dips.fn.>', 'dips.room.*', '$SRV.INFO.dips', '$SRV.STATS.dips'])} }`,
      [`${gateway.inbox}.>`, 'dips.fn.>', 'dips.room.*', '$SRV.>', 'dips.status.gateways', 'dips.admin.>'], '{ max: 1000000, expires: "15m" }'),
    userBlock(agent, 'node agents: hear control broadcasts and answer them; fetch a release\'s archive from its holders and\n    # serve it on (dips.deploy.>: signed and hashed content, no authority: only dips.control.deploy deploys)',
      `{ allow: ${list(['dips.deploy.>'])} }`, ['dips.control.*', 'dips.deploy.>', `${agent.inbox}.>`], 'true'),
    userBlock(admin, 'operators (dipsctl, the dashboard): the only identity that may publish dips.control.* (deploys included) and dips.admin.> (dead letters);\n    # dipsctl deploy serves the archive\'s chunks while the agents fetch it',
      `{ allow: ${list(['dips.control.*', 'dips.admin.>', 'dips.status.*', '$SRV.>', 'dips.fn.>', 'dips.deploy.release'])} }`, [`${admin.inbox}.>`, 'dips.room.*', 'dips.deploy.chunk.*'], 'true'),
    '  ]',
    '}',
    '',
  ].join('\n');
}

/** authConf(callers) written to `file` (readable by its owner only: it names the users, though not their passwords). */
export function writeAuthConf(file: string, callers: string[] = []): string {
  writePrivateFile(file, authConf(callers));
  return file;
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

/** The DIPS_* environment a process of `identity` connects with (a role, or a callerIdentity()). */
export function identityEnv(identity: Identity | IdentitySpec, passwords: Record<string, string>): Record<string, string> {
  const id = typeof identity === 'string' ? IDENTITIES[identity] : identity;
  const env: Record<string, string> = { DIPS_NATS_USER: id.user, DIPS_NATS_PASS: passwords[id.passEnv], DIPS_NATS_INBOX_PREFIX: id.inbox };
  if (identity === 'agent') {
    env.DIPS_AGENT_WORKER_USER = IDENTITIES.worker.user;
    env.DIPS_AGENT_WORKER_PASS = passwords[IDENTITIES.worker.passEnv];
  }
  return env;
}
