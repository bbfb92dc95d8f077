/**
 * The bytes of a UAPI `get=1` reply (wireguard.com/xplatform; wireguard-go's IpcGetOperation),
 * written straight into one growing Buffer: the codec's formatGet is this encoder's output read
 * back as text. A 100,000-peer reply is about 32 MiB and 1.1 million lines; building it as lines
 * (two or three strings per line, then a join, then the socket's own UTF-8 copy of the result)
 * cost most of a second and a few hundred MiB of garbage. Here the fixed text between values is
 * copied from pre-encoded constants (a peer that never handshook gets one constant for its two
 * handshake lines), keys are hex-encoded through a table of digit pairs, numbers and IPv4
 * addresses are written digit by digit, and the only strings made are for IPv6 addresses (their
 * RFC 5952 form lives in routing/ip-format.ts and uapi/values.ts). ASCII only, so bytes and
 * latin1 text correspond one to one. The first `get` after a big `set` runs mostly before V8 has
 * optimised any of this, so fewer, larger steps per peer matter as much as their speed.
 */
import { isAllZero } from '../crypto/bytes.js';
import type { PrefixVisitor } from '../routing/allowed-ips.js';
import type { EndpointAddress, IpPrefix } from './types.js';
import { formatAllowedIP, formatEndpoint } from './values.js';

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));

const PRIVATE_KEY = ascii('private_key=');
const LISTEN_PORT = ascii('listen_port=');
const FWMARK = ascii('fwmark=');
const PUBLIC_KEY = ascii('public_key=');
const PRESHARED_KEY = ascii('\npreshared_key=');
const VERSION_ENDPOINT = ascii('\nprotocol_version=1\nendpoint=');
const VERSION = ascii('\nprotocol_version=1');
/** What follows the public key of a peer without a pre-shared key, up to its endpoint's value. */
const NO_KEY_VERSION_ENDPOINT = ascii(`\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1\nendpoint=`);
const NO_KEY_VERSION = ascii(`\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1`);
const HANDSHAKE_SEC = ascii('\nlast_handshake_time_sec=');
const HANDSHAKE_NSEC = ascii('\nlast_handshake_time_nsec=');
/** Both handshake lines of a peer that never completed one, and the tx_bytes key after them. */
const NO_HANDSHAKE_TX = ascii('\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=');
const TX_BYTES = ascii('\ntx_bytes=');
const RX_BYTES = ascii('\nrx_bytes=');
const KEEPALIVE = ascii('\npersistent_keepalive_interval=');
const ALLOWED_IP = ascii('\nallowed_ip=');
const END = ascii('errno=0\n\n');

/** The two hex digits of every byte value, at 2 × value. */
const HEX_PAIRS = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  HEX_PAIRS[2 * b] = '0123456789abcdef'.charCodeAt(b >>> 4);
  HEX_PAIRS[2 * b + 1] = '0123456789abcdef'.charCodeAt(b & 15);
}
const NL = 0x0a;
const ZERO = 0x30;
const DOT = 0x2e;
const COLON = 0x3a;
const SLASH = 0x2f;
/** Most digits #decimal writes itself (beyond MAX_SAFE_INTEGER it writes BigInt's text). */
const MAX_DIGITS = 16;

const INITIAL_BYTES = 16 * 1024;
/** Constants up to this long are copied by a loop (see #put). */
const SHORT_CONSTANT = 16;

/**
 * Writes one `get` reply: `device`, then per peer `peer` and its allowed IPs (`allowedIP`, or the
 * PrefixVisitor calls AllowedIPs.visitEntries makes), then `finish`.
 */
export class GetEncoder implements PrefixVisitor {
  #buf: Buffer;
  #pos = 0;

  /** `sizeHint`: the bytes expected, so the buffer need not grow (it does when they are more). */
  constructor(sizeHint = INITIAL_BYTES) {
    this.#buf = Buffer.allocUnsafe(Math.max(INITIAL_BYTES, sizeHint));
  }

  /** The device lines (private_key, listen_port, fwmark), each only when set, as formatGet has them. */
  device(privateKey: Uint8Array | null, listenPort: number, fwmark: number): void {
    if (privateKey !== null && !isAllZero(privateKey)) {
      this.#newline();
      this.#put(PRIVATE_KEY);
      this.#hexKey(privateKey);
    }
    if (listenPort !== 0) {
      this.#newline();
      this.#put(LISTEN_PORT);
      this.#decimal(listenPort);
    }
    if (fwmark !== 0) {
      this.#newline();
      this.#put(FWMARK);
      this.#decimal(fwmark);
    }
  }

  /** One peer's lines up to persistent_keepalive_interval (0 and 0: never a handshake). */
  peer(
    publicKey: Uint8Array,
    presharedKey: Uint8Array | null,
    endpoint: EndpointAddress | null,
    lastHandshakeSec: number,
    lastHandshakeNsec: number,
    txBytes: number,
    rxBytes: number,
    persistentKeepalive: number,
  ): void {
    this.#newline();
    this.#put(PUBLIC_KEY);
    this.#hexKey(publicKey);
    if (presharedKey === null) this.#put(endpoint !== null ? NO_KEY_VERSION_ENDPOINT : NO_KEY_VERSION);
    else {
      this.#put(PRESHARED_KEY);
      this.#hexKey(presharedKey);
      this.#put(endpoint !== null ? VERSION_ENDPOINT : VERSION);
    }
    if (endpoint !== null) this.#endpoint(endpoint);
    if (lastHandshakeSec === 0 && lastHandshakeNsec === 0) this.#put(NO_HANDSHAKE_TX);
    else {
      this.#put(HANDSHAKE_SEC);
      this.#decimal(lastHandshakeSec);
      this.#put(HANDSHAKE_NSEC);
      this.#decimal(lastHandshakeNsec);
      this.#put(TX_BYTES);
    }
    this.#decimal(txBytes);
    this.#put(RX_BYTES);
    this.#decimal(rxBytes);
    this.#put(KEEPALIVE);
    this.#decimal(persistentKeepalive);
  }

