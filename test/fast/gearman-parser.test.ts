/** The Gearman framing parser alone: round trips, byte-at-a-time feeding, limits. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GearmanParser, type ParsedItem } from '../../src/gateway/protocol/parser.js';
import { PacketType, REQ_MAGIC } from '../../src/gateway/protocol/constants.js';
import { encodeRequest, header } from '../../src/gateway/protocol/encoder.js';

const frame = (type: number, args: (string | Buffer)[]) => encodeRequest(type, args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a)));

const stream = Buffer.concat([
  frame(PacketType.SUBMIT_JOB, ['ecard', 'uniq-1', Buffer.from('a:1:{s:1:"x";s:3:"\0\0\0";}')]),
  Buffer.from('status\r\n'),
  frame(PacketType.ECHO_REQ, [Buffer.from([0, 1, 2, 0])]),
  frame(PacketType.GRAB_JOB_ALL, []),
  frame(PacketType.SUBMIT_JOB_EPOCH, ['fn', '', '1700000000', 'data']),
  Buffer.from('show jobs\n'),
]);

const summary = (items: ParsedItem[]) =>
  items.map((i) => (i.kind === 'packet' ? `${i.type}:${i.args.map((a) => a.toString('hex')).join(',')}` : i.kind === 'text' ? `text:${i.line}` : `violation:${i.code}`));

test('whole stream and byte-at-a-time feeding give the same packets', () => {
  const whole = summary(new GearmanParser(1024).push(stream));
  assert.is(whole.length, 6);
  assert.is(whole[1], 'text:status');
  assert.is(whole[0], `${PacketType.SUBMIT_JOB}:${Buffer.from('ecard').toString('hex')},${Buffer.from('uniq-1').toString('hex')},${Buffer.from('a:1:{s:1:"x";s:3:"\0\0\0";}').toString('hex')}`);
  const parser = new GearmanParser(1024);
  const bytewise: ParsedItem[] = [];
  for (const byte of stream) bytewise.push(...parser.push(Buffer.from([byte])));
  assert.equal(summary(bytewise), whole);
  for (const cut of [1, 5, 11, 12, 13, 40, stream.length - 1]) {
    const p = new GearmanParser(1024);
    assert.equal(summary([...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))]), whole, `split at ${cut}`);
  }
});

test('a declared size over the limit is refused from the header alone', () => {
  const parser = new GearmanParser(1024);
  const items = parser.push(header(REQ_MAGIC, PacketType.SUBMIT_JOB, 0xffffffff));
  assert.equal(summary(items), ['violation:ARGUMENT_TOO_LARGE']);
  assert.is(parser.buffered, 0, 'nothing buffered');
  assert.equal(parser.push(Buffer.alloc(100)), [], 'after a violation the stream is ignored');
});

test('bad magic and over-long text lines are violations', () => {
  assert.equal(summary(new GearmanParser(1024).push(Buffer.from('\0XYZ\0\0\0\x07\0\0\0\0'))), ['violation:INVALID_MAGIC']);
  assert.equal(summary(new GearmanParser(1024).push(Buffer.alloc(9000, 0x61))), ['violation:INVALID_COMMAND']);
});

test.run();
