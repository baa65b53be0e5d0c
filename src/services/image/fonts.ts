/**
 * Fonts ship as an npm dependency (dejavu-fonts-ttf) so that rendering never
 * depends on what the machine happens to have installed.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const fontDir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');

export const Fonts = {
  sans: { family: 'DejaVu Sans', file: path.join(fontDir, 'DejaVuSans.ttf') },
  sansBold: { family: 'DejaVu Sans Bold', file: path.join(fontDir, 'DejaVuSans-Bold.ttf') },
  monoBold: { family: 'DejaVu Sans Mono Bold', file: path.join(fontDir, 'DejaVuSansMono-Bold.ttf') },
} as const;

/** Escape text for the Pango markup sharp's text input understands. */
export function escapeMarkup(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
