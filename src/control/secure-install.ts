#!/usr/bin/env node
/**
 * `node dist/src/control/secure-install.js --nodes a=HOST,b=HOST`: everything a
 * systemd install needs for a secure mesh, in one folder (/etc/dips): a CA and
 * a certificate per NATS node (TLS for clients and for the route, the route
 * with verify, so each node proves itself to the other), the node configs with
 * users and permissions and an authenticated route, a password per identity,
 * and one environment file per role for the units. Passwords live only in the
 * environment files (root-only, read by systemd before it drops to the dips
 * user), never in a file nats-server or DIPS reads itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { runMain, version } from '../shared/process.js';
import { COMMON_CONF } from './nats-node.js';
import { IDENTITIES, ROUTE, authConf, callerIdentity, identityEnv, makePasswords, routeUrl, type Identity } from './secure.js';
import { writePrivateFile } from '../shared/private-file.js';
import { generateKeys } from './release/keys.js';

export interface InstallNode {
  /** `a` or `b`: dips-nats@a / dips-nats@b. */
  name: string;
  /** Address the other machines reach it at (a DNS name or an IP): the certificate names it. */
  host: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
}

export interface InstallOptions {
  /** Folder the files are written to, and where they will be read from (absolute: nats-server reads certificate paths as written). */
  dir: string;
  nodes: InstallNode[];
  /** Callers of their own (dips-caller-<name>), beside dips-caller. */
  callers?: string[];
  /** Address the client and route ports listen on. */
  listen?: string;
  /** Days the certificates are valid. */
  days?: number;
  /** Replace files that exist (a new CA and new passwords: every machine needs the new folder). */
  force?: boolean;
}

/** Roles whose environment files the units read (systemd/*.service: EnvironmentFile=-/etc/dips/<role>.env). */
const ROLE_FILES: Array<[string, Identity]> = [['agent', 'agent'], ['gateway', 'gateway'], ['admin', 'admin'], ['caller', 'caller']];

/**
 * Parse `a=host[:client:cluster:http]` node specs. Ports default to 4222,
 * 6222, 8222 (each node on its own machine); giving them lets both nodes share
 * one machine (the test does).
 */
export function parseNodes(spec: string): InstallNode[] {
  const nodes = spec.split(',').map((part) => {
    const m = /^([a-z0-9-]+)=([^:\s]+)(?::(\d+):(\d+):(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`--nodes: ${JSON.stringify(part)} is not name=host or name=host:clientPort:clusterPort:httpPort`);
    return { name: m[1], host: m[2], clientPort: Number(m[3] ?? 4222), clusterPort: Number(m[4] ?? 6222), httpPort: Number(m[5] ?? 8222) };
  });
  if (nodes.length < 2) throw new Error('--nodes: name both NATS nodes (a=HOST,b=HOST)');
  return nodes;
}

const isIp = (host: string) => /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':');

/** The dips group's id, so nats-server (User=dips) can read its key; undefined when there is no such group (a test, a build machine). */
function dipsGid(): number | undefined {
  const out = spawnSync('getent', ['group', 'dips'], { encoding: 'utf8' });
  const gid = Number(out.stdout?.split(':')[2]);
  return out.status === 0 && Number.isInteger(gid) ? gid : undefined;
}

/** A file the dips user's services read themselves (configs, certificates, a node's key): root:dips 0640 when that group exists. */
function writeForService(file: string, text: string, gid: number | undefined): void {
  writeFileSync(file, text);
  chmodSync(file, 0o640); // also when the file was there already (writeFileSync's mode only applies to a new file)
  if (gid !== undefined && process.getuid?.() === 0) chownSync(file, 0, gid);
}

/** A file only root reads (systemd reads EnvironmentFile= before dropping privileges; the CA key). */
function writeSecret(file: string, text: string): void {
  writePrivateFile(file, text);
}

const envText = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';

