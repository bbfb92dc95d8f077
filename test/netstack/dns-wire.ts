/**
 * A hand-rolled DNS response writer for the DNS tests (RFC 1035 section 4.1), independent of
 * src/netstack/dns-message.ts: a question section echoed from the query, then records given as
 * owner names (plain or as compression pointers) and raw rdata.
 */

export type NameSpec = string | { pointer: number } | { labels: string; pointer: number };

function nameBytes(spec: NameSpec): number[] {
  const out: number[] = [];
  const labels = typeof spec === 'string' ? spec : 'labels' in spec ? spec.labels : '';
  for (const label of labels.split('.').filter((l) => l !== '')) {
    out.push(label.length, ...[...label].map((c) => c.charCodeAt(0)));
  }
  if (typeof spec === 'string') out.push(0);
  else out.push(0xc0 | (spec.pointer >> 8), spec.pointer & 0xff);
  return out;
}

export interface RecordSpec {
  owner: NameSpec;
  type: number;
  ttl?: number;
  rdata: number[] | { name: NameSpec };
}

export interface ResponseSpec {
  id: number;
  qname: string;
  qtype: number;
  rcode?: number;
  truncated?: boolean;
  qdcount?: number;
  answers?: RecordSpec[];
  /** Override the ANCOUNT field. */
  ancount?: number;
}

export function response(spec: ResponseSpec): Uint8Array {
  const out: number[] = [
    spec.id >> 8,
    spec.id & 0xff,
    0x81 | (spec.truncated === true ? 0x02 : 0),
    0x80 | (spec.rcode ?? 0),
    0,
    spec.qdcount ?? 1,
    0,
    spec.ancount ?? (spec.answers ?? []).length,
    0,
    0,
    0,
    0,
  ];
  out.push(...nameBytes(spec.qname), 0, spec.qtype, 0, 1);
  for (const r of spec.answers ?? []) {
    out.push(...nameBytes(r.owner), 0, r.type, 0, 1);
    const ttl = r.ttl ?? 300;
    out.push((ttl >>> 24) & 0xff, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff);
    const rdata = Array.isArray(r.rdata) ? r.rdata : nameBytes(r.rdata.name);
    out.push(rdata.length >> 8, rdata.length & 0xff, ...rdata);
  }
  return Uint8Array.from(out);
}

/** Answers a query (as a NetStack UDP binding or a dgram server sees it) from a table of names. */
export function answerQuery(
  query: Uint8Array,
  table: Record<string, { a?: number[][]; aaaa?: number[][]; cname?: string; rcode?: number }>,
): Uint8Array | null {
  if (query.length < 17) return null;
  const id = (query[0]! << 8) | query[1]!;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at] !== 0) {
    const len = query[at]!;
    labels.push(String.fromCharCode(...query.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  const qname = labels.join('.');
  const qtype = query[at + 2]!;
  const entry = table[qname.toLowerCase()];
  if (entry === undefined) return response({ id, qname, qtype, rcode: 3 });
  if (entry.rcode !== undefined) return response({ id, qname, qtype, rcode: entry.rcode });
  const answers: RecordSpec[] = [];
  let owner: NameSpec = { pointer: 12 };
  let current = entry;
  if (current.cname !== undefined) {
    answers.push({ owner, type: 5, rdata: { name: current.cname } });
    owner = current.cname;
    current = table[current.cname] ?? {};
  }
  for (const a of (qtype === 1 ? current.a : current.aaaa) ?? [])
    answers.push({ owner, type: qtype, rdata: a });
  return response({ id, qname, qtype, answers });
}
