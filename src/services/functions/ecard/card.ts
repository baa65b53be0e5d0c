/**
 * The 金山密保卡 matrix card: an 8 x 10 grid under the title
 * "PASSPOD MATRIXCARD SN: <serial>", column heads 1..9 0, row heads A..H.
 * Everything that does not depend on the card's data (fills, grid, heads, the
 * title prefix) is drawn once per scale into a template; a card is a copy of
 * the template plus 81 short strings from the glyph atlas.
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
  atlas: GlyphAtlas;
  template: Uint8Array;
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
  const template = new Uint8Array(width * height).fill(WHITE);

  const fill = (x: number, y: number, w: number, h: number, v: number) => {
    for (let row = y; row < y + h; row++) template.fill(v, row * width + x, row * width + x + w);
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
    scale, width, height, atlas, template, cellWidth, cellHeight, gridLeft, gridTop,
    titleX: margin, titleY: margin + Math.floor((titleHeight - atlas.height) / 2),
  };
  drawText(template, width, atlas, TITLE_PREFIX, layout.titleX, layout.titleY);
  for (let c = 0; c < COLUMNS.length; c++) drawCentered(layout, template, COLUMNS[c], 0, c + 1);
  for (let r = 0; r < ROWS.length; r++) drawCentered(layout, template, ROWS[r], r + 1, 0);
  return layout;
}

function drawCentered(layout: CardLayout, canvas: Uint8Array, text: string, row: number, col: number): void {
  const { atlas, cellWidth, cellHeight } = layout;
  const x = layout.gridLeft + col * cellWidth + Math.floor((cellWidth - text.length * atlas.advance) / 2) + 1;
  const y = layout.gridTop + row * cellHeight + Math.floor((cellHeight - atlas.height) / 2) + 1;
  drawText(canvas, layout.width, atlas, text, x, y);
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

/** Draw a card: `values` holds 80 two-character strings, row by row. */
export function drawCard(layout: CardLayout, serial: string, values: readonly string[]): Uint8Array {
  const canvas = layout.template.slice();
  drawText(canvas, layout.width, layout.atlas, serial, layout.titleX + TITLE_PREFIX.length * layout.atlas.advance, layout.titleY);
  for (let i = 0; i < values.length; i++) {
    drawCentered(layout, canvas, values[i], Math.floor(i / COLUMNS.length) + 1, (i % COLUMNS.length) + 1);
  }
  return canvas;
}
