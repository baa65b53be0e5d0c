/**
 * Fuzz tier: the Gearman framing parser and encoder (src/gateway/protocol).
 * Properties over generated packets, admin lines and garbage, each split at
 * generated chunk boundaries. DIPS_FUZZ_SEED / DIPS_FUZZ_RUNS: see fuzz.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { PacketType, REQUEST_ARGS } from '../../src/gateway/protocol/constants.js';
import { encodeRequest, encodeResponse, type Arg } from '../../src/gateway/protocol/encoder.js';
import { GearmanParser, type ParsedItem } from '../../src/gateway/protocol/parser.js';
import { announce, check } from './fuzz.js';

announce('gearman-parser.props.test');

/** The parser's cap on an admin line (MAX_TEXT_LINE in parser.ts, not exported). */
const MAX_TEXT_LINE = 8192;
const VIOLATION_CODES = new Set(['INVALID_COMMAND', 'INVALID_MAGIC', 'ARGUMENT_TOO_LARGE']);
const KNOWN_TYPES = Object.values(PacketType);

/** Arguments in the parser's own terms: the first argc-1 hold no NUL (NUL separates them), the last may hold anything. */
const argc = (type: number): number => REQUEST_ARGS[type] ?? 1;

/** An argument as the encoder takes it: bytes, or a latin1 string (how the encoder writes strings). */
const arg = (withNul: boolean, maxLength: number): fc.Arbitrary<Arg> => {
  const bytes = fc.uint8Array({ maxLength }).map((b) => (withNul ? b : b.map((x) => (x === 0 ? 1 : x))));
  return fc.oneof(bytes, bytes.map((b) => Buffer.from(b).toString('latin1')));
};
const argsFor = (type: number, lastMax = 64): fc.Arbitrary<Arg[]> => {
  const n = argc(type);
  if (n === 0) return fc.constant([]);
  return fc.tuple(fc.array(arg(false, 24), { minLength: n - 1, maxLength: n - 1 }), arg(true, lastMax)).map(([head, last]) => [...head, last]);
};
const anyType = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KNOWN_TYPES) }, { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) });
const bytesOf = (a: Arg): Buffer => (typeof a === 'string' ? Buffer.from(a, 'latin1') : Buffer.from(a));

interface GenPacket {
  magic: 'REQ' | 'RES';
  type: number;
  args: Arg[];
}
const packet = (lastMax = 64): fc.Arbitrary<GenPacket> =>
  fc.record({ magic: fc.constantFrom<'REQ' | 'RES'>('REQ', 'RES'), type: anyType }).chain(({ magic, type }) => argsFor(type, lastMax).map((args) => ({ magic, type, args })));
const encode = (p: GenPacket): Buffer => (p.magic === 'REQ' ? encodeRequest(p.type, p.args) : Buffer.concat(encodeResponse(p.type, p.args)));

/** An admin line: latin1, not starting with NUL (that would be a packet), no newline inside; CR LF or LF. */
const textLine = (maxLength = 120): fc.Arbitrary<string> =>
  fc
    .tuple(fc.integer({ min: 1, max: 255 }).filter((b) => b !== 0x0a), fc.uint8Array({ maxLength }).map((b) => b.filter((x) => x !== 0x0a)), fc.boolean())
    .map(([first, rest, crlf]) => String.fromCharCode(first) + Buffer.from(rest).toString('latin1') + (crlf ? '\r\n' : '\n'));

/** Cut `data` at the given fractions into consecutive chunks (some empty: the parser must take those too). */
const chunked = (data: Buffer, cuts: number[]): Buffer[] => {
  const points = cuts.map((c) => Math.floor(c * (data.length + 1))).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(data.subarray(from, p));
    from = p;
  }
  out.push(data.subarray(from));
  return out;
};
const cuts = fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 12 });

/** Items in a comparable shape (Buffers as hex, so deepEqual sees bytes, not views). */
const plain = (items: ParsedItem[]) => items.map((i) => (i.kind === 'packet' ? { ...i, args: i.args.map((a) => a.toString('hex')) } : i));
const parseAll = (limit: number, chunks: Buffer[]): { items: ParsedItem[]; buffered: number } => {
  const parser = new GearmanParser(limit);
  const items = chunks.flatMap((c) => parser.push(c));
  return { items, buffered: parser.buffered };
};

test('encode → parse round-trips every packet type, request and response, with random arguments', () => {
  check(
    fc.property(packet(), (p) => {
      const wire = encode(p);
      const { items, buffered } = parseAll(wire.length, [wire]);
      const expectedArgs = p.args.map((a) => bytesOf(a).toString('hex'));
      assert.equal(plain(items), [{ kind: 'packet', magic: p.magic, type: p.type, args: expectedArgs, size: wire.length - 12 }]);
      assert.is(buffered, 0);
    }),
    5000,
  );
});

test('encode → parse round-trips large packets (the encoder returns several buffers past 16 KiB)', () => {
  check(
    fc.property(packet(40_000), cuts, (p, at) => {
      const wire = encode(p);
      const { items } = parseAll(wire.length, chunked(wire, at));
      assert.equal(plain(items), [{ kind: 'packet', magic: p.magic, type: p.type, args: p.args.map((a) => bytesOf(a).toString('hex')), size: wire.length - 12 }]);
    }),
    300,
  );
});

