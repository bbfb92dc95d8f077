/**
 * SOCKS version 5 on the wire (RFC 1928): the method numbers (§3), commands and address types
 * (§4), reply codes (§6), the DST/BND address encoding shared by requests, replies and the UDP
 * request header (§7), and the mapping from Node's connect errors to reply codes.
 */
import { isIP } from 'node:net';
import { formatIP } from '../routing/ip-format.js';
import { parseIPv4, parseIPv6 } from '../routing/ip.js';
import type { ByteReader } from './byte-reader.js';

export const SOCKS_VERSION = 0x05;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_USERPASS = 0x02;
export const METHOD_NONE_ACCEPTABLE = 0xff;
/** RFC 1929 §2: the version of the username/password subnegotiation. */
export const USERPASS_VERSION = 0x01;

export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;
export const CMD_UDP_ASSOCIATE = 0x03;

export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAINNAME = 0x03;
export const ATYP_IPV6 = 0x04;

export const REP_SUCCEEDED = 0x00;
export const REP_GENERAL_FAILURE = 0x01;
export const REP_NOT_ALLOWED = 0x02;
export const REP_NETWORK_UNREACHABLE = 0x03;
export const REP_HOST_UNREACHABLE = 0x04;
export const REP_CONNECTION_REFUSED = 0x05;
export const REP_TTL_EXPIRED = 0x06;
export const REP_COMMAND_NOT_SUPPORTED = 0x07;
export const REP_ADDRESS_TYPE_NOT_SUPPORTED = 0x08;

export interface SocksAddress {
  /** An IP literal or a domain name (ATYP 3). */
  readonly host: string;
  readonly port: number;
  readonly atyp: number;
}

/** The reply code for a failed connect or lookup (Node error codes). */
export function replyForError(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return REP_CONNECTION_REFUSED;
    case 'ENETUNREACH':
      return REP_NETWORK_UNREACHABLE;
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ENODATA':
      return REP_HOST_UNREACHABLE;
    default:
      return REP_GENERAL_FAILURE;
  }
}

/** ATYP, address and port as the wire carries them. */
export function encodeAddress(host: string, port: number): Buffer {
  const v4 = isIP(host) === 4 ? parseIPv4(host) : null;
  const v6 = isIP(host) === 6 ? parseIPv6(host) : null;
  let head: Buffer;
  if (v4 !== null) head = Buffer.from([ATYP_IPV4, ...v4]);
  else if (v6 !== null) head = Buffer.from([ATYP_IPV6, ...v6]);
  else {
    const name = Buffer.from(host, 'utf8');
    head = Buffer.concat([Buffer.from([ATYP_DOMAINNAME, name.length]), name]);
  }
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([head, p]);
}

/** Reads ATYP, address and port from a stream; null for an unknown ATYP (the byte is consumed). */
export async function readAddress(r: ByteReader): Promise<SocksAddress | null> {
  const atyp = await r.readByte();
  let host: string;
  if (atyp === ATYP_IPV4) host = [...(await r.read(4))].join('.');
  else if (atyp === ATYP_IPV6) host = formatIP(await r.read(16));
  else if (atyp === ATYP_DOMAINNAME) host = (await r.read(await r.readByte())).toString('utf8');
  else return null;
  return { host, port: (await r.read(2)).readUInt16BE(0), atyp };
}

/** Parses ATYP, address and port at `offset` of a datagram; null when short or unknown. */
export function decodeAddress(b: Buffer, offset: number): { addr: SocksAddress; end: number } | null {
  const atyp = b[offset];
  let host: string;
  let at = offset + 1;
  if (atyp === ATYP_IPV4 && b.length >= at + 6) {
    host = [...b.subarray(at, at + 4)].join('.');
    at += 4;
  } else if (atyp === ATYP_IPV6 && b.length >= at + 18) {
    host = formatIP(b.subarray(at, at + 16));
    at += 16;
  } else if (atyp === ATYP_DOMAINNAME && b.length >= at + 1 && b.length >= at + 1 + b[at]! + 2) {
    const len = b[at]!;
    host = b.subarray(at + 1, at + 1 + len).toString('utf8');
    at += 1 + len;
  } else return null;
  return { addr: { host, port: b.readUInt16BE(at), atyp }, end: at + 2 };
}

/** A reply (§6): VER REP RSV ATYP BND.ADDR BND.PORT. */
export function encodeReply(rep: number, host = '0.0.0.0', port = 0): Buffer {
  return Buffer.concat([Buffer.from([SOCKS_VERSION, rep, 0x00]), encodeAddress(host, port)]);
}
