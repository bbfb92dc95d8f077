/**
 * A real-kernel fixture for the userspace network stack (src/netstack): a network namespace with
 * a TUN link (src/io/tun.ts, no offload) whose kernel side has 10.X.0.1/24 and fd00:X::1/64, and a
 * NetStack with 10.X.0.2 and fd00:X::2 attached to the TUN's fd in this process. The kernel in the
 * namespace (ping, sockets run with `ip netns exec`) then talks to the stack as it would to any
 * host on a point-to-point link. The fixture is the stack's driver: TUN batches go to
 * stack.input, output packets are written to the TUN in one batch per microtask, and poll() runs
 * at nextDeadline (a timer re-armed after every input and every wake).
 *
 * Generic for every netstack test: `configure(stack)` registers transports (TCP) before any
 * packet flows. Needs root; the namespace and link are tracked by test/helpers/netns.ts and
 * removed by close() (or its cleanup on exit).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { openTun, type LinuxTun } from '../../src/io/tun.js';
import { parseIP } from '../../src/routing/ip.js';
import { NetStack } from '../../src/netstack/stack.js';
import type { StackHost } from '../../src/netstack/types.js';
import {
  addAddress,
  createNamespace,
  deleteNamespace,
  execOk,
  trackLink,
  uniqueIfname,
  uniqueName,
} from './netns.js';

export interface TunStackOptions {
  /** Link MTU for the TUN and the stack; default 1420. */
  readonly mtu?: number;
  /** Called once the stack exists and before the link is up: register transports here. */
  readonly configure?: (stack: NetStack) => void;
}

export interface TunStack {
  /** The namespace holding the TUN's kernel side. */
  readonly ns: string;
  readonly ifname: string;
  readonly tun: LinuxTun;
  readonly stack: NetStack;
  /** The kernel's addresses on the link, as strings and bytes. */
  readonly kernelV4: string;
  readonly kernelV6: string;
  readonly kernelV4Bytes: Uint8Array;
  readonly kernelV6Bytes: Uint8Array;
  /** The stack's addresses. */
  readonly stackV4: string;
  readonly stackV6: string;
  /** The first read error from the TUN, if any. */
  readonly readError: () => Error | null;
  /** Stops the driver, closes the TUN (the link goes) and deletes the namespace. Idempotent. */
  close(): Promise<void>;
}

let subnet = 0;

function bytes(text: string): Uint8Array {
  const ip = parseIP(text);
  if (ip === null) throw new Error(`bad address ${text}`);
  return ip.bytes;
}

export async function createTunStack(options: TunStackOptions = {}): Promise<TunStack> {
  const mtu = options.mtu ?? 1420;
  subnet = (subnet % 250) + 1;
  const kernelV4 = `10.${subnet}.0.1`;
  const stackV4 = `10.${subnet}.0.2`;
  const kernelV6 = `fd00:${subnet}::1`;
  const stackV6 = `fd00:${subnet}::2`;
  const ns = await createNamespace(uniqueName('nsip'));
  const ifname = uniqueIfname('i');
  let tun: LinuxTun;
  try {
    tun = openTun(ifname, { mtu, offload: false });
  } catch (err) {
    await deleteNamespace(ns);
    throw err;
  }
  let closed = false;
  let pending: Uint8Array[] = [];
  let flushQueued = false;
  let timer: NodeJS.Timeout | null = null;
  let armQueued = false;
  let readError: Error | null = null;

  const flush = (): void => {
    flushQueued = false;
    const batch = pending;
    pending = [];
    if (!closed && batch.length > 0) tun.write(batch);
  };
  const arm = (): void => {
    armQueued = false;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (closed) return;
    const deadline = stack.nextDeadline();
    if (deadline === Infinity) return;
    timer = setTimeout(
      () => {
        timer = null;
        if (closed) return;
        stack.poll();
        arm();
      },
      Math.max(0, Math.ceil(deadline - performance.now())),
    );
  };
  const host: StackHost = {
    now: () => performance.now(),
    random: (n) => new Uint8Array(randomBytes(n)),
    wake: () => {
      if (armQueued) return;
      armQueued = true;
      queueMicrotask(arm);
    },
  };
  const stack = new NetStack({
    addresses: [bytes(stackV4), bytes(stackV6)],
    mtu,
    host,
    output: (packet) => {
      pending.push(packet);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    },
  });
  options.configure?.(stack);

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (timer !== null) clearTimeout(timer);
    tun.close();
    await deleteNamespace(ns);
  };

  try {
    await execOk(null, 'ip', ['link', 'set', 'dev', ifname, 'netns', ns]);
    trackLink(ns, ifname);
    await addAddress(ns, ifname, `${kernelV4}/24`);
    await addAddress(ns, ifname, `${kernelV6}/64`);
    await execOk(ns, 'ip', ['link', 'set', 'dev', ifname, 'up']);
    tun.start(
      (packets) => {
        if (closed) return;
        stack.input(packets);
        host.wake();
      },
      (err) => {
        readError ??= err;
      },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    ns,
    ifname,
    tun,
    stack,
    kernelV4,
    kernelV6,
    kernelV4Bytes: bytes(kernelV4),
    kernelV6Bytes: bytes(kernelV6),
    stackV4,
    stackV6,
    readError: () => readError,
    close,
  };
}
