/**
 * The cryptokey routing table (WireGuard whitepaper section 3, "Cryptokey Routing"): a map from IP
 * prefixes to peers used in both directions. Outgoing, the destination address picks the peer to
 * encrypt for (longest-prefix match); incoming, a decrypted packet's source address must map back
 * to the peer it came from. Semantics follow the Linux kernel's allowedips.c: host bits are masked
 * on insert, a prefix belongs to at most one peer and inserting it for another peer moves it, and
 * IPv4 and IPv6 are independent tries. Peers are compared by identity (Map's SameValueZero);
 * `undefined` cannot be a peer since it means "no match". Per-peer bookkeeping (a circular list of
 * that peer's node handles, in the order their prefixes were last inserted, threaded through the
 * stores' `order` arrays, with the Map holding each peer's first handle) makes removeByPeer and
 * entriesForPeer proportional to the peer's own prefixes rather than to the whole table, at 8
 * bytes a node and one Map entry a peer. A handle is a node index times two plus the family bit (0
 * for IPv4, 1 for IPv6): a small integer, so neither the Map nor the lists hold objects.
 */

import { addressBits, checkCidr } from './ip.js';
import type { IPFamily } from './ip.js';
import { FamilyTrie } from './trie.js';
import { NIL, maskWord, readWord } from './trie-store.js';

export interface AllowedIPEntry {
  readonly family: IPFamily;
  /** The prefix's address with host bits cleared (4 or 16 bytes, a fresh copy). */
  readonly bytes: Uint8Array;
  readonly cidr: number;
}

/** Takes masked prefixes as big-endian int32 words (see AllowedIPs.visitEntries). */
export interface PrefixVisitor {
  ipv4(address: number, cidr: number): void;
  ipv6(w0: number, w1: number, w2: number, w3: number, cidr: number): void;
}

export class AllowedIPs<P> {
  private readonly v4 = new FamilyTrie<P>(4);
  private readonly v6 = new FamilyTrie<P>(6);
  /** Each peer's first handle (the head of its circular list); absent when it has no prefix. */
  private readonly byPeer = new Map<P, number>();
  /** Scratch for the masked key of an insert/remove; never escapes a call. */
  private readonly key = new Int32Array(4);
  private count = 0;

  /** Number of prefixes in the table, both families. */
  get size(): number {
    return this.count;
  }

  /**
   * Routes `bytes/cidr` to `peer`. Host bits are ignored (192.0.2.77/24 stores 192.0.2.0/24). If
   * another peer held the prefix it moves to this one; either way the prefix becomes the last of
   * this peer's entries, as the kernel's list_move_tail does.
   */
  insert(bytes: Uint8Array, cidr: number, peer: P): void {
    if (peer === undefined) throw new TypeError('AllowedIPs peer must not be undefined');
    const trie = this.trieFor(bytes, cidr);
    const id = trie.place(this.key, cidr);
    const handle = id * 2 + (trie.family === 6 ? 1 : 0);
    const previous = trie.peerOf(id);
    if (previous === undefined) this.count++;
    else this.unlink(previous, handle);
    trie.setPeer(id, peer);
    this.linkLast(peer, handle);
  }

  /**
   * Removes exactly `bytes/cidr` (host bits ignored) if `peer` holds it; a prefix held by another
   * peer, or a shorter/longer prefix, is left alone. Returns whether something was removed.
   */
  remove(bytes: Uint8Array, cidr: number, peer: P): boolean {
    const trie = this.trieFor(bytes, cidr);
    const id = trie.find(this.key, cidr);
    if (id === NIL) return false;
    const handle = id * 2 + (trie.family === 6 ? 1 : 0);
    // The node's own peer is its owner; compared as the Map keys peers (SameValueZero).
    if (peer === undefined || !sameValueZero(trie.peerOf(id), peer)) return false;
    this.unlink(peer, handle);
    trie.setPeer(id, undefined);
    this.count--;
    trie.prune(id);
    return true;
  }

  /** Removes every prefix of `peer`. */
  removeByPeer(peer: P): void {
    const head = this.byPeer.get(peer);
    if (head === undefined) return;
    this.byPeer.delete(peer);
    let handle = head;
    do {
      const trie = this.trieOf(handle);
      const id = handle >>> 1;
      handle = trie.nextOf(id);
      trie.setPeer(id, undefined);
      this.count--;
      // Pruning only frees peerless nodes, so nodes still in this list are never freed early.
      trie.prune(id);
    } while (handle !== head);
  }

  /** Longest-prefix match for a 4-byte (IPv4) or 16-byte (IPv6) address. */
  lookup(bytes: Uint8Array): P | undefined {
    if (bytes.length === 4) return this.v4.lookup4(readWord(bytes, 0));
    if (bytes.length === 16) {
      return this.v6.lookup6(readWord(bytes, 0), readWord(bytes, 4), readWord(bytes, 8), readWord(bytes, 12));
    }
    throw new RangeError(`IP address must be 4 or 16 bytes, got ${bytes.length}`);
  }