/** A node's configuration: TLS for clients and the route (verify: nodes prove themselves to each other), route user, identities. */
function nodeConf(node: InstallNode, dir: string, listen: string): string {
  const file = (name: string) => JSON.stringify(path.join(dir, name));
  const tls = `cert_file: ${file(`nats-${node.name}.pem`)}, key_file: ${file(`nats-${node.name}-key.pem`)}, ca_file: ${file('ca.pem')}, timeout: 2`;
  return [
    `# DIPS NATS node ${node.name}, made by secure-install: clients need TLS (ca.pem) and a user,`,
    '# the route needs the route user and a certificate from ca.pem. Passwords come from',
    `# nats-${node.name}.env (systemd: EnvironmentFile), the route URL with them too.`,
    `server_name: dips-${node.name}`,
    '',
    '# from config/nats-common.conf, copied so this folder works on its own',
    readFileSync(COMMON_CONF, 'utf8').trim(),
    '',
    `host: ${listen}`,
    `port: ${node.clientPort}`,
    '# monitoring stays on the machine (the dashboard reads it through a tunnel or a local proxy)',
    `http: 127.0.0.1:${node.httpPort}`,
    `tls { ${tls} }`,
    '',
    'cluster {',
    '  name: dips',
    `  host: ${listen}`,
    `  port: ${node.clusterPort}`,
    `  authorization { user: ${ROUTE.user}, password: $${ROUTE.passEnv}, timeout: 2 }`,
    `  tls { ${tls}, verify: true }`,
    '  routes: [ $DIPS_NATS_ROUTE_URL ]',
    '}',
    'include ./nats-auth.conf',
    '',
  ].join('\n');
}

/** Make a CA and one certificate per node with openssl (EC P-256; the certificate names the node's host). */
function makeCertificates(dir: string, nodes: InstallNode[], days: number, gid: number | undefined): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-days', String(days), '-subj', '/CN=DIPS NATS CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  for (const node of nodes) {
    const base = `nats-${node.name}`;
    ssl('req', ...ec, '-subj', `/CN=${node.host}`, '-keyout', `${base}-key.pem`, '-out', `${base}.csr`);
    // both uses: the node serves clients and routes, and presents the same certificate when it dials the other node
    // nats.js dials an IP address without a TLS server name, and Node then checks the certificate for
    // "localhost": a node named by IP carries that name too (only this CA's two certificates can present it)
    const names = isIp(node.host) ? `IP:${node.host},DNS:localhost` : `DNS:${node.host}`;
    const ext = [`subjectAltName=${names}`, 'extendedKeyUsage=serverAuth,clientAuth'].join('\n') + '\n';
    writeFileSync(path.join(dir, `${base}.ext`), ext);
    ssl('x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', String(days), '-extfile', `${base}.ext`, '-out', `${base}.pem`);
    writeForService(path.join(dir, `${base}-key.pem`), readFileSync(path.join(dir, `${base}-key.pem`), 'utf8'), gid);
    writeForService(path.join(dir, `${base}.pem`), readFileSync(path.join(dir, `${base}.pem`), 'utf8'), gid);
    for (const leftover of [`${base}.csr`, `${base}.ext`]) rmSync(path.join(dir, leftover), { force: true });
  }
  writeForService(path.join(dir, 'ca.pem'), readFileSync(path.join(dir, 'ca.pem'), 'utf8'), gid);
  writeSecret(path.join(dir, 'ca-key.pem'), readFileSync(path.join(dir, 'ca-key.pem'), 'utf8'));
  rmSync(path.join(dir, 'ca.srl'), { force: true });
}

