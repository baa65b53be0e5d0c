/** The benchmark photo: sharp's own 2725 x 2225 benchmark JPEG from ../shared/fixtures, or one made to the same size. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { projectRoot } from '../src/shared/config.js';

const FIXTURE = path.resolve(projectRoot, '..', 'shared', 'fixtures', 'images', '2569067123_aca715a2ee_o.jpg');

let cached: Promise<{ bytes: Buffer; source: string }> | undefined;

export function benchPhoto(): Promise<{ bytes: Buffer; source: string }> {
  cached ??= (async () => {
    if (existsSync(FIXTURE)) return { bytes: readFileSync(FIXTURE), source: 'fixture 2569067123_aca715a2ee_o.jpg' };
    const bytes = await sharp({ create: { width: 2725, height: 2225, channels: 3, background: '#6a8caf', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg({ quality: 90 })
      .toBuffer();
    return { bytes, source: 'generated 2725 x 2225 noise JPEG (fixture absent)' };
  })();
  return cached;
}
