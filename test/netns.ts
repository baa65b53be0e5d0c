/**
 * Machines for fault tests, on one real machine: each test host is a network
 * namespace with its own address, joined to the root namespace (itself a
 * host, the "local" machine) by a veth pair on a bridge; two hosts may also
 * share a direct link (a NATS cluster route of its own). Setting a host's
 * link down makes that machine vanish as a power cut or a pulled cable does:
 * no reset, no FIN, its peers only hear silence.
 *
 * Addresses are 10.231.0.0/24 (the bridge is .1) and 10.231.<n>.0/30 for direct
 * links: assigned here, reached only by the test's own processes.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const run = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Why this machine cannot make test hosts (undefined: it can). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (ip netns needs it)';
  const probe = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (probe.status !== 0) return `ip netns does not work here (${(probe.stderr || probe.error?.message || '').trim()}); apt-get install iproute2`;
  return undefined;
}

export interface TestHost {
  name: string;
  /** Its address on the bridge. */
  address: string;
  /** Runs a command on it: `ip netns exec <ns>`. */
  prefix: string[];
  /** Pull every cable it has / plug them back in. */
  down(): void;
  up(): void;
}

export interface DirectLink {
  /** Addresses of the two ends, in the order the hosts were given. */
  addresses: [string, string];
  /** Cut this cable alone / mend it. */
  down(): void;
  up(): void;
}

/** One end of a cable: a device, in a namespace or (undefined) the root one. */
type Cable = { ns?: string; dev: string };
const setLink = (c: Cable, state: 'up' | 'down') => run(...(c.ns ? ['-n', c.ns] : []), 'link', 'set', c.dev, state);

export class TestNet {
  /** The root namespace's address on the bridge: the test's own machine. */
  readonly localAddress = '10.231.0.1';
  private readonly id = `dn${process.pid % 100000}`;
  private readonly bridge = `${this.id}br`;
  private readonly cables = new Map<string, Cable[]>();
  private links = 0;

  constructor() {
    this.cleanup(); // what a killed earlier run of this pid left
    run('link', 'add', this.bridge, 'type', 'bridge');
    run('addr', 'add', `${this.localAddress}/24`, 'dev', this.bridge);
    run('link', 'set', this.bridge, 'up');
  }

  host(name: string): TestHost {
    const n = this.cables.size + 1;
    const ns = `${this.id}-${name}`;
    const outer = `${this.id}h${n}`;
    const address = `10.231.0.${n + 1}`;
    run('netns', 'add', ns);
    run('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    run('link', 'set', outer, 'master', this.bridge);
    run('link', 'set', outer, 'up');
    run('-n', ns, 'link', 'set', 'lo', 'up');
    run('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    run('-n', ns, 'link', 'set', 'eth0', 'up');
    const cables: Cable[] = [{ dev: outer }];
    this.cables.set(ns, cables);
    return {
      name,
      address,
      prefix: ['ip', 'netns', 'exec', ns],
      down: () => cables.forEach((c) => setLink(c, 'down')),
      up: () => cables.forEach((c) => setLink(c, 'up')),
    };
  }

  /** A cable of its own between two hosts (e.g. their NATS route); a host's down() cuts it too. */
  link(a: TestHost, b: TestHost): DirectLink {
    const k = ++this.links;
    const ends = [a, b].map((h, i) => ({ ns: h.prefix[3], dev: `l${k}${'ab'[i]}`, tmp: `${this.id}${'xy'[i]}${k}`, address: `10.231.${k}.${i + 1}` }));
    run('link', 'add', ends[0].tmp, 'type', 'veth', 'peer', 'name', ends[1].tmp);
    for (const e of ends) {
      run('link', 'set', e.tmp, 'netns', e.ns, 'name', e.dev);
      run('-n', e.ns, 'addr', 'add', `${e.address}/30`, 'dev', e.dev);
      run('-n', e.ns, 'link', 'set', e.dev, 'up');
      this.cables.get(e.ns)!.push({ ns: e.ns, dev: e.dev });
    }
    const cut: Cable = { ns: ends[0].ns, dev: ends[0].dev };
    return { addresses: [ends[0].address, ends[1].address], down: () => setLink(cut, 'down'), up: () => setLink(cut, 'up') };
  }

  /** Remove every namespace and the bridge (the links inside a namespace go with it). */
  cleanup(): void {
    const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
    for (const line of listed.split('\n')) {
      const ns = line.split(' ')[0];
      if (ns.startsWith(`${this.id}-`)) spawnSync('ip', ['netns', 'del', ns]);
    }
    spawnSync('ip', ['link', 'del', this.bridge], { stdio: 'ignore' });
  }
}
