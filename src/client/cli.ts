#!/usr/bin/env node
/** dips: call a DIPS function from the shell. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from '../shared/config.js';
import { ExitCode, quietOnClosedStdout, runMain, version } from '../shared/process.js';
import { CallError, DipsClient } from './index.js';
import { buildImagePath, signedUrl, signingKey } from '../shared/url-signature.js';
import { Discovery, type MeshWorker } from '../mesh/discovery.js';
import { connectNats } from '../mesh/nats.js';
import { nearest } from '../shared/nearest.js';
import { startTracing } from '../shared/tracing.js';
import type { DipsConfig } from '../shared/config.js';

// commander's errors reach runMain (unknown option: 64); subcommands made below inherit this
const program = new Command('dips').description('DIPS command-line client').version(version).exitOverride();
quietOnClosedStdout();

/** The file -c/--config names (commander parsed it; loadConfig alone only sees the long --config): DIPS_CONFIG otherwise. */
const configArgv = (file: string | undefined) => (file ? ['--config', file] : []);

/** Why a file cannot be used, in words (ENOENT: "no such file"); anything else: the system's message. */
function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return (err as Error).message;
}

/** --in: a file, or - for stdin. Read before connecting, so a wrong name costs nothing. */
async function readInput(file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  return readFileSync(file);
}

/**
 * What the mesh's workers serve now (NATS service discovery), or undefined
 * when NATS cannot be reached within `ms` (the call itself then says why).
 */
async function served(config: DipsConfig, ms: number): Promise<MeshWorker[] | undefined> {
  let nc;
  try {
    nc = await connectNats(config, { name: `dips-cli-${process.pid}`, signal: AbortSignal.timeout(ms) });
  } catch {
    return undefined;
  }
  try {
    return await new Discovery(nc, 0, 250).list();
  } finally {
    await nc.close();
  }
}

/** Bytes a terminal shows as text: structured replies (printed as JSON), text/*, JSON, XML, SVG. */
const isText = (contentType: string) => /^text\/|[/+](json|xml)\b/.test(contentType);

program
  .command('call')
  .description('Call a function. key=value pairs become its parameters; --in sends a file (image) as the body.')
  .argument('<function>', 'function name, e.g. ecard')
  .argument('[params...]', 'key=value parameters (values that look like JSON are parsed)')
  .option('-i, --in <file>', 'send this file as the raw body (parameters then travel in a header); - reads stdin')
  .option('-o, --out <file>', 'write the reply here; - (or none) writes stdout, where images are refused on a terminal')
  .option('-t, --timeout <ms>', 'give up after this many milliseconds')
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-s, --servers <urls>', 'comma-separated NATS servers (default: nats.servers)')
  .addHelpText('after', `
Examples:
  dips call ecard pSN=1234567890 pData="61, 61, 58, …" --out card.png
  dips call echo --in photo.jpg --out copy.jpg
  curl -s https://example.com/a.jpg | dips call thumbnail width=200 --in - --out - > thumb.jpg

The --timeout (default nats.requestTimeoutMs) covers connecting to NATS too: with no NATS
server reachable the call ends after it with exit 69, naming the servers it tried.

Exit codes: 0 ok, 1 the function answered an error, 64 bad usage (an image for a terminal: use --out),
66 the --in file cannot be read, 69 NATS unreachable, no worker or no reply, 73 the --out file cannot
be written, 78 bad configuration.`)
  .action(async (fn: string, pairs: string[], opts: { in?: string; out?: string; timeout?: string; servers?: string; config?: string }) => {
    if (opts.timeout !== undefined && !(Number.isSafeInteger(Number(opts.timeout)) && Number(opts.timeout) > 0)) {
      process.stderr.write(`--timeout takes a whole number of milliseconds above 0, got ${JSON.stringify(opts.timeout)}\n`);
      process.exitCode = ExitCode.usage;
      return;
    }
    const params = parsePairs(pairs);
    const config = loadConfig({ argv: configArgv(opts.config), overrides: opts.servers ? { nats: { servers: opts.servers.split(',') } } : undefined });
    let body: Buffer | undefined;
    if (opts.in !== undefined) {
      try {
        body = await readInput(opts.in);
      } catch (err) {
        process.stderr.write(`cannot read --in ${opts.in}: ${fileProblem(err)}\n`);
        process.exitCode = ExitCode.noInput;
        return;
      }
    }
    // a misspelt name would wait the whole timeout for a worker that never comes: a near name served now is the likelier meaning
    const workers = await served(config, Math.min(1000, opts.timeout ? Number(opts.timeout) : 1000));
    if (workers?.length && !workers.some((w) => w.fn === fn)) {
      const near = nearest(fn, [...new Set(workers.map((w) => w.fn))]);
      if (near) {
        process.stderr.write(`no worker serves ${fn}; did you mean ${near}? (\`dips functions\` lists what the mesh serves)\n`);
        process.exitCode = ExitCode.usage;
        return;
      }
    }
    await startTracing(config, 'client');
    const client = new DipsClient({ config });
    try {
      const reply = await client.callForReply(fn, body ?? params, {
        params: body ? params : undefined,
        timeoutMs: opts.timeout ? Number(opts.timeout) : undefined,
      });
      const output = reply.value !== undefined ? Buffer.from(JSON.stringify(reply.value, null, 2) + '\n') : reply.bytes;
      if (opts.out !== undefined && opts.out !== '-') {
        try {
          writeFileSync(opts.out, output);
        } catch (err) {
          process.stderr.write(`cannot write --out ${opts.out}: ${fileProblem(err)}\n`);
          process.exitCode = ExitCode.cantCreate;
          return;
        }
        process.stderr.write(`${fn}: wrote ${output.length} bytes (${reply.contentType}) to ${opts.out}\n`);
      } else if (opts.out === undefined && process.stdout.isTTY && reply.value === undefined && !isText(reply.contentType)) {
        // image bytes would garble the terminal (curl refuses the same way); --out - says "I mean it"
        process.stderr.write(`${fn}: the reply is ${reply.contentType} (${output.length} bytes): not written to a terminal; use --out FILE (or --out - to write it anyway)\n`);
        process.exitCode = ExitCode.usage;
      } else process.stdout.write(output);
    } catch (err) {
      if (!(err instanceof CallError)) throw err;
      process.stderr.write(`${err.message}\n`);
      process.exitCode = err.code === 503 || err.code === 408 ? ExitCode.unavailable : ExitCode.failure;
    } finally {
      await client.close();
    }
  });

