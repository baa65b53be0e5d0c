/**
 * docs/configuration.md's list of keys is made from the convict schema, so it
 * cannot drift: `npm run docs` rewrites it, test/config.test.ts compares.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeConfigEntries, projectRoot } from './config.js';

export const CONFIG_DOC = path.join(projectRoot, 'docs', 'configuration.md');

/** One markdown bullet per key, in schema order. */
export function configDocLines(): string[] {
  return describeConfigEntries().map((e) => `- \`${e.key}\` (\`${e.env}\`, default \`${JSON.stringify(e.default)}\`): ${e.doc}`);
}

/** The document with its list of keys (every line starting "- `") replaced by the schema's. */
export function renderConfigDoc(current: string): string {
  const lines = current.split('\n');
  const first = lines.findIndex((l) => l.startsWith('- `'));
  let last = first;
  while (last + 1 < lines.length && lines[last + 1].startsWith('- `')) last++;
  if (first < 0) throw new Error(`${CONFIG_DOC} has no list of keys ("- \`key\` ...") to replace`);
  return [...lines.slice(0, first), ...configDocLines(), ...lines.slice(last + 1)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(CONFIG_DOC, renderConfigDoc(readFileSync(CONFIG_DOC, 'utf8')));
  console.log(`wrote ${path.relative(process.cwd(), CONFIG_DOC)}`);
}
