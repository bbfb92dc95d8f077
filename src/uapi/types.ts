/**
 * The data the cross-platform UAPI (wireguard.com/xplatform) carries, independent of its text
 * encoding: a snapshot of the device for `get=1`, and a fully parsed, validated `set=1` request.
 * The codec turns text into these and back; the device applies a DeviceSet as one unit, so a
 * request that fails validation changes nothing.
 */

export interface IpPrefix {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, host bits already masked. */
  readonly bytes: Uint8Array;
  readonly cidr: number;
}

export interface EndpointAddress {
  /** 4 or 16 bytes. */
  readonly address: Uint8Array;
  readonly port: number;
}

/**
 * A hostname endpoint as configured (`host:port`, wg(8)'s syntax without brackets): the wgts UAPI
 * extension `wgts_endpoint_hostname` (docs/uapi-extensions.md).
 */
export interface EndpointHostname {
  readonly host: string;
  readonly port: number;
}

export interface PeerSnapshot {
  readonly publicKey: Uint8Array;
  /** null when the peer has no pre-shared key (printed as 64 zeros). */
  readonly presharedKey: Uint8Array | null;
  readonly endpoint: EndpointAddress | null;
  /** Absolute unix time of the last handshake; null if never. */
  readonly lastHandshake: { readonly sec: number; readonly nsec: number } | null;
  readonly txBytes: number;
  readonly rxBytes: number;
  /** Seconds, 0 = off. */
  readonly persistentKeepalive: number;
  readonly allowedIPs: readonly IpPrefix[];
}

export interface DeviceSnapshot {
  readonly privateKey: Uint8Array | null;
  readonly listenPort: number;
  /** 0 = none (omitted from `get`). */
  readonly fwmark: number;
  readonly peers: readonly PeerSnapshot[];
  /**
   * Optional: the whole `get=1` reply for exactly this snapshot, already encoded (a device encodes
   * its snapshot as it takes it, so a 100,000-peer `get` builds no object per peer). When present,
   * the codec sends it as is; it must say what the other fields and `peers` say.
   */
  readonly getReply?: Uint8Array;
}

/** Changes to one peer's allowed IPs, applied in order. */
export type AllowedIPChange =
  | { readonly kind: 'clear' }
  | { readonly kind: 'add'; readonly prefix: IpPrefix }
  | { readonly kind: 'remove'; readonly prefix: IpPrefix };

export interface PeerSet {
  readonly publicKey: Uint8Array;
  readonly remove: boolean;
  readonly updateOnly: boolean;
  /** undefined: unchanged; null: remove the psk (all-zero in the request). */
  readonly presharedKey?: Uint8Array | null;
  readonly endpoint?: EndpointAddress;
  /**
   * wgts extension: the hostname `endpoint` was resolved from, which wgtsd then re-resolves. Only
   * with `endpoint` (an endpoint without it forgets any name); the CLI sends it only to a daemon
   * that announces the extension (uapi/extensions.ts), never to wireguard-go.
   */
  readonly endpointHostname?: EndpointHostname;
  readonly persistentKeepalive?: number;
  readonly allowedIPs: readonly AllowedIPChange[];
}

export interface DeviceSet {
  /** undefined: unchanged; null: remove the key (all-zero in the request). */
  readonly privateKey?: Uint8Array | null;
  readonly listenPort?: number;
  /** 0 removes the mark. */
  readonly fwmark?: number;
  readonly replacePeers: boolean;
  readonly peers: readonly PeerSet[];
}

/** What a UAPI server drives: the device, or a fake in tests. */
export interface UapiTarget {
  snapshot(): DeviceSnapshot;
  /** Applies the whole request or nothing; resolves to 0 or a negative errno. */
  apply(set: DeviceSet): Promise<number>;
}
