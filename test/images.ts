/** Test images made in code: no file from outside the repo is needed. */
import sharp, { type Sharp } from 'sharp';
import zlib from 'node:zlib';

/** 60 x 40, quadrants red (top-left), green (top-right), blue (bottom-left), white (bottom-right). */
export async function quadrants(width = 60, height = 40): Promise<Buffer> {
  const w = width / 2;
  const h = height / 2;
  const tile = (c: string) => sharp({ create: { width: w, height: h, channels: 3, background: c } }).png().toBuffer();
  const [r, g, b, wh] = await Promise.all(['#ff0000', '#00ff00', '#0000ff', '#ffffff'].map(tile));
  return sharp({ create: { width, height, channels: 3, background: '#000' } })
    .composite([{ input: r, left: 0, top: 0 }, { input: g, left: w, top: 0 }, { input: b, left: 0, top: h }, { input: wh, left: w, top: h }])
    .png()
    .toBuffer();
}

/** Stored pixels for each EXIF orientation so that the displayed image is `upright`. */
export async function withOrientation(upright: Buffer, orientation: number): Promise<Buffer> {
  const two = async (first: (s: Sharp) => Sharp, second: (s: Sharp) => Sharp) => second(sharp(await first(sharp(upright)).png().toBuffer()));
  const stored = {
    1: async () => sharp(upright),
    2: async () => sharp(upright).flop(),
    3: async () => sharp(upright).rotate(180),
    4: async () => sharp(upright).flip(),
    5: () => two((s) => s.rotate(90), (s) => s.flop()),
    6: async () => sharp(upright).rotate(270),
    7: () => two((s) => s.rotate(90), (s) => s.flip()),
    8: async () => sharp(upright).rotate(90),
  }[orientation]!;
  return (await stored()).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
}

export async function pixel(image: Uint8Array, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return Array.from(data.subarray(i, i + info.channels));
}

export const near = (actual: number[], expected: number[], tolerance = 40) => actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance);

export async function animatedGif(frames = 3): Promise<Buffer> {
  const colours = ['#ff0000', '#00ff00', '#0000ff', '#ffff00', '#00ffff'];
  const images = await Promise.all(Array.from({ length: frames }, (_, i) => sharp({ create: { width: 40, height: 30, channels: 4, background: colours[i % colours.length] } }).png().toBuffer()));
  return sharp(images, { join: { animated: true } }).gif().toBuffer();
}

export async function cmykJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 50, height: 50, channels: 3, background: '#ff0000' } }).toColourspace('cmyk').jpeg().toBuffer();
}

export async function sixteenBitPng(): Promise<Buffer> {
  const data = new Uint16Array(32 * 32 * 2);
  for (let i = 0; i < 32 * 32; i++) {
    data[i * 2] = (i * 64) % 65536;
    data[i * 2 + 1] = 65535;
  }
  return sharp(Buffer.from(data.buffer), { raw: { width: 32, height: 32, channels: 2 } }).toColourspace('grey16').png().toBuffer();
}

export async function alphaPng(): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } } }).png().toBuffer();
}

/** A valid PNG header declaring width x height, with a tiny body: a decompression bomb's calling card. */
export function bombPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
