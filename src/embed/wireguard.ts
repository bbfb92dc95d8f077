/**
 * A WireGuard interface inside a Node process (the embeddable device API). `WireGuard.open`
 * checks the configuration (wg-quick text or an object, config.ts), opens the device on a UDP
 * bind (src/io/bind.ts, unprivileged) and one of two backends:
 *
 * - `userspace` (default, no privileges): decrypted packets go to a userspace TCP/IP stack
 *   (userspace-stack.ts) through a UserspaceTun; the program uses `wg.network`, a TunnelNetwork
 *   with Node's socket shapes (the shape of wireguard-go's tun/netstack).
 * - `tun` (CAP_NET_ADMIN): a kernel TUN link as wgtsd opens it, addressed and up
 *   (kernel-link.ts), and the device wgtsd runs on it (kernel-device.ts: the batched data path
 *   when the kernel offers TUN offloads); the program uses Node's own `net` and `dgram`.
 *
 * Configuration is applied the way `wg syncconf` applies a file (src/config/device-set.ts
 * syncToDeviceSet, then the device's UAPI-target apply): at open, and on every setConfig, so a
 * kept peer keeps its sessions and a peer no longer listed is removed. Nothing is applied from a
 * configuration that does not check out. Events: see peer-events.ts.
 */
import { EventEmitter } from 'node:events';
import { resolveWgConfig } from '../config/resolve.js';
import type { DeviceOptions } from '../device/device.js';
import type { Logger } from '../device/logger.js';
import { createBind } from '../io/bind.js';
import { DEFAULT_MTU, type LinuxTun } from '../io/tun.js';
import type { TunnelNetwork } from '../netstack/network-types.js';
import { formatGet } from '../uapi/codec.js';
import { ConfigError } from '../config/errors.js';
import { keyToBase64 } from '../crypto/keys.js';
import { applyConfig } from './apply.js';
import { interfaceKey, parseEmbedConfig, type EmbedConfig, type WireGuardConfig } from './config.js';
import { EmbeddedDevice } from './embedded-device.js';
import { startKernelDevice } from './kernel-device.js';
import { openKernelLink } from './kernel-link.js';
import { PeerEvents, type PeerEventMap } from './peer-events.js';
import { interfaceStats, peerInfos, type InterfaceStats, type PeerInfo } from './peer-info.js';
import { defaultUserspaceStack, type UserspaceStack, type UserspaceStackFactory } from './userspace-stack.js';
import { UserspaceTun } from './userspace-tun.js';

export type Backend = 'userspace' | 'tun';

export interface WireGuardOptions {
  /** wg-quick(8) text ([Interface] with Address, DNS, MTU; [Peer]s) or the same as an object. */
  readonly config: string | WireGuardConfig;
  /** Default 'userspace'. */
  readonly backend?: Backend;
  /** The TUN link's name (tun backend only); default 'wg%d', completed by the kernel. */
  readonly name?: string;
  /** The UDP port when the configuration gives no ListenPort; default 0 (a random free port). */
  readonly listenPort?: number;
  /** Where the device's log lines go (src/device/logger.ts createLogger); default none. */
  readonly logger?: Logger;
  /** The userspace network stack (userspace backend); default defaultUserspaceStack. */
  readonly stack?: UserspaceStackFactory;
  /** The name ConfigError messages give text configurations (`FILE:LINE: ...`); default 'config'. */
  readonly configName?: string;
}

/**
 * How often peers are checked for endpoints moved by hostname re-resolution, while any peer has
 * a hostname endpoint (peer-events.ts); sessions are checked when they expire (nextCheck).
 */
