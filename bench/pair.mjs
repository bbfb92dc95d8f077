// The benchmarks' one topology and pair set-up (bench/run.mjs, bench/hops.mjs,
// bench/tcp-state.mjs): namespaces A and B joined by a veth (outer 10.77.0.1/.2, fd77::1/::2), a
// WireGuard interface in each (MTU 1420, inner 10.78.0.1/.2, fd78::1/::2), the two configured as
// each other's peer through the real `wg`, and the `wgtsd~NAME` variants (wgtsd with the extra
// environment of --env-NAME 'K=V ...': an A/B of flags in one run).
import { createNamespace, createVethPair, ping, waitFor } from '../dist/test/helpers/netns.js';
import {
  configureInterface,
  genKeyPair,
  implUnavailable,
  startDaemon,
} from '../dist/test/helpers/wg-peer.js';
import { numberArg, stringArg } from './lib.mjs';

export const MTU = 1420;
export const PORTS = [51820, 51821];
export const OUTER = { v4: ['10.77.0.1', '10.77.0.2'], v6: ['fd77::1', 'fd77::2'] };
export const INNER = { v4: ['10.78.0.1', '10.78.0.2'], v6: ['fd78::1', 'fd78::2'] };

/**
 * `wgtsd` or an anchor as `{ impl, env }` for startDaemon; `wgtsd~NAME` is wgtsd with `env` and
 * the variables of `--env-NAME 'K=V K=V'` on top.
 */
export function variant(name, env) {
  const [impl, label] = name.split('~');
  if (label === undefined) return { impl, env };
  const extra = Object.fromEntries(
    stringArg(`env-${label}`, '')
      .split(/\s+(?=[A-Z_]+=)/)
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return { impl, env: { ...env, ...extra } };
}

/** Configures daemons [A, B] as each other's only peer (fresh keys, both inner families). */
export async function configurePair(daemons) {
  const keys = await Promise.all([genKeyPair(), genKeyPair()]);
  await Promise.all(
    [0, 1].map((i) =>
      configureInterface(daemons[i], {
        privateKey: keys[i].privateKey,
        listenPort: PORTS[i],
        mtu: MTU,
        addresses: [`${INNER.v4[i]}/24`, `${INNER.v6[i]}/64`],
        peers: [
          {
            publicKey: keys[1 - i].publicKey,
            endpoint: `${OUTER.v4[1 - i]}:${PORTS[1 - i]}`,
            allowedIps: [`${INNER.v4[1 - i]}/32`, `${INNER.v6[1 - i]}/128`],
          },
        ],
      }),
    ),
  );
}

/** Waits (bounded) for a ping from A through the tunnel: the first one carries the handshake. */
export async function firstPing(nsA, dst = INNER.v4[1]) {
  await waitFor(async () => (await ping(nsA, dst, { count: 1, waitS: 1 })).ok, {
    timeoutMs: 15_000,
    intervalMs: 100,
    what: `a ping through the tunnel to ${dst}`,
  });
}

/**
 * Starts `name` (an implementation or a `wgtsd~NAME` variant) in A and in B, configured as each
 * other's peer, and waits for the first ping; returns the two daemons.
 */
export async function startVariantPair(nsA, nsB, name, env) {
  const v = variant(name, env);
  const daemons = [await startDaemon(nsA, v), await startDaemon(nsB, v)];
  await configurePair(daemons);
  await firstPing(nsA);
  return daemons;
}

/** Namespaces A and B and the veth between them (outer IPv4); removed by netns.js cleanup(). */
export async function createTopology() {
  const nsA = await createNamespace();
  const nsB = await createNamespace();
  await createVethPair(nsA, nsB, { v4: [`${OUTER.v4[0]}/24`, `${OUTER.v4[1]}/24`] });
  return { nsA, nsB };
}

/**
 * The implementations of `--impls` (default `fallback`), repeated `--rounds` times (at most
 * `maxRounds`) with the order reversed every other round, so drift in the machine's load hits
 * all alike.
 */
export function implsByRound(fallback, maxRounds) {
  const rounds = numberArg('rounds', 1, 1, maxRounds);
  return Array.from({ length: rounds }, (_, r) => {
    const list = stringArg('impls', fallback).split(',').filter(Boolean);
    return r % 2 === 0 ? list : list.reverse();
  }).flat();
}

/**
 * For each of `impls` in turn: a fresh pair (a missing anchor is named and left out), `run(impl,
 * daemons)`, then the pair stopped, and `afterStop(impl, daemons)` (what a daemon printed as it
 * exited is in its output by then).
 */
export async function eachPair(nsA, nsB, impls, env, run, afterStop) {
  for (const impl of impls) {
    const why = implUnavailable(variant(impl, env).impl);
    if (why !== null) {
      console.log(`${impl}: left out (${why})`);
      continue;
    }
    const daemons = await startVariantPair(nsA, nsB, impl, env);
    try {
      await run(impl, daemons);
    } finally {
      await Promise.all(daemons.map((d) => d.stop()));
      afterStop?.(impl, daemons);
    }
  }
}
