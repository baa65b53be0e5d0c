/** format:auto and the validators: the output format from Accept, and a strong ETag from what decides the bytes. */
import { createHash } from 'node:crypto';

/** The best format the client says it takes: AVIF, then WebP; undefined keeps JPEG/PNG. */
export function formatFromAccept(accept: string | undefined): 'avif' | 'webp' | undefined {
  const types = (accept ?? '').split(',').map((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return { type, q: q ? Number(q.slice(2)) : 1 };
  });
  const takes = (type: string) => types.some((t) => t.type === type && t.q > 0);
  if (takes('image/avif')) return 'avif';
  if (takes('image/webp')) return 'webp';
  return undefined;
}

/** A strong ETag: the same source (by identity), function and parameters make the same bytes. */
export function etagOf(sourceIdentity: string, fn: string, params: Record<string, unknown>): string {
  return `"${createHash('sha256').update(sourceIdentity).update('\0').update(fn).update('\0').update(JSON.stringify(params)).digest('base64url').slice(0, 32)}"`;
}

/** If-None-Match against our ETag (a list, or *). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
