/**
 * The batched outbound transport data path of the device's ordinary path (any TunDevice and
 * Bind: the embeddable userspace device, or a daemon without the offload TUN) when the native
 * AEAD is loaded; whitepaper section 5.4.6. Each packet is routed by the device's one outbound
 * rule set (Device.routeOutbound); a run of packets for one peer reserves its counters once
 * (Tunnel.reserveSend, which runs the timers and rekey rules), is padded (paddedLength, the one
 * padding rule) into a reused arena, sealed with one native sealBatch and sent with UDP GSO when
 * the bind can (LinuxBind.sendSegments), else with one Bind.send. Without a usable session the
 * packets go through Tunnel.encapsulate, which stages them and starts a handshake, exactly as the
 * per-packet path does.
 */
import { TRANSPORT_HEADER_SIZE } from '../constants.js';
import type { Bind } from '../io/bind.js';
import type { NativeAddon } from '../io/native.js';
import { toNetwork } from '../protocol/results.js';
import { paddedLength } from '../protocol/transport.js';
import { Arena } from './batch-arena.js';
import { countSent, type BatchBind, type DataPathHost } from './data-path.js';
import type { Peer } from './peer.js';
import { threadGate } from './thread-gate.js';

export class BatchSend {
  readonly #device: DataPathHost;
  readonly #bind: Bind;
  readonly #native: NativeAddon;
  readonly #tx = new Arena();

  constructor(device: DataPathHost, native: NativeAddon, bind: Bind) {
    this.#device = device;
    this.#bind = bind;
    this.#native = native;
  }

  /** Routes each packet and sends each run of packets for one peer as one sealed batch. */
  sendPackets(packets: readonly Uint8Array[], now: number): void {
    const device = this.#device;
    let runPeer: Peer | null = null;
    // Consecutive packets for one peer form a run; a dropped packet does not break it.
    const run: Uint8Array[] = [];
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i]!;
      const peer = device.routeOutbound(packet, 0, packet.length, now);
      if (peer === undefined) continue;
      if (peer !== runPeer) {
        if (runPeer !== null) this.#sendRun(runPeer, run, now);
        run.length = 0;
        runPeer = peer;
      }
      run.push(packet);
    }
    if (runPeer !== null) this.#sendRun(runPeer, run, now);
  }

  /** Seals and sends `packets` for `peer`, arena by arena. */
  #sendRun(peer: Peer, packets: readonly Uint8Array[], now: number): void {
    const device = this.#device;
    const tx = this.#tx;
    let i = 0;
    while (i < packets.length) {
      // Pad each packet into the arena while it fits (an empty arena holds any IP packet).
      tx.reset();
      let j = i;
      for (; j < packets.length && tx.fits(packets[j]!.length); j++) {
        const p = packets[j]!;
        const padded = paddedLength(p.length, device.paddingMtu(p, 0, p.length, now));
        const slot = tx.take(padded, TRANSPORT_HEADER_SIZE + padded + 16);
        const at = tx.offsets[slot]! + TRANSPORT_HEADER_SIZE;
        tx.bytes.set(p, at);
        if (padded > p.length) tx.bytes.fill(0, at + p.length, at + padded); // the arena is reused
      }
      const r = peer.tunnel.reserveSend(j - i, now);
      if (r === null) {
        // No session, staged packets ahead, or the counter limit: the core stages and handshakes.
        for (let k = i; k < packets.length; k++) {
          const p = packets[k]!;
          const mtu = device.paddingMtu(p, 0, p.length, now);
          device.transmit(peer, peer.tunnel.encapsulate(p.slice(), now, mtu));
        }
        return;
      }
      const n = j - i;
      const kp = r.keypair;
      threadGate.tick(n); // how many workers the machine has CPU for (thread-gate.ts)
      this.#native.sealBatch(kp.sendKey, kp.remoteIndex, r.first, tx.bytes, tx.offsets, tx.lengths, 0, n);
      let bytes = 0;
      for (let k = 0; k < n; k++) bytes += tx.lengths[k]!;
      peer.tunnel.txBytes += bytes;
      this.#send(peer, n, bytes);
      if (r.extra !== null) device.transmit(peer, toNetwork([r.extra]));
      i = j;
    }
  }

  /**
   * Sends the arena's n sealed datagrams to the peer's endpoint: with UDP GSO when the bind can
   * (LinuxBind.sendSegments: one sendmsg per run of equal sizes), else as one Bind.send; counts
   * what the kernel took, as Device.transmit does.
   */
  #send(peer: Peer, n: number, bytes: number): void {
    const device = this.#device;
    if (!device.up) return;
    const endpoint = device.sendEndpoint(peer);
    if (endpoint === null) {
      device.peerLog?.unsent(peer, n);
      return;
    }
    const tx = this.#tx;
    const bind = this.#bind;
    let sent: number;
    if (hasSegments(bind)) {
      sent = bind.sendSegments(tx.bytes, tx.offsets, tx.lengths, 0, n, endpoint);
    } else {
      const datagrams = new Array<Uint8Array>(n);
      for (let k = 0; k < n; k++)
        datagrams[k] = tx.bytes.subarray(tx.offsets[k]!, tx.offsets[k]! + tx.lengths[k]!);
      sent = bind.send(datagrams, endpoint);
    }
    if (endpoint.source != null && bind.sourceRefused === true) device.sourceRefused(peer, endpoint);
    countSent(peer, tx.lengths, 0, n, sent, bytes);
  }
}

/** A bind that sends runs of one buffer with UDP GSO (LinuxBind). */
type SegmentBind = Bind & Pick<BatchBind, 'sendSegments'>;

function hasSegments(bind: Bind): bind is SegmentBind {
  return typeof (bind as Partial<SegmentBind>).sendSegments === 'function';
}
