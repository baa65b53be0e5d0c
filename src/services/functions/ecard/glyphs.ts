/**
 * A glyph atlas: every printable ASCII character of a monospaced font rendered
 * once per process into one coverage bitmap, so drawing a card is copying
 * bytes, not laying out text. Rendering "█ chars █" makes the image's bounds
 * the font's full line box (the block's ink fills it), so every glyph shares
 * one baseline and sits at a fixed multiple of the advance width; the spaces
 * keep the blocks' anti-aliased edges off the first and last glyph.
 */
import sharp from 'sharp';
import { escapeMarkup, Fonts } from '../../image/fonts.js';

/** Printable ASCII without the space, which draws nothing. */
export const ATLAS_CHARS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
const BLOCK = '\u2588';

export interface GlyphAtlas {
  /** Coverage 0 (no ink) to 255, one byte per pixel, row-major. */
  coverage: Uint8Array;
  stride: number;
  /** Line height: the height of every glyph. */
  height: number;
  /** Advance width: the width of every glyph. */
  advance: number;
  /** x of the glyph for char code c is xOf[c]; -1 when not in the atlas. */
  xOf: Int32Array;
}

async function renderLine(text: string, sizePx: number): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp({
    text: { text: escapeMarkup(text), font: `${Fonts.monoBold.family} ${sizePx}`, fontfile: Fonts.monoBold.file, dpi: 72 },
  })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export async function buildAtlas(sizePx: number): Promise<GlyphAtlas> {
  const [line, pair] = await Promise.all([renderLine(`${BLOCK} ${ATLAS_CHARS} ${BLOCK}`, sizePx), renderLine(`${BLOCK}  ${BLOCK}`, sizePx)]);
  const advance = (line.width - pair.width) / ATLAS_CHARS.length;
  if (!Number.isInteger(advance)) {
    throw new Error(`glyph atlas: font did not render monospaced at ${sizePx}px (advance ${advance})`);
  }
  const xOf = new Int32Array(128).fill(-1);
  for (let i = 0; i < ATLAS_CHARS.length; i++) xOf[ATLAS_CHARS.charCodeAt(i)] = (i + 2) * advance;
  return { coverage: line.data, stride: line.width, height: line.height, advance, xOf };
}

/**
 * Draw dark text onto a greyscale canvas: each pixel keeps the darker of
 * itself and the ink, so text over lines and fills stays crisp.
 */
export function drawText(canvas: Uint8Array, canvasWidth: number, atlas: GlyphAtlas, text: string, x: number, y: number): void {
  const { coverage, stride, height, advance, xOf } = atlas;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const gx = code < 128 ? xOf[code] : -1;
    if (gx < 0) continue; // spaces, and anything callers failed to validate, draw nothing
    const left = x + i * advance;
    for (let row = 0; row < height; row++) {
      const src = row * stride + gx;
      const dst = (y + row) * canvasWidth + left;
      for (let col = 0; col < advance; col++) {
        const ink = 255 - coverage[src + col];
        if (ink < canvas[dst + col]) canvas[dst + col] = ink;
      }
    }
  }
}
