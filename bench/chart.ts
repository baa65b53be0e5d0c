/**
 * The run's throughput as a picture: one panel per scenario, one bar per
 * system and concurrency (calls per second, longer is better), DIPS's bars
 * in one colour and the anchors' in another, so a reader sees at a glance
 * where DIPS stands against gearmand + PHP, ipx and nginx in the same run.
 * Plain SVG written by hand: a few rectangles and labels, no charting library.
 */
import type { Row } from './scenarios.js';

const WIDTH = 900;
const LABEL = 330;
const BAR_HEIGHT = 16;
const GAP = 4;
const PANEL_GAP = 26;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const isDips = (system: string) => /dips/i.test(system);

function rate(perSecond: number): string {
  if (perSecond >= 100) return `${Math.round(perSecond)}/s`;
  if (perSecond >= 10) return `${perSecond.toFixed(1)}/s`;
  return `${perSecond.toFixed(2)}/s`;
}

/** The SVG of `rows`; `title` heads it (machine and date). */
export function renderChart(rows: Row[], title: string): string {
  const panels = new Map<string, Row[]>();
  for (const row of rows) {
    if (!(row.perSecond > 0) || !Number.isFinite(row.perSecond)) continue;
    panels.set(row.scenario, [...(panels.get(row.scenario) ?? []), row]);
  }
  const parts: string[] = [];
  let y = 40;
  for (const [scenario, list] of panels) {
    const max = Math.max(...list.map((r) => r.perSecond));
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escape(scenario)}</text>`);
    y += 8;
    for (const r of list) {
      const w = Math.max(1, ((WIDTH - LABEL - 90) * r.perSecond) / max);
      const label = `${r.system}${r.concurrency > 1 ? ` ×${r.concurrency}` : ''}`;
      parts.push(
        `<text x="${LABEL - 8}" y="${y + BAR_HEIGHT - 4}" text-anchor="end">${escape(label)}</text>`,
        `<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" fill="${isDips(r.system) ? '#2b6cb0' : '#a0aec0'}"/>`,
        `<text x="${(LABEL + w + 6).toFixed(1)}" y="${y + BAR_HEIGHT - 4}">${escape(rate(r.perSecond))}</text>`,
      );
      y += BAR_HEIGHT + GAP;
    }
    y += PANEL_GAP;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="${WIDTH - 10}" y="20" text-anchor="end" fill="#555">calls per second, longer is better; blue: DIPS, grey: anchors</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
