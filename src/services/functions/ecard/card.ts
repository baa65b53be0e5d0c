/**
 * The 金山密保卡 matrix card: an 8 x 10 grid under the title
 * "PASSPOD MATRIXCARD SN: <serial>", column heads 1..9 0, row heads A..H.
 * Everything that does not depend on the card's data (fills, grid, heads, the
 * title prefix) is drawn once per scale into a template; a card is a copy of
 * the template plus 81 short strings from the glyph atlas.
 *
 * The canvas is laid out as PNG scanlines: each row is a filter-type byte (0,
 * none) followed by the row's pixels, so the PNG encoder deflates the canvas
 * as it is, and the canvas is one scratch buffer per scale reused card after
 * card. Both matter on the hot path: a fresh 145 KB canvas and a 146 KB
 * scanline copy per card cost more CPU (allocation, page faults, external-
 * memory GCs) than drawing the card.
 */
import { buildAtlas, drawText, type GlyphAtlas } from './glyphs.js';

export const ROWS = 'ABCDEFGH';
export const COLUMNS = '1234567890';
export const CELLS = ROWS.length * COLUMNS.length;
export const TITLE_PREFIX = 'PASSPOD MATRIXCARD SN: ';

const WHITE = 255;
const HEAD_FILL = 228;
const LINE = 80;

export interface CardLayout {
  scale: number;
  width: number;
  height: number;
  /** Bytes per canvas row: the filter byte, then `width` pixels. */
  stride: number;
  atlas: GlyphAtlas;
  template: Uint8Array;
  /** The canvas every card of this scale is drawn into, one after another. */
  scratch: Buffer;
  cellWidth: number;
  cellHeight: number;
  gridLeft: number;
  gridTop: number;
  titleX: number;
  titleY: number;
}

async function buildLayout(scale: number): Promise<CardLayout> {
  const atlas = await buildAtlas(16 * scale);
  const margin = 12 * scale;
  const cellWidth = 40 * scale;
  const cellHeight = 28 * scale;
  const titleHeight = 36 * scale;
  const cols = COLUMNS.length + 1;
  const rows = ROWS.length + 1;
  const width = 2 * margin + cols * cellWidth + 1;
  const height = 2 * margin + titleHeight + rows * cellHeight + 1;
  const gridLeft = margin;
  const gridTop = margin + titleHeight;
  const stride = width + 1;
  const template = new Uint8Array(stride * height).fill(WHITE);
  for (let row = 0; row < height; row++) template[row * stride] = 0; // filter type: none

  const fill = (x: number, y: number, w: number, h: number, v: number) => {
    for (let row = y; row < y + h; row++) template.fill(v, row * stride + 1 + x, row * stride + 1 + x + w);
  };
  fill(gridLeft, gridTop, cols * cellWidth, cellHeight, HEAD_FILL);
  fill(gridLeft, gridTop, cellWidth, rows * cellHeight, HEAD_FILL);
  const thin = Math.max(1, Math.round(scale / 2));
  for (let r = 0; r <= rows; r++) {
    const edge = r === 0 || r === rows;
    fill(gridLeft, gridTop + r * cellHeight - (edge && r > 0 ? thin : 0), cols * cellWidth + 1, edge ? 2 * thin : thin, LINE);
  }
  for (let c = 0; c <= cols; c++) {
    const edge = c === 0 || c === cols;
    fill(gridLeft + c * cellWidth - (edge && c > 0 ? thin : 0), gridTop, edge ? 2 * thin : thin, rows * cellHeight + 1, LINE);
  }

  const layout: CardLayout = {
    scale, width, height, stride, atlas, template, scratch: Buffer.allocUnsafe(template.length), cellWidth, cellHeight, gridLeft, gridTop,
    titleX: margin, titleY: margin + Math.floor((titleHeight - atlas.height) / 2),
  };
  drawOnCanvas(layout, template, TITLE_PREFIX, layout.titleX, layout.titleY);
  for (let c = 0; c < COLUMNS.length; c++) drawCentered(layout, template, COLUMNS[c], 0, c + 1);
  for (let r = 0; r < ROWS.length; r++) drawCentered(layout, template, ROWS[r], r + 1, 0);
  return layout;
}

function drawCentered(layout: CardLayout, canvas: Uint8Array, text: string, row: number, col: number): void {
  const { atlas, cellWidth, cellHeight } = layout;
  const x = layout.gridLeft + col * cellWidth + Math.floor((cellWidth - text.length * atlas.advance) / 2) + 1;
  const y = layout.gridTop + row * cellHeight + Math.floor((cellHeight - atlas.height) / 2) + 1;
  drawOnCanvas(layout, canvas, text, x, y);
}

/** Text at pixel (x, y) of a scanline canvas (one filter byte before each row's pixels). */
function drawOnCanvas(layout: CardLayout, canvas: Uint8Array, text: string, x: number, y: number): void {
  drawText(canvas, layout.stride, layout.atlas, text, x + 1, y);
}

const layouts = new Map<number, Promise<CardLayout>>();

/** The layout for a scale, built on first use and kept for the life of the process. */
export function layoutFor(scale: number): Promise<CardLayout> {
  let layout = layouts.get(scale);
  if (!layout) {
    layout = buildLayout(scale);
    layout.catch(() => layouts.delete(scale));
    layouts.set(scale, layout);
  }
  return layout;
}

/**
 * Draw a card into the layout's scratch canvas (PNG scanlines, see above) and
 * return it: `values` holds 80 two-character strings, row by row. The canvas is
 * overwritten by the next card, so encode it before anything else may draw.
 */
export function drawCard(layout: CardLayout, serial: string, values: readonly string[]): Buffer {
  const canvas = layout.scratch;
  canvas.set(layout.template);
  drawOnCanvas(layout, canvas, serial, layout.titleX + TITLE_PREFIX.length * layout.atlas.advance, layout.titleY);
  for (let i = 0; i < values.length; i++) {
    drawCentered(layout, canvas, values[i], Math.floor(i / COLUMNS.length) + 1, (i % COLUMNS.length) + 1);
  }
  return canvas;
}

/** The pixels of a scanline canvas without the filter bytes (for encoders other than PNG). */
export function packedPixels(layout: CardLayout, canvas: Uint8Array): Buffer {
  const pixels = Buffer.allocUnsafe(layout.width * layout.height);
  for (let y = 0; y < layout.height; y++) pixels.set(canvas.subarray(y * layout.stride + 1, (y + 1) * layout.stride), y * layout.width);
  return pixels;
}
