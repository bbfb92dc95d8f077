/**
 * RequestReader framing (wireguard-go's IpcHandle): verbs, the one byte after `get=1`, CR handling,
 * line and request limits, and that any split of the byte stream yields the same events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestReader, type ReaderEvent, type RequestReaderOptions } from '../../src/uapi/reader.js';

/** A reader event with a set's lines as an array, for comparing. */
type Event = Exclude<ReaderEvent, { kind: 'set' }> | { readonly kind: 'set'; readonly lines: string[] };

function events(input: string | Buffer, options?: RequestReaderOptions, splits?: readonly number[]): Event[] {
  const r = new RequestReader(options);
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  let at = 0;
  for (const s of [...(splits ?? []), buf.length]) {
    r.push(buf.subarray(at, s));
    at = s;
  }
  const out: Event[] = [];
  for (let ev = r.take(); ev !== null; ev = r.take())
    out.push(ev.kind === 'set' ? { kind: 'set', lines: [...ev.lines] } : ev);
  return out;
}

const kinds = (evs: readonly (Event | ReaderEvent)[]): string[] =>
  evs.map((e) => (e.kind === 'reply' || e.kind === 'fail' ? `${e.kind}${e.errno}` : e.kind));

test('get, set and several requests on one stream', () => {
  assert.deepEqual(events('get=1\n\n'), [{ kind: 'get' }]);
  assert.deepEqual(events('set=1\n\n'), [{ kind: 'set', lines: [] }]);
  assert.deepEqual(events('set=1\na=1\nb=2\n\nget=1\n\nset=1\nc=3\n\n'), [
    { kind: 'set', lines: ['a=1', 'b=2'] },
    { kind: 'get' },
    { kind: 'set', lines: ['c=3'] },
  ]);
});

test('unknown verbs close without a reply, and nothing after them is read', () => {
  for (const verb of [
    'bogus\n',
    'GET=1\n',
    'get=2\n',
    'get=1 \n',
    ' get=1\n',
    'get=1\r\n',
    'set=1\r\n',
    '\n',
    'set\n',
  ]) {
    const evs = events(`${verb}get=1\n\n`);
    assert.deepEqual(kinds(evs), ['close'], JSON.stringify(verb));
  }
});

test('get=1 must be followed by exactly a newline: one byte is consumed, EINVAL, then the next verb', () => {
  assert.deepEqual(kinds(events('get=1\nx\n\n')), ['reply-22', 'close']);
  assert.deepEqual(kinds(events('get=1\n\r\n')), ['reply-22', 'close']);
  // The byte after `get=1\n` is eaten, so the rest must itself be a verb line to go on.
  assert.deepEqual(kinds(events('get=1\nxget=1\n\n')), ['reply-22', 'get']);
  assert.deepEqual(kinds(events('get=1\n')), []);
  assert.deepEqual(kinds(events('get=1')), []);
});

test('set lines drop one CR, so CRLF works and a CR-only line ends the request', () => {
  assert.deepEqual(events('set=1\r\n'), [{ kind: 'close', reason: 'invalid UAPI operation: "set=1\\r"' }]);
  assert.deepEqual(events('set=1\nlisten_port=1\r\n\r\n'), [{ kind: 'set', lines: ['listen_port=1'] }]);
  assert.deepEqual(events('set=1\nx=1\r\r\n\n'), [{ kind: 'set', lines: ['x=1\r'] }]);
});

test('bytes are kept one character each (latin1), so nothing fails to decode', () => {
  const evs = events(Buffer.from([...Buffer.from('set=1\nk='), 0xff, 0xc3, 0x28, 0x0a, 0x0a]));
  assert.deepEqual(evs, [{ kind: 'set', lines: ['k=\u00ff\u00c3('] }]);
});

test('any split of the stream gives the same events', () => {
  const stream = 'set=1\nlisten_port=1\r\npublic_key=ab\n\nget=1\n\nget=1\nxset=1\n\nbogus\nget=1\n\n';
  const whole = events(stream);
  // `x` is the byte eaten after the second get; `set=1\n\n` then follows as its own request.
  assert.deepEqual(kinds(whole), ['set', 'get', 'reply-22', 'set', 'close']);
  for (let i = 0; i <= stream.length; i++) {
    for (let j = i; j <= stream.length; j += 7) {
      assert.deepEqual(events(stream, {}, [i, j]), whole, `split at ${i},${j}`);
    }
  }
  const bytewise = Array.from({ length: stream.length }, (_, i) => i + 1);
  assert.deepEqual(events(stream, {}, bytewise), whole);
});

test('a set line of 64 KiB fails with EIO and ends the stream; one byte less is fine', () => {
  const ok = `set=1\nk=${'1'.repeat(65535 - 2)}\n\n`;
  assert.deepEqual(kinds(events(ok)), ['set']);
  const long = `set=1\nk=${'1'.repeat(65535 - 1)}\n\nget=1\n\n`;
  assert.deepEqual(kinds(events(long)), ['fail-5']);
  // Detected before the newline arrives, so the line is never buffered whole.
  const r = new RequestReader();
  r.push(Buffer.from('set=1\n'));
  for (let i = 0; i < 16; i++) r.push(Buffer.alloc(65536, 0x31));
  assert.deepEqual(kinds([r.take()!]), ['fail-5']);
  assert.equal(r.take(), null);
  assert.equal(r.finished, true);
  r.push(Buffer.from('get=1\n\n'));
  assert.equal(r.take(), null);
});

test('a long verb line closes without a reply', () => {
  assert.deepEqual(kinds(events('g'.repeat(1 << 20))), ['close']);
  assert.deepEqual(kinds(events(`${'g'.repeat(100)}\n`)), ['close']);
});

test('a set request over maxRequestBytes fails with EIO', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `allowed_ip=10.0.${i}.0/24`).join('\n');
  const stream = `set=1\n${lines}\n\n`;
  assert.deepEqual(kinds(events(stream, { maxRequestBytes: stream.length - 1 })), ['set']);
  assert.deepEqual(kinds(events(stream, { maxRequestBytes: 1000 })), ['fail-5']);
  assert.deepEqual(kinds(events('set=1\nabcdef\n\n', { maxLineBytes: 5 })), ['fail-5']);
});

test('midRequest tracks a request under way', () => {
  const r = new RequestReader();
  assert.equal(r.midRequest, false);
  r.push(Buffer.from('ge'));
  assert.equal(r.midRequest, true);
  r.push(Buffer.from('t=1\n'));
  assert.equal(r.midRequest, true);
  r.push(Buffer.from('\n'));
  assert.equal(r.midRequest, false);
  r.push(Buffer.from('set=1\n'));
  assert.equal(r.midRequest, true);
  r.push(Buffer.from('\n'));
  assert.equal(r.midRequest, false);
  assert.deepEqual(kinds([r.take()!, r.take()!]), ['get', 'set']);
});

test('130,560 allowed_ip lines fit in one request', () => {
  const parts = ['set=1', `public_key=${'1'.repeat(64)}`];
  for (let i = 0; i < 130_560; i++)
    parts.push(`allowed_ip=ffff:ffff:ffff:ffff:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/96`);
  parts.push('', '');
  const evs = events(parts.join('\n'));
  assert.equal(evs.length, 1);
  const ev = evs[0]!;
  assert.equal(ev.kind, 'set');
  assert.equal(ev.kind === 'set' ? ev.lines.length : 0, 130_561);
});
