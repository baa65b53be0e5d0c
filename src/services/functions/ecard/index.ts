/**
 * ecard: the seed's password matrix card (金山密保卡).
 * Params: pSN (serial), pData (80 values 0-99: "61, 61, 58, …" as the seed's PHP
 * sends it, or a list), format (png | webp | jpeg), scale (1-4).
 */
import sharp from 'sharp';
import { badRequest } from '../../../shared/errors.js';
import { bytesResult, type FunctionDef } from '../../job.js';
import { Params } from '../../params.js';
import { CELLS, drawCard, layoutFor, packedPixels } from './card.js';
import { greyPng } from './png.js';

const FORMATS = ['png', 'webp', 'jpeg'] as const;
const CONTENT_TYPE = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' } as const;

/** The seed's pData is one comma-separated string and may carry line breaks from the page it was pasted from. */
export function parseCardValues(fn: string, value: unknown): string[] {
  let items: unknown[];
  if (typeof value === 'string') items = value.split(',').map((s) => s.replace(/\s+/g, ''));
  else if (Array.isArray(value)) items = value;
  else if (value === undefined || value === null) throw badRequest(fn, 'pData is required (80 values from 00 to 99, comma-separated or a list)');
  else throw badRequest(fn, `pData must be 80 values from 00 to 99, comma-separated or a list, got ${typeof value}`);
  if (items.length !== CELLS) throw badRequest(fn, `pData has ${items.length} values, expected ${CELLS}`);
  return items.map((item, i) => {
    const text = typeof item === 'number' && Number.isInteger(item) ? String(item) : item;
    if (typeof text !== 'string' || !/^\d{1,2}$/.test(text)) {
      throw badRequest(fn, `pData value ${i + 1} must be a number from 00 to 99, got ${JSON.stringify(item)}`);
    }
    return text.padStart(2, '0');
  });
}

export const ecard: FunctionDef = {
  name: 'ecard',
  description: 'Password matrix card (金山密保卡): pSN, pData (80 values), format png|webp|jpeg, scale 1-4',
  idempotent: true,
  input: 'params',
  async init() {
    await layoutFor(1);
  },
  async run(job) {
    const p = new Params(job.fn, job.params);
    const { serial, values, format, scale } = p.parse(() => ({
      serial: p.string('pSN', /^[A-Za-z0-9-]{1,32}$/, 'a serial of 1 to 32 letters, digits or dashes'),
      values: parseCardValues(job.fn, p.raw('pData')),
      format: p.oneOf('format', FORMATS, 'png'),
      scale: p.int('scale', 1, 4, 1),
    }));
    p.refuseUnknown();
    const layout = await layoutFor(scale);
    const canvas = drawCard(layout, serial, values);
    if (format === 'png') return bytesResult(greyPng(canvas, layout.width, layout.height), CONTENT_TYPE.png);
    const image = sharp(packedPixels(layout, canvas), { raw: { width: layout.width, height: layout.height, channels: 1 } }).toColourspace('b-w');
    const encoded = format === 'webp' ? image.webp({ lossless: true, effort: 2 }) : image.jpeg({ quality: 92 });
    return bytesResult(await encoded.toBuffer(), CONTENT_TYPE[format]);
  },
};
