/**
 * One address family's path-compressed binary trie for cryptokey routing (WireGuard whitepaper
 * section 3), with the structure the Linux kernel's allowedips.c uses: each node carries its whole
 * masked key and cidr, a node's children all extend its prefix, a node with no peer exists only to
 * branch and so always has exactly two children, and a prefix therefore costs at most two nodes.
 * Nodes are indices into TrieStore's typed storage. The lookups differ from the kernel's in when
 * they compare prefixes (see the note above lookup4). Peer bookkeeping beyond the per-node slot is
 * AllowedIPs' job.
 */

import { C0, LINKS_LOG2, META, NIL, PARENT, TrieStore, keyBit } from './trie-store.js';

export class FamilyTrie<P> extends TrieStore<P> {
  root = NIL;
  /** Scratch for lookups: nodes on the path that carry a peer (at most one per bit, plus /0). */
  private readonly candidates = new Int32Array(129);

  /*
   * Both lookups descend by the branching bits alone, stacking the nodes that carry a peer, and
   * only then compare those candidates' prefixes with the address, deepest first. Every node whose
   * prefix matches lies on that path (its ancestors branch on bits it shares with the address),
   * so the first candidate that matches is the longest prefix. This keeps the walk inside the
   * 16-byte `links` records; the kernel instead compares at every level and stops at the first
   * mismatch, which in JavaScript would mean touching the `keys` array at every level too.
   */

  /** Longest-prefix match for an IPv4 address given as a big-endian int32. Allocation-free. */
  lookup4(a0: number): P | undefined {
    const links = this.links;
    const candidates = this.candidates;
    let count = 0;
    for (let id = this.root; id !== NIL;) {
      const base = id << LINKS_LOG2;
      const meta = links[base + META];
      if ((meta & 1) !== 0) candidates[count++] = id;
      id = links[base + C0 + ((a0 >>> ((meta >>> 1) & 31)) & 1)];
    }
    const keys = this.keys;
    while (count > 0) {
      const id = candidates[--count];
      const at = id * 3; // IPv4 `keys` record: key, mask, cidr
      if (((a0 ^ keys[at]) & keys[at + 1]) === 0) return this.peers[id];
    }
    return undefined;
  }

  /** Longest-prefix match for an IPv6 address given as four big-endian int32 words. */
  lookup6(a0: number, a1: number, a2: number, a3: number): P | undefined {
    const links = this.links;
    const candidates = this.candidates;
    let count = 0;
    for (let id = this.root; id !== NIL;) {
      const base = id << LINKS_LOG2;
      const meta = links[base + META];
      if ((meta & 1) !== 0) candidates[count++] = id;
      const w = meta >>> 6;
      const word = w === 0 ? a0 : w === 1 ? a1 : w === 2 ? a2 : a3;
      id = links[base + C0 + ((word >>> ((meta >>> 1) & 31)) & 1)];
    }
    const keys = this.keys;
    while (count > 0) {
      const id = candidates[--count];
      const at = id * 9; // IPv6 `keys` record: 4 key words, 4 mask words, cidr
      const diff =
        ((a0 ^ keys[at]) & keys[at + 4]) |
        ((a1 ^ keys[at + 1]) & keys[at + 5]) |
        ((a2 ^ keys[at + 2]) & keys[at + 6]) |
        ((a3 ^ keys[at + 3]) & keys[at + 7]);
      if (diff === 0) return this.peers[id];
    }
    return undefined;
  }

  /** The node holding exactly this prefix (`key` masked to `cidr`), peer or not, or NIL. */
  find(key: Int32Array, cidr: number): number {
    let id = this.root;
    while (id !== NIL && this.cidrOf(id) <= cidr && this.matches(id, key)) {
      if (this.cidrOf(id) === cidr) return id;
      id = this.childOf(id, keyBit(key, this.cidrOf(id)));
    }
    return NIL;
  }

  /**
   * Returns the node for exactly this prefix, creating it (and a branching node if the new prefix
   * splits an edge) when absent. A created node has no peer yet; the caller must give it one at
   * once or the two-children rule for peerless nodes breaks.
   */
  place(key: Int32Array, cidr: number): number {
    let parent = NIL;
    let id = this.root;
    while (id !== NIL) {
      const idCidr = this.cidrOf(id);
      const common = Math.min(this.commonBits(id, key), cidr, idCidr);
      if (common === idCidr) {
        if (common === cidr) return id; // exact match
        parent = id; // this node's prefix contains the new one: go down
        id = this.childOf(id, keyBit(key, idCidr));
        continue;
      }
      const fresh = this.alloc(key, cidr);
      if (common === cidr) {
        // The new prefix contains this node: it slots in above it.
        this.replace(parent, id, fresh);
        this.setChild(fresh, this.bitOf(id, cidr), id);
        return fresh;
      }
      // The prefixes diverge at bit `common`: a branching node there takes both as children.
      const branch = this.alloc(key, common);
      this.replace(parent, id, branch);
      this.setChild(branch, this.bitOf(id, common), id);
      this.setChild(branch, keyBit(key, common), fresh);
      return fresh;
    }
    const fresh = this.alloc(key, cidr);
    if (parent === NIL) this.root = fresh;
    else this.setChild(parent, keyBit(key, this.cidrOf(parent)), fresh);
    return fresh;
  }

  /**
   * Called after a node's peer was cleared: frees it unless it still branches, and then its parent
   * too if that was a peerless branching node left with one child, so removing every prefix
   * leaves an empty trie and memory does not leak.
   */
  prune(id: number): void {
    const c0 = this.childOf(id, 0);
    const c1 = this.childOf(id, 1);
    if (this.peerOf(id) !== undefined || (c0 !== NIL && c1 !== NIL)) return;
    const child = c0 !== NIL ? c0 : c1;
    const parent = this.parentOf(id);
    this.replace(parent, id, child);
    this.release(id);
    // A peerless parent had two children; if one just left, splicing it out ends the cascade.
    if (child === NIL && parent !== NIL) this.prune(parent);
  }

  override clear(): void {
    super.clear();
    this.root = NIL;
  }

  /** Puts `next` (possibly NIL) where `old` hangs: under `parent`, or as the root. */
  private replace(parent: number, old: number, next: number): void {
    if (parent !== NIL) this.setChild(parent, this.childOf(parent, 0) === old ? 0 : 1, next);
    else {
      this.root = next;
      if (next !== NIL) this.links[(next << LINKS_LOG2) + PARENT] = NIL;
    }
  }
}
