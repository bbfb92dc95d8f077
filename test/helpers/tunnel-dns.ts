/**
 * A tiny authoritative DNS responder for the tunnel peer fixture (RFC 1035 §4.1 message format,
 * §4.1.4 name compression in answers, §4.2.2 two-byte length prefix over TCP; AAAA from RFC 3596).
 * It answers one question per query, A and AAAA only, from a fixed table of names; other types of a
 * known name get an empty NOERROR answer, unknown names NXDOMAIN. Malformed queries are counted and
 * dropped, never answered and never thrown. Pure functions: the sockets live in tunnel-servers.ts.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;
const HEADER_BYTES = 12;
const TTL_S = 60;

/** Lower-case name (no trailing dot) → its addresses (v4 and v6 mixed). */
export type DnsTable = ReadonlyMap<string, readonly string[]>;

export interface DnsQuestion {
  readonly id: number;
  readonly rd: boolean;
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  /** End of the question section (the answers' name pointer points at offset 12). */
  readonly end: number;
}

/** Parses a standard query with exactly one question, or returns null (a drop). */
export function parseQuery(msg: Uint8Array): DnsQuestion | null {
  if (msg.length < HEADER_BYTES + 5) return null;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const flags = view.getUint16(2);
  // QR must be 0 (a query) and OPCODE 0 (standard query).
  if ((flags & 0x8000) !== 0 || ((flags >> 11) & 0xf) !== 0) return null;
  if (view.getUint16(4) !== 1) return null;
  const labels: string[] = [];
  let at = HEADER_BYTES;
  for (;;) {
    const len = msg[at];
    if (len === undefined || len > 63) return null; // no compression inside a question
    at += 1;
    if (len === 0) break;
    if (at + len > msg.length) return null;
    labels.push(
      Buffer.from(msg.subarray(at, at + len))
        .toString('latin1')
        .toLowerCase(),
    );
    at += len;
  }
  if (at + 4 > msg.length) return null;
  return {
    id: view.getUint16(0),
    rd: (flags & 0x0100) !== 0,
    name: labels.join('.'),
    qtype: view.getUint16(at),
    qclass: view.getUint16(at + 2),
    end: at + 4,
  };
}

function rdata(type: number, address: string): Buffer | null {
  if (type === TYPE_A && isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (type === TYPE_AAAA && isIPv6(address)) {
    const [head = '', tail = ''] = address.split('::');
    const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
    const h = groups(head);
    const t = address.includes('::') ? groups(tail) : [];
    const all = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const out = Buffer.alloc(16);
    all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
  }
  return null;
}

/** The response to `query` (its raw bytes and parsed question) from `table`. */
export function answer(query: Uint8Array, q: DnsQuestion, table: DnsTable): Buffer {
  const known = table.get(q.name);
  const records =
    known === undefined || q.qclass !== CLASS_IN
      ? []
      : known.map((a) => rdata(q.qtype, a)).filter((r): r is Buffer => r !== null);
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt16BE(q.id, 0);
  // QR, AA, RD copied; RCODE 3 (NXDOMAIN) for names not in the table.
  head.writeUInt16BE(0x8000 | 0x0400 | (q.rd ? 0x0100 : 0) | (known === undefined ? 3 : 0), 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(records.length, 6);
  const parts: Buffer[] = [head, Buffer.from(query.subarray(HEADER_BYTES, q.end))];
  for (const r of records) {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc000 | HEADER_BYTES, 0); // pointer to the question's name
    rr.writeUInt16BE(q.qtype, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(TTL_S, 6);
    rr.writeUInt16BE(r.length, 10);
    parts.push(rr, r);
  }
  return Buffer.concat(parts);
}

/** `address` in the form parseAnswers prints (dotted quad; eight unpadded hex groups for v6). */
export function canonicalAddress(address: string): string {
  const v6 = rdata(TYPE_AAAA, address);
  if (v6 === null) return address;
  const g: string[] = [];
  for (let j = 0; j < 16; j += 2) g.push(v6.readUInt16BE(j).toString(16));
  return g.join(':');
}

/** A query for `name` and `qtype` (for clients in tests). */
export function buildQuery(id: number, name: string, qtype: number): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const body = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])),
    Buffer.from([0, qtype >> 8, qtype & 0xff, 0, CLASS_IN]),
  ]);
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2);
  head.writeUInt16BE(1, 4);
  return Buffer.concat([head, body]);
}

/** The RCODE and the A/AAAA addresses of a response (for clients in tests), or null if malformed. */
export function parseAnswers(msg: Uint8Array): { rcode: number; addresses: string[] } | null {
  const q = parseQuery(Buffer.concat([msg.subarray(0, 2), Buffer.from([1, 0]), msg.subarray(4)]));
  if (q === null) return null;
  const count = (msg[6]! << 8) | msg[7]!;
  const addresses: string[] = [];
  let at = q.end;
  for (let i = 0; i < count; i++) {
    if (at + 12 > msg.length) return null;
    const type = (msg[at + 2]! << 8) | msg[at + 3]!;
    const len = (msg[at + 10]! << 8) | msg[at + 11]!;
    const data = msg.subarray(at + 12, at + 12 + len);
    if (data.length !== len) return null;
    if (type === TYPE_A && len === 4) addresses.push([...data].join('.'));
    if (type === TYPE_AAAA && len === 16) {
      const g: string[] = [];
      for (let j = 0; j < 16; j += 2) g.push(((data[j]! << 8) | data[j + 1]!).toString(16));
      addresses.push(g.join(':'));
    }
    at += 12 + len;
  }
  return { rcode: msg[3]! & 0xf, addresses };
}
