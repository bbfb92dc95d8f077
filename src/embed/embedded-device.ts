/**
 * The Device (src/device/device.ts) as an embedded interface runs it: the same device, with every
 * peer's Tunnel also reporting to the interface's PeerEvents (chained after the device's own log
 * observer, which exists only when verbose logging is on) and removals reported, so events come
 * from the one place the protocol decides things and no rule is repeated here.
 */
import { Device, type DeviceOptions } from '../device/device.js';
import type { Peer } from '../device/peer.js';
import type { PeerEvents } from './peer-events.js';

export class EmbeddedDevice extends Device {
  readonly events: PeerEvents;

  constructor(options: DeviceOptions, events: PeerEvents) {
    super(options);
    this.events = events;
  }

  override createPeer(publicKey: Uint8Array): Peer {
    const peer = super.createPeer(publicKey);
    const log = peer.tunnel.observer;
    const mine = this.events.observe(peer);
    peer.tunnel.observer =
      log === null
        ? mine
        : (e) => {
            log(e);
            mine(e);
          };
    return peer;
  }

  override removePeer(peer: Peer): void {
    super.removePeer(peer);
    this.events.removed(peer);
  }
}
