/**
 * A smoke run of the rootless benchmark harness (bench/proxy.mjs), small enough for the suite: one
 * 4 MiB round and 50 concurrent connections. The kernel baseline (wgtsd on a kernel TUN +
 * bench/socks5.mjs) must measure a complete round and open every connection; a proxy command that
 * exits at once must be reported as failed, with its output, without stopping the run; and the
 * JSON on stdout must carry all of it. Guards the harness against rot while the proxy it is meant
 * for is being built.
 *
 * Needs root, wgtsd built, wireguard-go, wg, ip, curl, sha256sum; skips otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cleanup, exec } from '../helpers/netns.js';
import { implUnavailable, interopSkipReason } from '../helpers/wg-peer.js';

const skip =
  interopSkipReason(['wgtsd'], ['curl', 'sha256sum']) ||
  (implUnavailable('wireguard-go-anchor') !== null && implUnavailable('wireguard-go') !== null
    ? 'no wireguard-go (anchor or Debian)'
    : false);

after(async () => {
  await cleanup();
});

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Candidate {
  name: string;
  ready: boolean;
  error: string | null;
  rounds: { ok: boolean; bytes?: number; gbps?: number; cpuSecondsPerGbit?: number; peakRssMiB?: number }[];
  concurrency: { opened: number; conns: number; rssKiBPerConn: number | null } | null;
}

describe('bench/proxy.mjs', { skip }, () => {
  test('baseline measured, a failing proxy reported, JSON on stdout', { timeout: 55_000 }, async () => {
    const r = await exec(
      null,
      process.execPath,
      [
        `${ROOT}bench/proxy.mjs`,
        '--proxy',
        `${process.execPath} -e process.exit(3)`,
        '--rounds',
        '1',
        '--bytes',
        String(4 * 1024 * 1024),
        '--conns',
        '50',
        '--conn-timeout',
        '15',
      ],
      { timeoutMs: 50_000 },
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const at = r.stdout.lastIndexOf('\nJSON:\n');
    assert.ok(at >= 0, r.stdout);
    const json = JSON.parse(r.stdout.slice(at + 7)) as { candidates: Candidate[] };
    const [proxy, base] = json.candidates;
    assert.equal(proxy?.name, 'proxy');
    assert.equal(proxy.ready, false);
    assert.match(proxy.error ?? '', /exited \(3\)/);
    assert.equal(base?.name, 'kernel TUN + wgtsd');
    assert.equal(base.ready, true, base.error ?? '');
    const round = base.rounds[0];
    assert.equal(round?.ok, true, JSON.stringify(base.rounds));
    assert.equal(round.bytes, 4 * 1024 * 1024);
    assert.ok(
      round.gbps! > 0 && round.cpuSecondsPerGbit! >= 0 && round.peakRssMiB! > 0,
      JSON.stringify(round),
    );
    assert.equal(base.concurrency?.opened, 50, JSON.stringify(base.concurrency));
  });
});
