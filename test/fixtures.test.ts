/**
 * The same checks on real-world photos from ../shared/fixtures (EXIF
 * orientations, CMYK, animations, 16-bit, a large JPEG, a corrupt JPEG).
 * Runs when that folder exists beside the clone; skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { CallError, type DipsClient } from '../src/client/index.js';
import type { ImageFormat } from '../src/client/functions.js';
import { clientFor, hasSharedFixtures, SHARED_FIXTURES, startCluster, startWorker, type Cluster, type Proc } from './harness.js';

const image = (name: string) => readFileSync(path.join(SHARED_FIXTURES, 'images', name));

if (!hasSharedFixtures) {
  test.skip('real-world fixtures (../shared/fixtures is absent)', () => undefined);
} else {
  let cluster: Cluster;
  let worker: Proc;
  let dips: DipsClient;
  test.before(async () => {
    cluster = await startCluster();
    worker = await startWorker(cluster);
    dips = clientFor(cluster, 30_000);
  });
  test.after(async () => {
    await dips?.close();
    await worker?.stop();
    await cluster?.stop();
  });

  const thumb = async (name: string, width = 100, format: ImageFormat = 'png') => Buffer.from((await dips.call('thumbnail', image(name), { params: { width, format } })) as Uint8Array);

  async function greyPixels(b: Buffer): Promise<Buffer> {
    return sharp(b).resize(32, 24, { fit: 'fill' }).greyscale().raw().toBuffer();
  }

  test('Landscape_{1,3,5,6,8}.jpg all auto-orient to look like Landscape_1', async () => {
    const reference = await greyPixels(await thumb('Landscape_1.jpg'));
    for (const o of [3, 5, 6, 8]) {
      const out = await thumb(`Landscape_${o}.jpg`);
      const m = await sharp(out).metadata();
      assert.ok(m.width! > m.height!, `orientation ${o} is landscape`);
      const pixels = await greyPixels(out);
      const diff = pixels.reduce((sum, v, i) => sum + Math.abs(v - reference[i]), 0) / pixels.length;
      assert.ok(diff < 12, `orientation ${o} matches Landscape_1 (mean difference ${diff.toFixed(1)})`);
    }
  });

  test('CMYK JPEG with an ICC profile comes out sRGB', async () => {
    const out = await thumb('Channel_digital_image_CMYK_color.jpg');
    const m = await sharp(out).metadata();
    assert.is(m.space, 'srgb');
    assert.is(m.channels, 3);
    const info = (await dips.call('info', image('Channel_digital_image_CMYK_color.jpg')));
    assert.is(info.space, 'cmyk');
    assert.is(info.hasProfile, true);
  });

  test('animated GIF and WebP keep every frame', async () => {
    for (const name of ['animated-loop-3.gif', 'animated-loop-3.webp']) {
      const format = name.endsWith('gif') ? 'gif' : 'webp';
      const frames = ((await dips.call('info', image(name)))).pages;
      assert.ok(frames >= 9, `${name} has ${frames} frames`);
      const out = await thumb(name, 50, format);
      assert.is((await sharp(out).metadata()).pages, frames, name);
    }
  });

  test('16-bit grey + alpha PNG, large RGBA PNG, WebP and the 2725 x 2225 JPEG', async () => {
    assert.is((await sharp(await thumb('16-bit-grey-alpha.png', 50)).metadata()).width, 50);
    assert.is((await sharp(await thumb('alpha-premultiply-2048x1536-paper.png', 200)).metadata()).hasAlpha, true);
    assert.is((await sharp(await thumb('4.webp', 100, 'webp')).metadata()).format, 'webp');
    const big = await thumb('2569067123_aca715a2ee_o.jpg', 200, 'jpeg');
    const m = await sharp(big).metadata();
    assert.is(m.width, 200);
    assert.ok(Math.abs(m.height! - (200 * 2225) / 2725) < 1, `height ${m.height}`);
  });

  test('the corrupt JPEG gets a clear error and the worker carries on', async () => {
    try {
      await dips.call('thumbnail', image('corrupt-header.jpg'), { params: { width: 10 } });
      assert.unreachable('should fail');
    } catch (err) {
      assert.instance(err, CallError);
      assert.match((err as Error).message, /^thumbnail: cannot (read|process) the image/);
    }
    assert.is((await sharp(await thumb('320x240.jpg', 32)).metadata()).width, 32);
  });
}

test.run();
