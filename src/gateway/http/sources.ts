/**
 * Where an image URL's source bytes come from, and the rules that keep a URL
 * from reading anything else: named local roots (no escape by "..", symlinks
 * or encoded slashes) and HTTP(S) origins by prefix, with a size cap, a time
 * limit, every redirect checked again, and loopback, private, link-local and
 * every other special-purpose address refused unless allowed (SSRF). The address check runs on the
 * address actually connected to (a DNS lookup hook), so a name that resolves
 * to 127.0.0.1 is refused as surely as the literal.
 */
import dns from 'node:dns';
import { readFile, realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { DipsError, ErrorCode } from '../../shared/errors.js';

export interface SourceRules {
  localRoots: Readonly<Record<string, string>>;
  origins: readonly string[];
  allowPrivateNetworks: boolean;
  allowedAddresses: readonly string[];
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
}

/** A source whose identity is known before its bytes are read (ETag and 304 need no work). */
export interface ResolvedSource {
  identity: string;
  load(signal?: AbortSignal): Promise<Buffer>;
}

const forbidden = (message: string) => new DipsError(ErrorCode.forbidden, `source: ${message}`);
const notFound = (message: string) => new DipsError(ErrorCode.notFound, `source: ${message}`);
const tooLarge = (bytes: number | string, max: number) => new DipsError(ErrorCode.tooLarge, `source: ${bytes} bytes is over the ${max}-byte limit (http.sourceMaxBytes, nats.maxPayloadBytes)`);

/**
 * Special-purpose address ranges a source may not be fetched from unless allowed (IANA's
 * special-purpose registries, RFC 6890 and successors): none of them is an image origin on
 * the public Internet, and several reach this machine, its network or a cloud's metadata
 * service. Node's BlockList does the matching; the names go into the error.
 */
const SPECIAL_IPV4: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, '"this network"'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved (with the broadcast address 255.255.255.255)'],
];
const SPECIAL_IPV6: ReadonlyArray<readonly [string, number, string]> = [
  // ::/128 (unspecified), ::1/128 (loopback) and the deprecated IPv4-compatible ::a.b.c.d
  ['::', 96, 'unspecified, loopback or IPv4-compatible'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
  // the rest of NAT64's /32 (outside the well-known /96 and the local-use /48): no origin lives there
  ['64:ff9b::', 32, 'NAT64 prefix space'],
  ['100::', 64, 'discard-only'],
  // Teredo embeds its server's and (obfuscated) client's IPv4 addresses: no image origin uses it
  ['2001::', 32, 'Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];
/**
 * IPv6 ranges that carry an IPv4 address (which 16-bit groups hold it): such an address is
 * as special as the IPv4 address it leads to — NAT64 of 169.254.169.254 is the metadata service —
 * and as public when that one is public (an IPv6-only host reaches every IPv4 origin by NAT64).
 */
const EMBEDDING_IPV6: ReadonlyArray<readonly [string, number, string, number]> = [
  ['::ffff:0:0', 96, 'IPv4-mapped', 6],
  ['::ffff:0:0:0', 96, 'IPv4-translated (SIIT)', 6],
  ['64:ff9b::', 96, 'NAT64', 6],
  ['2002::', 16, '6to4', 1],
];

interface Range { list: net.BlockList; name: string }
const ranges = (table: ReadonlyArray<readonly [string, number, string, ...unknown[]]>, type: 'ipv4' | 'ipv6'): Range[] =>
  table.map(([address, prefix, what]) => {
    const list = new net.BlockList();
    list.addSubnet(address, prefix, type);
    return { list, name: `${what} (${address}/${prefix})` };
  });
const V4 = ranges(SPECIAL_IPV4, 'ipv4');
const V6 = ranges(SPECIAL_IPV6, 'ipv6');
const EMBEDDING = ranges(EMBEDDING_IPV6, 'ipv6').map((range, i) => ({ ...range, group: EMBEDDING_IPV6[i][3] }));

/**
 * Why a source may not be fetched from this address ("link-local (169.254.0.0/16)"), or
 * undefined when it is an ordinary public address. Anything that is not an IP address is refused.
 */
export function specialAddress(address: string): string | undefined {
  const ip = address.replace(/%.*$/, ''); // a zone (fe80::1%eth0) does not change the range
  if (net.isIPv4(ip)) return V4.find((r) => r.list.check(ip, 'ipv4'))?.name;
  if (!net.isIPv6(ip)) return 'not an IP address';
  const embedding = EMBEDDING.find((r) => r.list.check(ip, 'ipv6'));
  if (embedding) {
    const v4 = embeddedIPv4(ip, embedding.group);
    const inner = specialAddress(v4);
    return inner && `${embedding.name} of ${v4}, ${inner}`;
  }
  return V6.find((r) => r.list.check(ip, 'ipv6'))?.name;
}

/** The IPv4 address in 16-bit groups `group` and `group + 1` of an IPv6 address. */
function embeddedIPv4(ipv6: string, group: number): string {
  const groups = ipv6Groups(ipv6);
  const [high, low] = [groups[group], groups[group + 1]];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit groups of a valid IPv6 address ("::" expanded, a dotted IPv4 tail converted). */
function ipv6Groups(ipv6: string): number[] {
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ipv6);
  const text = dotted ? `${dotted[1]}${((+dotted[2] << 8) | +dotted[3]).toString(16)}:${((+dotted[4] << 8) | +dotted[5]).toString(16)}` : ipv6;
  const [head, tail] = text.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** Does `url` lie under the origin prefix `origin`, on whole path segments ("/pub" covers /pub and /pub/…, not /pub-private)? */
function underOrigin(url: URL, origin: URL): boolean {
  if (origin.protocol !== url.protocol || origin.host !== url.host) return false;
  const prefix = origin.pathname;
  if (prefix === '/') return true;
  const inside = url.pathname === prefix || url.pathname.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
  // an origin server may decode %2F or %5C into a separator and step out of the prefix ("/pub/..%2Fprivate")
  return inside && !/%2f|%5c/i.test(url.pathname);
}

export class Sources {
  private readonly origins: URL[];
  /** The configured roots in a Map: a name such as "__proto__" or "constructor" is just a name not in it. */
  private readonly roots: ReadonlyMap<string, string>;
  /** Each root's real path, resolved once (not on every request). */
  private readonly realRoots = new Map<string, Promise<string>>();

  constructor(private readonly rules: SourceRules) {
    this.origins = rules.origins.map((o) => new URL(o));
    this.roots = new Map(Object.entries(rules.localRoots));
  }

  /** Resolve a source spec from a URL (still percent-encoded): local:root/path, http(s)://…, b64:… */
  async resolve(spec: string): Promise<ResolvedSource> {
    if (spec.startsWith('local:')) return this.local(spec.slice('local:'.length));
    if (spec.startsWith('b64:')) return this.remote(Buffer.from(spec.slice(4), 'base64url').toString('utf8'));
    // proxies merge the slashes of "https://" in a path (nginx merge_slashes): take https:/host as https://host
    return this.remote(spec.replace(/^(https?):\/(?!\/)/, '$1://'));
  }

  private async local(encoded: string): Promise<ResolvedSource> {
    if (/%2f|%5c|%00/i.test(encoded)) throw forbidden('encoded slashes, backslashes and NUL are not allowed in local paths');
    let decoded: string;
    try {
      decoded = decodeURIComponent(encoded);
    } catch {
      throw forbidden('the local path is not valid percent-encoding');
    }
    const [rootName, ...parts] = decoded.split('/');
    const root = this.roots.get(rootName);
    if (root === undefined) throw forbidden(`no local root ${JSON.stringify(rootName)} (http.localRoots has ${[...this.roots.keys()].join(', ') || 'none'})`);
    if (parts.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\'))) throw forbidden('local paths may not contain empty, "." or ".." segments or backslashes');
    let rootRealPath = this.realRoots.get(rootName);
    if (!rootRealPath) {
      rootRealPath = realpath(root);
      this.realRoots.set(rootName, rootRealPath);
      rootRealPath.catch(() => this.realRoots.delete(rootName)); // a root that appears later is found then
    }
    const rootReal = await rootRealPath;
    let file: string;
    try {
      file = await realpath(path.join(rootReal, ...parts));
    } catch {
      throw notFound(`local:${decoded} does not exist`);
    }
    // a symlink may point anywhere: what counts is where the path really leads
    if (!file.startsWith(rootReal + path.sep)) throw forbidden(`local:${decoded} leads outside its root`);
    const info = await stat(file);
    if (!info.isFile()) throw notFound(`local:${decoded} is not a file`);
    if (info.size > this.rules.maxBytes) throw tooLarge(info.size, this.rules.maxBytes);
    return {
      identity: `local:${rootName}:${file}:${info.size}:${info.mtimeMs}:${info.ino}`,
      load: () => readCapped(file, this.rules.maxBytes),
    };
  }

  private remote(href: string): ResolvedSource {
    const url = this.allowedUrl(href);
    // remote originals are taken as immutable under their URL: the ETag needs no fetch
    return { identity: `url:${url.href}`, load: (signal) => this.fetch(url, signal) };
  }

  private allowedUrl(href: string): URL {
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      throw new DipsError(ErrorCode.badRequest, `source: ${JSON.stringify(href.slice(0, 200))} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw forbidden(`${url.protocol} URLs are not fetched`);
    if (url.username || url.password) throw forbidden('URLs with credentials are not fetched');
    if (!this.origins.some((o) => underOrigin(url, o))) throw forbidden(`${url.origin}${url.pathname} is not under an allowed origin (http.origins; a prefix matches whole path segments, and encoded slashes are refused under one)`);
    return url;
  }

  /** Why a source may not be fetched from this address under the rules, or undefined when it may. */
  private addressRefusal(address: string): string | undefined {
    if (this.rules.allowPrivateNetworks || this.rules.allowedAddresses.includes(address)) return undefined;
    return specialAddress(address);
  }

  /** dns.lookup, refusing addresses the rules forbid (for names; literals are checked before connecting). */
  private readonly lookup: net.LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as dns.LookupAddress[];
      const refused = list.map((a) => ({ address: a.address, why: this.addressRefusal(a.address) })).find((a) => a.why);
      if (refused) {
        const why = forbidden(`${hostname} resolves to ${refused.address}, ${refused.why}: not fetched (http.allowPrivateNetworks, http.allowedAddresses)`);
        return callback(Object.assign(new Error(why.message), { cause: why }), '', 4);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };

  private async fetch(first: URL, outer?: AbortSignal): Promise<Buffer> {
    const signal = outer ? AbortSignal.any([outer, AbortSignal.timeout(this.rules.timeoutMs)]) : AbortSignal.timeout(this.rules.timeoutMs);
    let url = first;
    for (let hop = 0; ; hop++) {
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const refusal = net.isIP(host) ? this.addressRefusal(host) : undefined;
      if (refusal) throw forbidden(`${host} is ${refusal}: not fetched (http.allowPrivateNetworks, http.allowedAddresses)`);
      const res = await this.get(url, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= this.rules.maxRedirects) throw new DipsError(ErrorCode.badGateway, `source: more than ${this.rules.maxRedirects} redirects (http.maxRedirects)`);
        url = this.allowedUrl(new URL(res.headers.location, url).href);
        continue;
      }
      if (status === 404 || status === 410) {
        res.resume();
        throw notFound(`${url.href} answered ${status}`);
      }
      if (status !== 200) {
        res.resume();
        throw new DipsError(ErrorCode.badGateway, `source: ${url.href} answered ${status}`);
      }
      const declared = Number(res.headers['content-length']);
      if (declared > this.rules.maxBytes) {
        res.destroy();
        throw tooLarge(declared, this.rules.maxBytes);
      }
      return readStreamCapped(res, this.rules.maxBytes);
    }
  }

  private get(url: URL, signal: AbortSignal): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).get(url, { lookup: this.lookup, signal, headers: { 'user-agent': 'dips-http', accept: 'image/*' } }, resolve);
      request.on('error', (err) => {
        if (err instanceof DipsError) reject(err);
        else if ((err as { cause?: unknown }).cause instanceof DipsError) reject((err as { cause: DipsError }).cause);
        else if (signal.aborted) reject(new DipsError(ErrorCode.timeout, `source: ${url.href} took longer than ${this.rules.timeoutMs} ms (http.sourceTimeoutMs)`));
        else reject(new DipsError(ErrorCode.badGateway, `source: ${url.href}: ${err.message}`));
      });
    });
  }
}

/** The file, unless it grew past the cap since it was looked at. */
async function readCapped(file: string, max: number): Promise<Buffer> {
  const data = await readFile(file);
  if (data.length > max) throw tooLarge(data.length, max);
  return data;
}

function readStreamCapped(stream: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        stream.destroy();
        reject(tooLarge(`more than ${max}`, max));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', (err) => reject(new DipsError(ErrorCode.badGateway, `source: ${err.message}`)));
  });
}