test('admin lines: each non-blank line comes out as a text command, CR stripped, however the bytes are chunked', () => {
  check(
    fc.property(fc.array(textLine(), { maxLength: 20 }), cuts, (lines, at) => {
      const wire = Buffer.from(lines.join(''), 'latin1');
      const { items, buffered } = parseAll(1024, chunked(wire, at));
      const expected = lines.map((l) => l.replace(/\r?\n$/, '')).filter((l) => l.trim() !== '').map((line) => ({ kind: 'text', line }));
      assert.equal(items, expected);
      assert.is(buffered, 0);
    }),
    3000,
  );
});

/** A stream of packets, admin lines and raw garbage, kept under MAX_TEXT_LINE in all (see the skipped long-line property). */
const stream = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: packet().map(encode) },
      { weight: 2, arbitrary: textLine().map((l) => Buffer.from(l, 'latin1')) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
    ),
    { maxLength: 20 },
  )
  .map((parts) => Buffer.concat(parts));

test('any stream split at any chunk boundaries parses exactly as the unsplit stream (items and bytes left buffered)', () => {
  check(
    fc.property(stream, cuts, fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constant(16 * 1024 * 1024)), (wire, at, limit) => {
      const whole = parseAll(limit, [wire]);
      const split = parseAll(limit, chunked(wire, at));
      assert.equal(plain(split.items), plain(whole.items));
      assert.is(split.buffered, whole.buffered);
    }),
    5000,
  );
});

/** Garbage that often looks like a header (so the body and size paths run), else any bytes. */
const garbage = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc
        .tuple(fc.constantFrom('\0REQ', '\0RES', '\0REX', 'REQ\0'), fc.nat({ max: 0xffffffff }), fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 0xffffffff })), fc.uint8Array({ maxLength: 80 }))
        .map(([magic, type, size, body]) => {
          const head = Buffer.alloc(12);
          head.write(magic, 0, 'latin1');
          head.writeUInt32BE(type, 4);
          head.writeUInt32BE(size, 8);
          return Buffer.concat([head, body]);
        }),
      fc.constantFrom(Buffer.from('\n'), Buffer.from('\r\n'), Buffer.from([0])),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.concat(parts));

test('garbage never throws: only packets, text, or one fatal violation with a known code, then nothing; buffering stays bounded', () => {
  check(
    fc.property(garbage, cuts, fc.integer({ min: 0, max: 256 }), (wire, at, limit) => {
      const parser = new GearmanParser(limit);
      let violated = false;
      for (const chunk of chunked(wire, at)) {
        const items = parser.push(chunk); // a throw fails the property with the seed
        for (const item of items) {
          assert.not.ok(violated, 'an item after a fatal violation');
          if (item.kind === 'violation') {
            violated = true;
            assert.ok(VIOLATION_CODES.has(item.code), `unknown violation code ${item.code}`);
            assert.ok(item.fatal);
            assert.ok(item.message.length > 0);
          } else if (item.kind === 'packet') {
            assert.ok(item.size <= limit, `a packet of ${item.size} bytes passed the limit of ${limit}`);
            assert.ok(item.args.length <= argc(item.type));
            // the arguments are the body cut at NULs: rejoined, they are exactly `size` bytes
            assert.is(item.args.reduce((n, a) => n + a.length, 0) + Math.max(0, item.args.length - 1), argc(item.type) === 0 ? 0 : item.size);
          } else {
            assert.is(item.kind, 'text');
            assert.ok(item.line.trim() !== '' && !item.line.includes('\n'));
          }
        }
        // held between chunks: a partial header (< 12), an admin line (≤ MAX_TEXT_LINE) or one body (≤ limit)
        assert.ok(parser.buffered <= Math.max(limit, MAX_TEXT_LINE), `buffered ${parser.buffered} bytes with limit ${limit}`);
      }
    }),
    5000,
  );
});

test('a declared size above the limit is refused from the header alone, before any body arrives', () => {
  check(
    fc.property(fc.nat({ max: 1 << 20 }), fc.integer({ min: 1, max: 0xffffffff }), anyType, (limit, over, type) => {
      const size = Math.min(0xffffffff, limit + over);
      const head = Buffer.alloc(12);
      head.write('\0REQ', 0, 'latin1');
      head.writeUInt32BE(type, 4);
      head.writeUInt32BE(size, 8);
      const parser = new GearmanParser(limit);
      const items = parser.push(head);
      assert.is(items.length, 1);
      assert.is(items[0].kind === 'violation' && items[0].code, 'ARGUMENT_TOO_LARGE');
      assert.is(parser.buffered, 0);
    }),
    3000,
  );
});

/*
 * Found by this tier, fixed: the admin-line
 * cap depends on how TCP chunks the bytes. A line longer than MAX_TEXT_LINE whose
 * newline arrives in the same chunk is accepted as a text command; the same
 * bytes split before the newline are refused with INVALID_COMMAND (fatal).
 * Counterexample: 'x' × 9000 + '\n' in one push → [{kind:'text'}]; split at 8999
 * → [{kind:'violation', code:'INVALID_COMMAND'}]. Unskip when parser.ts decides.
 */
test('a text line longer than MAX_TEXT_LINE is treated the same however it is chunked', () => {
  check(
    fc.property(fc.integer({ min: MAX_TEXT_LINE + 1, max: 3 * MAX_TEXT_LINE }), fc.double({ min: 0, max: 1, noNaN: true }), (length, at) => {
      const wire = Buffer.from(`${'x'.repeat(length)}\n`, 'latin1');
      const whole = parseAll(1024, [wire]);
      const split = parseAll(1024, chunked(wire, [at]));
      assert.equal(plain(split.items), plain(whole.items));
    }),
    200,
  );
});

test.run();
