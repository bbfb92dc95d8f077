/**
 * DNS messages (RFC 1035 section 4) for the tunnel's resolver, pure and strict: build a
 * recursive A or AAAA query (RFC 3596 for AAAA), and parse the response to it. Parsing checks
 * the header (id, QR, opcode, one question), that the question echoes ours (case-insensitively,
 * RFC 4343), reads the answer records with name compression (section 4.1.4; pointers must point
 * backwards and are followed at most MAX_POINTERS times, so loops end), and follows the CNAME
 * chain (RFC 1034 section 3.6.2, at most MAX_CNAMES links) from the question to the addresses.
 * Hostile input yields an error result, never an exception.
 */

export const DNS_TYPE_A = 1;
export const DNS_TYPE_CNAME = 5;
export const DNS_TYPE_AAAA = 28;
const CLASS_IN = 1;
const HEADER_LENGTH = 12;
const MAX_POINTERS = 16;
const MAX_CNAMES = 8;
const MAX_NAME_LENGTH = 255;

export const RCODE_NOERROR = 0;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;

export interface DnsAddress {
  readonly address: Uint8Array;
  readonly ttl: number;
}

export type DnsResponse =
  | {
      readonly ok: true;
      readonly rcode: number;
      /** TC: the server cut the answer short. */
      readonly truncated: boolean;
      /** The addresses of the asked type at the end of the CNAME chain. */
      readonly addresses: DnsAddress[];
    }
  | { readonly ok: false; readonly error: string };

/** The wire labels of `name` (a trailing dot allowed), or null when it is not a valid host name. */
export function encodeName(name: string): Uint8Array | null {
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '' || name.length > 253) return null;
  const out: number[] = [];
  for (const label of name.split('.')) {
    if (label.length === 0 || label.length > 63) return null;
    out.push(label.length);
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (c <= 0x20 || c >= 0x7f) return null; // ASCII only (IDNA is the caller's business)
      out.push(c);
    }
  }
  out.push(0);
  return Uint8Array.from(out);
}

/** A query with RD set for `name` and `type`, or null when the name is invalid. */
export function buildQuery(id: number, name: string, type: number): Uint8Array | null {
  const qname = encodeName(name);
  if (qname === null) return null;
  const msg = new Uint8Array(HEADER_LENGTH + qname.length + 4);
  msg[0] = (id >>> 8) & 0xff;
  msg[1] = id & 0xff;
  msg[2] = 0x01; // RD
  msg[5] = 1; // QDCOUNT
  msg.set(qname, HEADER_LENGTH);
  const q = HEADER_LENGTH + qname.length;
  msg[q + 1] = type;
  msg[q + 3] = CLASS_IN;
  return msg;
}

/** A name read from a message: its lower-cased dotted form and where the record continues. */
interface ReadName {
  readonly name: string;
  readonly next: number;
}

/** Reads a possibly compressed name at `offset`; null when malformed, looping or out of bounds. */
export function readName(msg: Uint8Array, offset: number): ReadName | null {
  const labels: string[] = [];
  let length = 0;
  let next = -1;
  let pointers = 0;
  let at = offset;
  for (;;) {
    if (at >= msg.length) return null;
    const len = msg[at]!;
    if (len === 0) {
      if (next < 0) next = at + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (at + 1 >= msg.length) return null;
      const target = ((len & 0x3f) << 8) | msg[at + 1]!;
      if (target >= at || ++pointers > MAX_POINTERS) return null;
      if (next < 0) next = at + 2;
      at = target;
      continue;
    }
    if (kind !== 0) return null; // the 0x40 and 0x80 label types are not in use
    if (at + 1 + len > msg.length) return null;
    length += len + 1;
    if (length > MAX_NAME_LENGTH) return null;
    let label = '';
    for (let i = at + 1; i <= at + len; i++) {
      const c = msg[i]!;
      label += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
    }
    labels.push(label);
    at += 1 + len;
  }
  return { name: labels.join('.'), next };
}

interface RecordView {
  readonly owner: string;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: number;
  readonly rdlength: number;
}

/** Parses the response to the query `id` for `name` and `type`; an error result when it does not fit. */
export function parseResponse(msg: Uint8Array, id: number, name: string, type: number): DnsResponse {
  if (msg.length < HEADER_LENGTH) return { ok: false, error: 'short message' };
  if (((msg[0]! << 8) | msg[1]!) !== id) return { ok: false, error: 'id mismatch' };
  if ((msg[2]! & 0x80) === 0) return { ok: false, error: 'not a response' };
  if ((msg[2]! & 0x78) !== 0) return { ok: false, error: 'not a standard query' };
  const truncated = (msg[2]! & 0x02) !== 0;
  const rcode = msg[3]! & 0x0f;
  const qdcount = (msg[4]! << 8) | msg[5]!;
  const ancount = (msg[6]! << 8) | msg[7]!;
  if (qdcount !== 1) return { ok: false, error: 'question count' };
  const q = readName(msg, HEADER_LENGTH);
  if (q === null || q.next + 4 > msg.length) return { ok: false, error: 'bad question' };
  const wanted = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  const qtype = (msg[q.next]! << 8) | msg[q.next + 1]!;
  const qclass = (msg[q.next + 2]! << 8) | msg[q.next + 3]!;
  if (q.name !== wanted || qtype !== type || qclass !== CLASS_IN)
    return { ok: false, error: 'question mismatch' };
  const records: RecordView[] = [];
  let at = q.next + 4;
  for (let i = 0; i < ancount; i++) {
    const owner = readName(msg, at);
    if (owner === null || owner.next + 10 > msg.length) {
      // A truncated answer section is usable up to where it was cut.
      if (truncated) break;
      return { ok: false, error: 'bad record' };
    }
    const p = owner.next;
    const rtype = (msg[p]! << 8) | msg[p + 1]!;
    const rclass = (msg[p + 2]! << 8) | msg[p + 3]!;
    const ttl = ((msg[p + 4]! << 24) | (msg[p + 5]! << 16) | (msg[p + 6]! << 8) | msg[p + 7]!) >>> 0;
    const rdlength = (msg[p + 8]! << 8) | msg[p + 9]!;
    if (p + 10 + rdlength > msg.length) {
      if (truncated) break;
      return { ok: false, error: 'record past the end' };
    }
    // RFC 2181 section 8: a TTL with the top bit set counts as zero.
    if (rclass === CLASS_IN)
      records.push({
        owner: owner.name,
        type: rtype,
        ttl: ttl > 0x7fffffff ? 0 : ttl,
        rdata: p + 10,
        rdlength,
      });
    at = p + 10 + rdlength;
  }
  const addressLength = type === DNS_TYPE_A ? 4 : 16;
  let current = wanted;
  for (let hops = 0; hops <= MAX_CNAMES; hops++) {
    const addresses: DnsAddress[] = [];
    for (const r of records) {
      if (r.owner !== current || r.type !== type) continue;
      if (r.rdlength !== addressLength) return { ok: false, error: 'bad address record' };
      addresses.push({ address: msg.slice(r.rdata, r.rdata + r.rdlength), ttl: r.ttl });
    }
    if (addresses.length > 0) return { ok: true, rcode, truncated, addresses };
    const alias = records.find((r) => r.owner === current && r.type === DNS_TYPE_CNAME);
    if (alias === undefined) return { ok: true, rcode, truncated, addresses };
    const target = readName(msg, alias.rdata);
    if (target === null || target.next > alias.rdata + alias.rdlength)
      return { ok: false, error: 'bad CNAME' };
    current = target.name;
  }
  return { ok: false, error: 'CNAME chain too long' };
}