/** Write the whole folder; returns the files written. */
export function writeInstall(options: InstallOptions): string[] {
  const { dir, nodes, callers = [], listen = '0.0.0.0', days = 825 } = options;
  if (!path.isAbsolute(dir)) throw new Error(`--dir must be absolute (nats-server reads certificate paths as written): ${dir}`);
  callers.forEach(callerIdentity); // names checked before anything is written
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (!options.force && existsSync(path.join(dir, 'ca.pem'))) throw new Error(`${dir} already holds a secure install (ca.pem); --force replaces it (then copy it to every machine again)`);
  const gid = dipsGid();
  const passwords = makePasswords(callers);
  makeCertificates(dir, nodes, days, gid);
  writeForService(path.join(dir, 'nats-auth.conf'), authConf(callers), gid);
  for (const node of nodes) {
    writeForService(path.join(dir, `nats-${node.name}.conf`), nodeConf(node, dir, listen), gid);
    // every other node's route URL, with the route credentials (nats-server 2.9 presents only what the URL names)
    const routes = nodes.filter((n) => n !== node).map((n) => routeUrl(n.host, n.clusterPort, passwords));
    if (routes.length !== 1) throw new Error('secure-install writes one route per node: give exactly two nodes');
    writeSecret(path.join(dir, `nats-${node.name}.env`), envText({ ...passwords, DIPS_NATS_ROUTE_URL: routes[0] }));
  }
  // the DIPS processes: TLS URLs of both nodes (same order everywhere: nats.preferFirst), the CA, the role's user
  const client = { DIPS_NATS_SERVERS: nodes.map((n) => `tls://${n.host}:${n.clientPort}`).join(','), DIPS_NATS_TLS_CA: path.join(dir, 'ca.pem') };
  // the deploy key pair: agents trust the public key, dipsctl (the admin's environment) signs with the private one
  for (const f of ['deploy.pem', 'deploy.pub.pem']) rmSync(path.join(dir, f), { force: true });
  const deploy = generateKeys(dir, 'deploy');
  const roleExtra: Partial<Record<Identity, Record<string, string>>> = {
    agent: { DIPS_DEPLOY_PUBLIC_KEYS: deploy.publicFile },
    admin: { DIPS_DEPLOY_SIGNING_KEY: deploy.privateFile },
  };
  for (const [file, role] of ROLE_FILES) writeSecret(path.join(dir, `${file}.env`), envText({ ...client, ...identityEnv(role, passwords), ...roleExtra[role] }));
  for (const name of callers) writeSecret(path.join(dir, `caller-${name}.env`), envText({ ...client, ...identityEnv(callerIdentity(name), passwords) }));
  return [
    'ca.pem', 'ca-key.pem', ...nodes.flatMap((n) => [`nats-${n.name}.pem`, `nats-${n.name}-key.pem`, `nats-${n.name}.conf`, `nats-${n.name}.env`]),
    'nats-auth.conf', ...ROLE_FILES.map(([f]) => `${f}.env`), ...callers.map((c) => `caller-${c}.env`), 'deploy.pem', 'deploy.pub.pem',
  ].map((f) => path.join(dir, f));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const program = new Command('dips-secure-install')
    .description('Make the credentials, certificates and NATS configs of a secure DIPS mesh (systemd install), in one folder to copy to every machine')
    .version(version)
    .requiredOption('--nodes <a=host,b=host>', 'the two NATS nodes and the address other machines reach each at (host[:clientPort:clusterPort:httpPort])')
    .option('--dir <dir>', 'folder to write (and the path the files are read from on every machine)', '/etc/dips')
    .option('--callers <names>', 'callers of their own beside dips-caller, comma-separated (dips-caller-<name>, caller-<name>.env)', '')
    .option('--listen <address>', 'address the client and route ports listen on', '0.0.0.0')
    .option('--days <n>', 'certificate validity in days', '825')
    .option('--force', 'replace an existing install (a new CA and new passwords)')
    .parse();
  runMain(async () => {
    const o = program.opts<{ nodes: string; dir: string; callers: string; listen: string; days: string; force?: boolean }>();
    const callers = o.callers ? o.callers.split(',').map((c) => c.trim()).filter(Boolean) : [];
    const files = writeInstall({ dir: path.resolve(o.dir), nodes: parseNodes(o.nodes), callers, listen: o.listen, days: Number(o.days), force: o.force });
    const say = (line: string) => process.stdout.write(`${line}\n`);
    say(`wrote ${files.length} files to ${path.resolve(o.dir)}:`);
    for (const f of files) say(`  ${f}`);
    say('Copy the folder to every machine (same path). ca-key.pem only signs more certificates, deploy.pem only signs releases (dipsctl deploy): keep both off the machines afterwards.');
    say(`Users: ${[...Object.values(IDENTITIES).map((i) => i.user), ...callers.map((c) => callerIdentity(c).user)].join(', ')}; the route user ${ROUTE.user}.`);
  });
}