const CHECK_MS = 1000;
/** setTimeout's largest delay (a signed 32-bit ms count). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class WireGuard extends EventEmitter<PeerEventMap> {
  readonly backend: Backend;
  readonly #device: EmbeddedDevice;
  readonly #events: PeerEvents;
  readonly #stack: UserspaceStack | null;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  readonly #extras: string;
  readonly #configName: string;
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | null = null;

  private constructor(
    backend: Backend,
    device: EmbeddedDevice,
    events: PeerEvents,
    stack: UserspaceStack | null,
    config: EmbedConfig,
    configName: string,
  ) {
    super();
    this.backend = backend;
    this.#device = device;
    this.#events = events;
    this.#stack = stack;
    this.#extras = interfaceKey(config);
    this.#configName = configName;
    events.onUp = () => this.#arm();
    this.#arm();
  }

  /**
   * Arms the one check timer for the next session expiry, or CHECK_MS from now while a hostname
   * endpoint may move; none when neither is pending, so an idle interface never wakes for it.
   */
  #arm(): void {
    if (this.#closing !== null) return;
    const now = this.#events.now();
    let at = this.#events.nextCheck();
    if (this.#device.endpointNames.size > 0) at = Math.min(at, now + CHECK_MS);
    if (at === Infinity || (this.#timer !== null && this.#timerAt <= at)) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(at - now)));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.#events.check('resolved');
      this.#arm();
    }, delay);
    // An embedded interface never keeps the program alive by itself.
    this.#timer.unref();
  }

  /**
   * Opens the interface. Rejects with a ConfigError (code 'EBADCONFIG', message `FILE:LINE: ...` or
   * `config.peers[0].endpoint: ...`) for a bad configuration, before anything is opened; with the
   * system's error (EADDRINUSE, EPERM, ...) when a port or the TUN cannot be had, after closing
   * whatever was opened.
   */
  static async open(options: WireGuardOptions): Promise<WireGuard> {
    const backend = options.backend ?? 'userspace';
    if (backend !== 'userspace' && backend !== 'tun')
      throw new TypeError(`backend must be 'userspace' or 'tun', got ${String(backend)}`);
    if (options.name !== undefined && backend !== 'tun')
      throw new TypeError("name is for backend: 'tun' only");
    const port = options.listenPort ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new RangeError(`listenPort must be an integer 0..65535, got ${port}`);
    const configName = options.configName ?? 'config';
    const config = parseEmbedConfig(options.config, configName);
    const log = options.logger;
    const wg = await resolveWgConfig(config.wg, {
      onRetry: (m) => log?.verbose(m),
    });
    const mtu = config.mtu ?? DEFAULT_MTU;

    let stack: UserspaceStack | null = null;
    let utun: UserspaceTun | null = null;
    let ktun: LinuxTun | null = null;
    if (backend === 'userspace') {
      utun = new UserspaceTun(mtu);
      try {
        stack = (options.stack ?? defaultUserspaceStack)({
          addresses: config.addresses,
          mtu,
          dns: config.dns,
          tun: utun,
        });
      } catch (err) {
        utun.close();
        throw err;
      }
    } else {
      ktun = await openKernelLink(options.name ?? 'wg%d', mtu, config.addresses);
    }

    let self: WireGuard | null = null;
    const events = new PeerEvents(
      (name, ...args) => {
        (self as EventEmitter | null)?.emit(name, ...args);
      },
      () => device.now(),
    );
    const onTunError = (err: Error): void => log?.error(`TUN read failed: ${err.message}`);
    const create = (o: DeviceOptions): EmbeddedDevice => new EmbeddedDevice(o, events);
    let device: EmbeddedDevice;
    if (ktun !== null) {
      // The device wgtsd runs (bind, data path, route MTUs), started; all closed on failure.
      device = (
        await startKernelDevice(ktun, {
          ...(log === undefined ? {} : { logger: log }),
          listenPort: wg.listenPort ?? port,
          onTunError,
          create,
        })
      ).device;
    } else {
      try {
        device = create({
          tun: utun,
          bind: createBind(),
          ...(log === undefined ? {} : { logger: log }),
          onTunError,
        });
      } catch (err) {
        // No UDP socket (the native addon failed to load, say): nothing may stay open.
        stack?.close();
        utun?.close();
        throw err;
      }
      try {
        await device.start(wg.listenPort ?? port);
      } catch (err) {
        stack?.close();
        device.close();
        throw err;
      }
    }
    try {
      await applyConfig(device, wg);
      events.adopt();
    } catch (err) {
      stack?.close();
      device.close();
      throw err;
    }
    self = new WireGuard(backend, device, events, stack, config, configName);
    return self;
  }

  /** The network through the tunnel (userspace backend). Throws for the tun backend. */
  get network(): TunnelNetwork {
    if (this.#stack === null) {
      throw Object.assign(
        new Error("wg.network exists for backend: 'userspace' only; with 'tun' use node:net on the link"),
        { code: 'ERR_WGTS_NO_NETWORK' },
      );
    }
    return this.#stack.network;
  }

  /** The kernel link's name (tun), or 'userspace'. */
  get name(): string {
    return this.#device.tun?.name ?? 'userspace';
  }

  get listenPort(): number {
    return this.#device.listenPort;
  }

  /** This interface's public key, base64 (null without a private key). */
  get publicKey(): string | null {
    const keys = this.#device.identity.keys;
    return keys === null ? null : keyToBase64(keys.publicKey);
  }

  /**
   * Applies a new configuration with `wg syncconf` semantics: peers not in it are removed, kept
   * peers keep their sessions, an unchanged private key is not touched, the listen port moves
   * only when ListenPort is given and differs. Address, DNS and MTU are fixed at open (a
   * ConfigError when they differ). Calls run one after the other. Rejects, with nothing applied,
   * for a bad configuration or one the device refuses.
   */
  setConfig(config: string | WireGuardConfig): Promise<void> {
    const run = this.#queue.then(() => this.#setConfig(config));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #setConfig(config: string | WireGuardConfig): Promise<void> {
    if (this.#closing !== null) throw new Error('the interface is closed');
    const parsed = parseEmbedConfig(config, this.#configName);
    if (interfaceKey(parsed) !== this.#extras) {
      throw new ConfigError(
        this.#configName,
        0,
        'Address, DNS and MTU cannot change on an open interface: close it and open it again',
      );
    }
    const wg = await resolveWgConfig(parsed.wg, { onRetry: (m) => this.#device.log.verbose(m) });
    if (this.#closing !== null) throw new Error('the interface is closed');
    if (await applyConfig(this.#device, wg)) this.#events.check('config');
    // A hostname endpoint added, say.
    this.#arm();
  }

  /** Per peer, what `wg show` shows (peer-info.ts). */
  peers(): PeerInfo[] {
    const device = this.#device;
    return peerInfos(device, (id) => {
      const peer = device.peers.get(id);
      return peer !== undefined && this.#events.isUp(peer);
    });
  }

  /** Interface-wide counters (peer-info.ts). */
  stats(): InterfaceStats {
    return interfaceStats(this.#device, this.peers());
  }

  /** The UAPI `get=1` reply body (wireguard.com/xplatform), as wgtsd would send it. */
  uapiGet(): string {
    return formatGet(this.#device.snapshot());
  }

  /** Closes the stack, the device, its UDP sockets, the TUN and the timers. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#queue.then(() => {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      this.#events.clear();
      this.#stack?.close();
      this.#device.close();
    });
    return this.#closing;
  }
}
