/**
 * The obviously-correct reference for AllowedIPs (DESIGN.md habit 11: test the fast structure
 * against a naive one on random input), in the spirit of the kernel selftest's "horrible_allowedips":
 * a flat list scanned in full, comparing prefixes bit by bit. One list holds both families; an entry
 * that is (re)inserted moves to the end so a peer's entries read back in last-insertion order.
 */

export interface NaiveEntry<P> {
  bytes: Uint8Array;
  cidr: number;
  peer: P;
}

function bitAt(bytes: Uint8Array, pos: number): number {
  return (bytes[pos >> 3]! >> (7 - (pos & 7))) & 1;
}

/** Whether the first `cidr` bits of a and b agree (and the families match). */
export function samePrefix(a: Uint8Array, b: Uint8Array, cidr: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < cidr; i++) if (bitAt(a, i) !== bitAt(b, i)) return false;
  return true;
}

/** Clears every bit past `cidr`, one bit at a time. */
export function naiveMask(bytes: Uint8Array, cidr: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < cidr; i++) if (bitAt(bytes, i) === 1) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

export class NaiveAllowedIPs<P> {
  entries: NaiveEntry<P>[] = [];

  private indexOf(bytes: Uint8Array, cidr: number): number {
    return this.entries.findIndex(
      (e) => e.cidr === cidr && e.bytes.length === bytes.length && samePrefix(e.bytes, bytes, cidr),
    );
  }

  insert(bytes: Uint8Array, cidr: number, peer: P): void {
    const at = this.indexOf(bytes, cidr);
    if (at >= 0) this.entries.splice(at, 1);
    this.entries.push({ bytes: naiveMask(bytes, cidr), cidr, peer });
  }

  remove(bytes: Uint8Array, cidr: number, peer: P): boolean {
    const at = this.indexOf(bytes, cidr);
    if (at < 0 || this.entries[at]!.peer !== peer) return false;
    this.entries.splice(at, 1);
    return true;
  }

  removeByPeer(peer: P): void {
    this.entries = this.entries.filter((e) => e.peer !== peer);
  }

  lookup(address: Uint8Array): P | undefined {
    let best: NaiveEntry<P> | undefined;
    for (const e of this.entries) {
      if (e.bytes.length !== address.length || !samePrefix(e.bytes, address, e.cidr)) continue;
      if (best === undefined || e.cidr > best.cidr) best = e;
    }
    return best?.peer;
  }

  entriesForPeer(peer: P): NaiveEntry<P>[] {
    return this.entries.filter((e) => e.peer === peer);
  }
}
