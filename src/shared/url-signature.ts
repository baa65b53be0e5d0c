/**
 * URL signatures, imgproxy's scheme: base64url (no padding) of
 * HMAC-SHA256(key, salt + path), key and salt given in hex, path being
 * everything after the signature segment, leading slash included. imgproxy's
 * URL builders (PHP, Go, Python, Ruby, Java, JS…) therefore sign DIPS URLs
 * unchanged, given the same key and salt. The HTTP gateway checks them; `dips url`
 * and the README's PHP snippet make them.
 */
import { createHmac } from 'node:crypto';
import { sameSecret } from './secret-compare.js';

/** Placeholders an unsigned URL may carry instead of a signature (when http.allowUnsigned). */
export const UNSIGNED = new Set(['_', 'insecure', 'unsafe']);

export interface SigningKey {
  key: Buffer;
  salt: Buffer;
}

export function signingKey(keyHex: string, saltHex: string): SigningKey | undefined {
  if (!keyHex) return undefined;
  return { key: Buffer.from(keyHex, 'hex'), salt: Buffer.from(saltHex, 'hex') };
}

/** The signature of `path` ("/thumbnail:width=200/local:photos/a.jpg"). */
export function sign(signing: SigningKey, path: string): string {
  return createHmac('sha256', signing.key).update(signing.salt).update(path).digest('base64url');
}

/** Whether `signature` signs `path`, compared in constant time. */
export function verify(signing: SigningKey, path: string, signature: string): boolean {
  return sameSecret(signature, sign(signing, path));
}

/**
 * The path (after the signature) asking for `fn` with `params` on `source`, in
 * the syntax of src/gateway/http/url.ts: what `dips url` signs.
 */
export function buildImagePath(fn: string, params: Record<string, unknown>, source: string): string {
  const { format, ...rest } = params;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join(',');
  const ops: string[] = [];
  if (fn === 'info') ops.push('info');
  else if (fn !== 'convert') ops.push(pairs ? `${fn}:${pairs}` : fn);
  if (format !== undefined) ops.push(`format:${String(format)}${fn === 'convert' && pairs ? `,${pairs}` : ''}`);
  // a URL in a path loses its "//" to proxies that merge slashes (nginx's default): send remote sources base64url-encoded
  const safeSource = /^https?:\/\//.test(source) ? `b64:${Buffer.from(source).toString('base64url')}` : source;
  return `/${[...ops, safeSource].join('/')}`;
}

/** A full signed URL: `base` + "/" + signature + path ("_" when there is no key). */
export function signedUrl(base: string, signing: SigningKey | undefined, path: string): string {
  return `${base.replace(/\/+$/, '')}/${signing ? sign(signing, path) : '_'}${path}`;
}