program
  .command('functions')
  .description('List the functions the mesh serves now: name, what it does, idempotent or not, and how many workers serve it where.')
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-s, --servers <urls>', 'comma-separated NATS servers (default: nats.servers)')
  .option('--json', 'one JSON object per function, for scripts')
  .addHelpText('after', '\nParameters of each function: docs/functions.md and the README\'s Functions section.\nExit codes: 0 ok, 69 NATS unreachable, 78 bad configuration.')
  .action(async (opts: { config?: string; servers?: string; json?: boolean }) => {
    const config = loadConfig({ argv: configArgv(opts.config), overrides: opts.servers ? { nats: { servers: opts.servers.split(',') } } : undefined });
    const workers = await served(config, 3000);
    if (!workers) {
      process.stderr.write(`cannot connect to NATS at ${config.nats.servers.join(', ')}\n`);
      process.exitCode = ExitCode.unavailable;
      return;
    }
    const byName = new Map<string, MeshWorker[]>();
    for (const w of workers) byName.set(w.fn, [...(byName.get(w.fn) ?? []), w]);
    const rows = [...byName].sort(([a], [b]) => a.localeCompare(b)).map(([name, ws]) => ({
      name,
      description: ws[0].description,
      idempotent: ws.every((w) => w.idempotent),
      workers: ws.length,
      hosts: [...new Set(ws.map((w) => (w.gateway ? `gearman via ${w.gateway}` : w.host)))].sort(),
    }));
    if (opts.json) {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    if (rows.length === 0) process.stderr.write('no worker serves anything now\n');
    const width = Math.max(8, ...rows.map((r) => r.name.length));
    for (const r of rows) {
      process.stdout.write(`${r.name.padEnd(width)}  ${String(r.workers).padStart(3)} worker${r.workers === 1 ? ' ' : 's'}  ${r.idempotent ? 'idempotent    ' : 'not idempotent'}  ${r.description}  [${r.hosts.join(', ')}]\n`);
    }
  });

program
  .command('url')
  .description('Print a signed URL of the HTTP gateway (dips-http) for a function on a source image, signed with http.key and http.salt')
  .argument('<function>', 'an image function (thumbnail, resize, crop, blur, …), convert or info')
  .argument('[params...]', 'key=value parameters; format=webp|avif|auto|… picks the output format')
  .requiredOption('-s, --source <source>', 'local:<root>/<path> or an http(s) URL under http.origins')
  .option('-b, --base <url>', 'base URL of the HTTP gateway (default: http.publicUrl, else http://<http.host>:<http.port>)')
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .addHelpText('after', `
Examples:
  dips url thumbnail width=200 format=auto --source local:photos/2026/a.jpg
  dips url resize width=800 height=600 fit=cover --source https://images.example.com/a.jpg

Exit codes: 0 printed, 64 bad usage, 78 bad configuration (no http.key: the URL would be refused).`)
  .action((fn: string, pairs: string[], opts: { source: string; base?: string; config?: string }) => {
    const config = loadConfig({ argv: configArgv(opts.config) });
    const signing = signingKey(config.http.key, config.http.salt);
    if (!signing && !config.http.allowUnsigned) {
      process.stderr.write('no http.key is configured (DIPS_HTTP_KEY, DIPS_HTTP_SALT): the gateway would refuse the URL\n');
      process.exitCode = ExitCode.config;
      return;
    }
    const base = opts.base ?? (config.http.publicUrl || `http://${config.http.host}:${config.http.port}`);
    process.stdout.write(`${signedUrl(base, signing, buildImagePath(fn, parsePairs(pairs), opts.source))}\n`);
  });

function parsePairs(pairs: string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      process.stderr.write(`expected key=value, got ${JSON.stringify(pair)}\n`);
      process.exit(ExitCode.usage);
    }
    const key = pair.slice(0, eq);
    const text = pair.slice(eq + 1);
    params[key] = /^(\[|\{|true$|false$|null$)/.test(text) ? safeParse(text) : text;
  }
  return params;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// A one-shot command ends when its work is done: nats.js 2.29 never closes a socket whose server accepted
// and then said nothing (its transport's close skips a socket that never got INFO), and that socket
// alone would keep the process alive after the answer. stdout and stderr are written synchronously here
// (files, pipes and terminals on Linux), so nothing printed is lost.
runMain(() => program.parseAsync().then(() => process.exit()));
