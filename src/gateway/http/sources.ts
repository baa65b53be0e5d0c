/**
 * Where an image URL's source bytes come from, and the rules that keep a URL
 * from reading anything else: named local roots (no escape by "..", symlinks
 * or encoded slashes) and HTTP(S) origins by prefix, with a size cap, a time
 * limit, every redirect checked again, and loopback, private and link-local
 * addresses refused unless allowed (SSRF). The address check runs on the
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

/** Address ranges a source may not be fetched from unless allowed: loopback, private, link-local, unspecified, CGNAT, ULA. */
const PRIVATE = (() => {
  const list = new net.BlockList();
  for (const [net4, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) list.addSubnet(net4, prefix, 'ipv4');
  for (const [net6, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) list.addSubnet(net6, prefix, 'ipv6');
  return list;
})();

export class Sources {
  private readonly origins: URL[];
  /** Each root's real path, resolved once (not on every request). */
  private readonly realRoots = new Map<string, Promise<string>>();

  constructor(private readonly rules: SourceRules) {
    this.origins = rules.origins.map((o) => new URL(o));
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
    const root = this.rules.localRoots[rootName];
    if (root === undefined) throw forbidden(`no local root ${JSON.stringify(rootName)} (http.localRoots has ${Object.keys(this.rules.localRoots).join(', ') || 'none'})`);
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
    const allowed = this.origins.some((o) => o.protocol === url.protocol && o.host === url.host && url.pathname.startsWith(o.pathname));
    if (!allowed) throw forbidden(`${url.origin}${url.pathname} is not under an allowed origin (http.origins)`);
    return url;
  }

  private addressAllowed(address: string): boolean {
    if (this.rules.allowPrivateNetworks || this.rules.allowedAddresses.includes(address)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const ip = mapped ?? address;
    return !PRIVATE.check(ip, net.isIPv6(ip) ? 'ipv6' : 'ipv4');
  }

  /** dns.lookup, refusing addresses the rules forbid (for names; literals are checked before connecting). */
  private readonly lookup: net.LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as dns.LookupAddress[];
      const refused = list.find((a) => !this.addressAllowed(a.address));
      if (refused) {
        const why = forbidden(`${hostname} resolves to ${refused.address}, a loopback, private or link-local address (http.allowPrivateNetworks, http.allowedAddresses)`);
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
      if (net.isIP(host) && !this.addressAllowed(host)) throw forbidden(`${host} is a loopback, private or link-local address (http.allowPrivateNetworks, http.allowedAddresses)`);
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