  /** An allowed IP of the last peer: IPv4, the address a big-endian int32 with host bits clear. */
  ipv4(address: number, cidr: number): void {
    if (!Number.isInteger(cidr) || cidr < 0 || cidr > 32) {
      throw new RangeError(`cidr must be an integer in [0, 32], got ${cidr}`);
    }
    this.#put(ALLOWED_IP);
    this.#ipv4(address);
    this.#room(1);
    this.#buf[this.#pos++] = SLASH;
    this.#decimal(cidr);
  }

  /** An allowed IP of the last peer: IPv6, as four big-endian int32 words. */
  ipv6(w0: number, w1: number, w2: number, w3: number, cidr: number): void {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setInt32(0, w0);
    view.setInt32(4, w1);
    view.setInt32(8, w2);
    view.setInt32(12, w3);
    this.allowedIP({ family: 6, bytes, cidr });
  }

  /** An allowed IP of the last peer, any family. */
  allowedIP(prefix: IpPrefix): void {
    const b = prefix.bytes;
    if (b.length === 4) {
      this.ipv4((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!, prefix.cidr);
      return;
    }
    const text = formatAllowedIP(prefix);
    this.#put(ALLOWED_IP);
    this.#latin1(text);
  }

  /** The reply: what was written, then `errno=0` and the blank line. A view, not a copy. */
  finish(): Uint8Array {
    this.#newline();
    this.#put(END);
    return this.#buf.subarray(0, this.#pos);
  }

  // ---- pieces -----------------------------------------------------------------------------------

  /** Ends the line before, if any: lines are joined by newlines, as formatGet's were. */
  #newline(): void {
    if (this.#pos === 0) return;
    this.#room(1);
    this.#buf[this.#pos++] = NL;
  }

  #room(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + bytes));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  /**
   * Copies a pre-encoded constant: short ones byte by byte, long ones with TypedArray.set, whose
   * fixed cost (about ten bytes' worth once optimised, more before) only pays off past that.
   */
  #put(constant: Uint8Array): void {
    const n = constant.length;
    this.#room(n);
    const buf = this.#buf;
    if (n > SHORT_CONSTANT) {
      buf.set(constant, this.#pos);
      this.#pos += n;
      return;
    }
    let pos = this.#pos;
    for (let i = 0; i < n; i++) buf[pos++] = constant[i]!;
    this.#pos = pos;
  }

  #latin1(text: string): void {
    this.#room(text.length);
    this.#pos += this.#buf.write(text, this.#pos, 'latin1');
  }

  #hexKey(key: Uint8Array): void {
    if (key.length !== 32) throw new RangeError(`a key is 32 bytes, got ${key.length}`);
    this.#room(64);
    const buf = this.#buf;
    const pos = this.#pos;
    // Four bytes a step: a quarter of the loop overhead, which is most of the cost until optimised.
    for (let i = 0, o = pos; i < 32; i += 4, o += 8) {
      const a = key[i]! << 1;
      const b = key[i + 1]! << 1;
      const c = key[i + 2]! << 1;
      const d = key[i + 3]! << 1;
      buf[o] = HEX_PAIRS[a]!;
      buf[o + 1] = HEX_PAIRS[a + 1]!;
      buf[o + 2] = HEX_PAIRS[b]!;
      buf[o + 3] = HEX_PAIRS[b + 1]!;
      buf[o + 4] = HEX_PAIRS[c]!;
      buf[o + 5] = HEX_PAIRS[c + 1]!;
      buf[o + 6] = HEX_PAIRS[d]!;
      buf[o + 7] = HEX_PAIRS[d + 1]!;
    }
    this.#pos = pos + 64;
  }

  /** A non-negative integer in decimal (formatDecimal's rules: RangeError on anything else). */
  #decimal(value: number): void {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`not a non-negative integer: ${value}`);
    if (value > Number.MAX_SAFE_INTEGER) {
      // Past 2^53 a double's digits are BigInt's, as formatDecimal prints them (never an exponent).
      this.#latin1(BigInt(value).toString());
      return;
    }
    this.#room(MAX_DIGITS);
    const buf = this.#buf;
    if (value < 10) {
      buf[this.#pos++] = ZERO + value;
      return;
    }
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    const start = this.#pos;
    let pos = start + digits;
    this.#pos = pos;
    for (let v = value; pos > start; v = Math.floor(v / 10)) buf[--pos] = ZERO + (v % 10);
  }

  /** Dotted quad of a big-endian int32. */
  #ipv4(word: number): void {
    this.#room(15);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let shift = 24; ; shift -= 8) {
      const v = (word >>> shift) & 0xff;
      if (v >= 100) buf[pos++] = ZERO + ((v / 100) | 0);
      if (v >= 10) buf[pos++] = ZERO + (((v / 10) | 0) % 10);
      buf[pos++] = ZERO + (v % 10);
      if (shift === 0) break;
      buf[pos++] = DOT;
    }
    this.#pos = pos;
  }

  #endpoint(endpoint: EndpointAddress): void {
    const a = endpoint.address;
    const port = endpoint.port;
    if (a.length !== 4 || !Number.isInteger(port) || port < 0 || port > 0xffff) {
      // IPv6 (bracketed, RFC 5952), and every error formatEndpoint reports.
      this.#latin1(formatEndpoint(endpoint));
      return;
    }
    this.#ipv4((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!);
    this.#room(1);
    this.#buf[this.#pos++] = COLON;
    this.#decimal(port);
  }
}
