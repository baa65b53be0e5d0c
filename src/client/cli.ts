#!/usr/bin/env node
/** dips: call a DIPS function from the shell. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from '../shared/config.js';
import { ExitCode, runMain, version } from '../shared/process.js';
import { CallError, DipsClient } from './index.js';
import { buildImagePath, signedUrl, signingKey } from '../shared/url-signature.js';

const program = new Command('dips').description('DIPS command-line client').version(version);

program
  .command('call')
  .description('Call a function. key=value pairs become its parameters; --in sends a file (image) as the body.')
  .argument('<function>', 'function name, e.g. ecard')
  .argument('[params...]', 'key=value parameters (values that look like JSON are parsed)')
  .option('-i, --in <file>', 'send this file as the raw body (parameters then travel in a header)')
  .option('-o, --out <file>', 'write the reply here (default: stdout)')
  .option('-t, --timeout <ms>', 'give up after this many milliseconds')
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-s, --servers <urls>', 'comma-separated NATS servers (default: nats.servers)')
  .addHelpText('after', `
Examples:
  dips call ecard pSN=1234567890 pData="61, 61, 58, …" --out card.png
  dips call echo --in photo.jpg --out copy.jpg

Exit codes: 0 ok, 1 the function answered an error, 64 bad usage, 69 no worker or no reply, 78 bad configuration.`)
  .action(async (fn: string, pairs: string[], opts: { in?: string; out?: string; timeout?: string; servers?: string }) => {
    if (opts.timeout !== undefined && !(Number.isSafeInteger(Number(opts.timeout)) && Number(opts.timeout) > 0)) {
      process.stderr.write(`--timeout takes a whole number of milliseconds above 0, got ${JSON.stringify(opts.timeout)}\n`);
      process.exitCode = ExitCode.usage;
      return;
    }
    const params = parsePairs(pairs);
    const config = loadConfig({ overrides: opts.servers ? { nats: { servers: opts.servers.split(',') } } : undefined });
    const client = new DipsClient({ config });
    try {
      const input = opts.in ? readFileSync(opts.in) : params;
      const reply = await client.callForReply(fn, input, {
        params: opts.in ? params : undefined,
        timeoutMs: opts.timeout ? Number(opts.timeout) : undefined,
      });
      const output = reply.value !== undefined ? Buffer.from(JSON.stringify(reply.value, null, 2) + '\n') : reply.bytes;
      if (opts.out) {
        writeFileSync(opts.out, output);
        process.stderr.write(`${fn}: wrote ${output.length} bytes (${reply.contentType}) to ${opts.out}\n`);
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
  .action((fn: string, pairs: string[], opts: { source: string; base?: string }) => {
    const config = loadConfig();
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

runMain(() => program.parseAsync().then(() => undefined));
