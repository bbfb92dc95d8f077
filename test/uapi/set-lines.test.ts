/**
 * SetLines (src/uapi/set-lines.ts): lines packed in blocks come back exactly as appended, in
 * order, across block boundaries and for lines longer than a block, and the byte count is what
 * they weigh with their newlines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SetLines } from '../../src/uapi/set-lines.js';

test('lines come back as appended, across block boundaries and longer than a block', () => {
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(`allowed_ip=10.${i >> 8}.${i & 0xff}.0/24`);
  lines.splice(777, 0, 'x'.repeat(100_000), '', '=\u00ff');
  const packed = SetLines.of(lines);
  assert.equal(packed.length, lines.length);
  assert.equal(
    packed.bytes,
    lines.reduce((n, l) => n + l.length + 1, 0),
  );
  assert.deepEqual([...packed], lines);
  // Iterating twice gives the same, and appending afterwards extends it.
  assert.deepEqual([...packed], lines);
  packed.append(Buffer.from('zz=1'), 0, 4);
  assert.deepEqual([...packed].slice(-2), [lines.at(-1), 'zz=1']);
});

test('append takes a range of a larger buffer', () => {
  const s = new SetLines();
  const buf = Buffer.from('set=1\nlisten_port=1\nfwmark=2\n');
  s.append(buf, 6, 19);
  s.append(buf, 20, 28);
  assert.deepEqual([...s], ['listen_port=1', 'fwmark=2']);
  assert.deepEqual([...new SetLines()], []);
});