  /**
   * Longest-prefix match for the address at `buf[offset ..]` (4 bytes for family 4, 16 for 6),
   * e.g. an IP header's source or destination field, without copying or allocating.
   */
  lookupAt(buf: Uint8Array, offset: number, family: IPFamily): P | undefined {
    const len = family === 4 ? 4 : family === 6 ? 16 : -1;
    if (len < 0 || !Number.isInteger(offset) || offset < 0 || offset + len > buf.length) {
      throw new RangeError(`no IPv${family} address at offset ${offset} of a ${buf.length}-byte buffer`);
    }
    if (len === 4) return this.v4.lookup4(readWord(buf, offset));
    return this.v6.lookup6(
      readWord(buf, offset),
      readWord(buf, offset + 4),
      readWord(buf, offset + 8),
      readWord(buf, offset + 12),
    );
  }

  /**
   * The peer's prefixes, masked, in the order they were (last) inserted for this peer: the order
   * the kernel's per-peer list gives `wg show` (wireguard-go's trie walk would differ).
   */
  entriesForPeer(peer: P): AllowedIPEntry[] {
    const out: AllowedIPEntry[] = [];
    const head = this.byPeer.get(peer);
    if (head === undefined) return out;
    let handle = head;
    do {
      const trie = this.trieOf(handle);
      const id = handle >>> 1;
      out.push({ family: trie.family, bytes: trie.bytesOf(id), cidr: trie.cidrOf(id) });
      handle = trie.nextOf(id);
    } while (handle !== head);
    return out;
  }

  /**
   * Hands the peer's prefixes to `visitor`, in entriesForPeer's order, without an object or array
   * per prefix (the UAPI's `get` of a large device); returns how many.
   */
  visitEntries(peer: P, visitor: PrefixVisitor): number {
    const head = this.byPeer.get(peer);
    if (head === undefined) return 0;
    let n = 0;
    let handle = head;
    do {
      const trie = this.trieOf(handle);
      const id = handle >>> 1;
      trie.visitPrefix(id, visitor);
      n++;
      handle = trie.nextOf(id);
    } while (handle !== head);
    return n;
  }

  /**
   * Diagnostic: trie nodes in use, both families. A peerless node always branches, so this
   * stays below 2 × size; it is 0 once every prefix is removed, which the tests use to catch leaks.
   */
  nodeCount(): number {
    return this.v4.nodeCount + this.v6.nodeCount;
  }

  /** Removes everything. */
  clear(): void {
    this.v4.clear();
    this.v6.clear();
    this.byPeer.clear();
    this.count = 0;
  }

  private trieOf(handle: number): FamilyTrie<P> {
    return (handle & 1) === 0 ? this.v4 : this.v6;
  }

  /** Appends `handle` (not in any list) to the end of `peer`'s list. */
  private linkLast(peer: P, handle: number): void {
    const trie = this.trieOf(handle);
    const id = handle >>> 1;
    const head = this.byPeer.get(peer);
    if (head === undefined) {
      trie.setNext(id, handle);
      trie.setPrev(id, handle);
      this.byPeer.set(peer, handle);
      return;
    }
    const headTrie = this.trieOf(head);
    const tail = headTrie.prevOf(head >>> 1);
    this.trieOf(tail).setNext(tail >>> 1, handle);
    trie.setPrev(id, tail);
    trie.setNext(id, head);
    headTrie.setPrev(head >>> 1, handle);
  }

  /** Takes `handle` out of `peer`'s list (it must be in it). */
  private unlink(peer: P, handle: number): void {
    const trie = this.trieOf(handle);
    const id = handle >>> 1;
    const next = trie.nextOf(id);
    if (next === handle) {
      this.byPeer.delete(peer);
      return;
    }
    const prev = trie.prevOf(id);
    this.trieOf(prev).setNext(prev >>> 1, next);
    this.trieOf(next).setPrev(next >>> 1, prev);
    if (this.byPeer.get(peer) === handle) this.byPeer.set(peer, next);
  }

  /** Validates (RangeError on misuse), loads the masked key into scratch and picks the family. */
  private trieFor(bytes: Uint8Array, cidr: number): FamilyTrie<P> {
    const bits = addressBits(bytes);
    checkCidr(cidr, bits);
    const key = this.key;
    for (let i = 0; i < 4; i++) key[i] = i * 32 < bits ? readWord(bytes, i * 4) & maskWord(cidr, i) : 0;
    return bits === 32 ? this.v4 : this.v6;
  }
}

/** Map's key equality: like `===`, except that NaN equals NaN. */
function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}
