/**
 * The tunnel peer fixture (test/helpers/tunnel-peer.ts) proved against a real client: our side is
 * a kernel-TUN wgtsd in its own namespace, configured from the fixture's `wgQuickConfig` (through
 * `wgts strip` and `wg setconf`, then the Address and AllowedIPs routes added with `ip`, as
 * wg-quick would; the DNS line is not handed to resolvconf, so the host's resolver is never
 * touched). Over the tunnel, on v4 and v6: a 10 MiB HTTP GET whose SHA-256 matches the pattern,
 * a POST echoed, a 1 MiB HTTPS GET by name (certificate verified), a 1 MiB TCP echo, 20 UDP echoes, DNS A/AAAA answers and an NXDOMAIN. Then with
 * the impairment relay in the path (5% loss, 5% duplication, 10% reordering of data messages),
 * the outer path over IPv6, and no endpoint for our side given to the peer (the relay learns it),
 * a 4 MiB GET arrives intact and the relay's counters show that it really dropped, duplicated and
 * reordered.
 *
 * Needs root, wgtsd built, wireguard-go (anchor or Debian's), wg, ip, curl, sha256sum; skips
 * otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup,
  createNamespace,
  deleteNamespace,
  exec,
  execOk,
  uniqueName,
  which,
} from '../helpers/netns.js';
import { genKeyPair, implUnavailable, interopSkipReason, startDaemon } from '../helpers/wg-peer.js';
import { applyWgQuick } from '../helpers/wg-quick-apply.js';
import { execAsNobody, nobodyUnavailable } from '../helpers/nobody.js';
import {
  peerSeesEndpoint,
  startTunnelPeer,
  tfIfname,
  type TunnelPeer,
  type TunnelPeerOptions,
} from '../helpers/tunnel-peer.js';
import { patternSha256 } from '../helpers/tunnel-servers.js';
import { probe } from '../helpers/tunnel-probe.js';
import { canonicalAddress } from '../helpers/tunnel-dns.js';
import { describeCounters } from '../faults/impair-relay.js';

const skip =
  interopSkipReason(['wgtsd'], ['curl', 'sha256sum']) ||
  (implUnavailable('wireguard-go-anchor') !== null && implUnavailable('wireguard-go') !== null
    ? 'no wireguard-go (anchor or Debian)'
    : false);

after(async () => {
  await cleanup();
});

interface OurSide {
  readonly ns: string;
  readonly peer: TunnelPeer;
  close(): Promise<void>;
}

/** Our namespace, the fixture joined to it, and wgtsd configured from `wgQuickConfig`. */
async function bringUp(opts: Omit<TunnelPeerOptions, 'ourPublicKey' | 'hostNs'> = {}): Promise<OurSide> {
  const keys = await genKeyPair();
  const ns = await createNamespace(uniqueName('nspf-our'));
  let peer: TunnelPeer | null = null;
  try {
    peer = await startTunnelPeer({ ...opts, ourPublicKey: keys.publicKey, hostNs: ns });
    const daemon = await startDaemon(ns, { impl: 'wgtsd', ifname: tfIfname('o') });
    await applyWgQuick(ns, daemon.ifname, peer.wgQuickConfig(keys.privateKey));
    const p = peer;
    return {
      ns,
      peer: p,
      close: async () => {
        await daemon.stop();
        await p.close();
        await deleteNamespace(ns);
      },
    };
  } catch (err) {
    await peer?.close();
    await deleteNamespace(ns);
    throw err;
  }
}

/** SHA-256 of `curl URL` in `ns` (fails the test on a curl error). */
async function curlSha(ns: string, url: string, maxTimeS: number, extra = ''): Promise<string> {
  const r = await exec(
    ns,
    'bash',
    ['-c', `set -o pipefail; curl -gsS --fail --max-time ${maxTimeS} ${extra} '${url}' | sha256sum`],
    {
      timeoutMs: (maxTimeS + 5) * 1000,
    },
  );
  assert.equal(r.code, 0, `curl ${url}: ${r.stderr}`);
  return r.stdout.split(' ')[0]!;
}

const TEN_MIB = 10 * 1024 * 1024;

describe('tunnel peer fixture with a kernel-TUN wgtsd as our side', { skip }, () => {
  test('HTTP, TCP echo, UDP echo and DNS over v4 and v6', { timeout: 50_000 }, async () => {
    const side = await bringUp();
    const { ns, peer } = side;
    try {
      for (const [family, host] of [
        ['v4', peer.innerV4],
        ['v6', `[${peer.innerV6}]`],
      ] as const) {
        const at = `${family} ${host}`;
        const sha = await curlSha(ns, `http://${host}/bytes/${TEN_MIB}`, 30);
        assert.equal(sha, patternSha256(TEN_MIB), `10 MiB GET ${at}\n${peer.logs()}`);
        const served = await execOk(ns, 'curl', [
          '-gsS',
          '--fail',
          '--max-time',
          '10',
          `http://${host}/sha256/${TEN_MIB}`,
        ]);
        assert.equal(served.stdout.trim(), patternSha256(TEN_MIB), `server's digest ${at}`);
        const posted = await execOk(ns, 'curl', [
          '-gsS',
          '--fail',
          '--max-time',
          '10',
          '--data-binary',
          `hello ${family}`,
          `http://${host}/echo`,
        ]);
        assert.equal(posted.stdout, `hello ${family}`, `POST echo ${at}`);
        assert.ok(peer.tls !== null || which('openssl') === null, 'openssl is here, so HTTPS is served');
        if (peer.tls !== null) {
          // HTTPS by name, the certificate checked against the fixture's own.
          const resolve = `web.tunnel.test:${peer.ports.https}:${host}`;
          const mib = 1024 * 1024;
          const url = `https://web.tunnel.test/bytes/${mib}`;
          const args = `--cacert ${peer.tls.certFile} --resolve ${resolve}`;
          assert.equal(await curlSha(ns, url, 20, args), patternSha256(mib), `HTTPS ${at}`);
        }
        const addr = family === 'v4' ? peer.innerV4 : peer.innerV6;
        const tcp = await probe(ns, ['tcp-echo', addr, String(peer.ports.echo), String(1024 * 1024)]);
        assert.deepEqual(
          [tcp['ok'], tcp['bytes']],
          [true, 1024 * 1024],
          `TCP echo ${at}: ${JSON.stringify(tcp)}`,
        );
        const udp = await probe(ns, ['udp-echo', addr, String(peer.ports.udpEcho), '20']);
        assert.deepEqual([udp['ok'], udp['answered']], [true, 20], `UDP echo ${at}`);
        for (const [type, want] of [
          ['a', peer.innerV4],
          ['aaaa', peer.innerV6],
        ] as const) {
          const dns = await probe(ns, ['dns', addr, 'web.tunnel.test', type]);
          assert.deepEqual(
            [dns['ok'], dns['rcode'], dns['addresses']],
            [true, 0, [canonicalAddress(want)]],
            `DNS ${type} via ${at}: ${JSON.stringify(dns)}`,
          );
        }
        const nx = await probe(ns, ['dns', addr, 'nowhere.tunnel.test', 'a']);
        assert.deepEqual([nx['ok'], nx['rcode'], nx['addresses']], [true, 3, []], `NXDOMAIN via ${at}`);
        if (nobodyUnavailable() === null) {
          // Unprivileged traffic through the tunnel: curl as nobody.
          const r = await execAsNobody('curl', ['-gsS', '--fail', '--max-time', '10', `http://${host}/`], {
            ns,
          });
          assert.equal(r.stdout, 'tunnel peer\n', `curl as nobody ${at}: ${r.stderr}`);
        }
      }
      // No endpoint was configured for our side: the peer learned it from our first packet.
      const seen = await peerSeesEndpoint(peer);
      const host4 = peer.outerV4.host.replaceAll('.', '\\.');
      assert.match(seen ?? '', new RegExp(`^${host4}:\\d+$`));
    } finally {
      await side.close();
    }
  });

  test(
    'through 5% loss, 5% duplication and 10% reordering: a 4 MiB GET intact',
    { timeout: 50_000 },
    async () => {
      const side = await bringUp({ outer: 'v6', impair: { drop: 5, dup: 5, reorder: 10 } });
      const { ns, peer } = side;
      try {
        assert.ok(peer.relay !== null);
        assert.notEqual(peer.endpoint, peer.directEndpoint, 'our endpoint is the relay');
        const n = 4 * 1024 * 1024;
        const sha = await curlSha(ns, `http://${peer.innerV4}/bytes/${n}`, 40);
        assert.equal(sha, patternSha256(n), `4 MiB GET through the relay\n${peer.logs()}`);
        const c = await peer.relay.stop();
        const why = describeCounters(c);
        assert.ok(
          c.ba.dropped > 0 && c.ba.duplicated > 0 && c.ba.reordered > 0,
          `impaired towards us: ${why}`,
        );
        assert.ok(c.ab.sent > 0, `our packets reached the peer: ${why}`);
      } finally {
        await side.close();
      }
    },
  );
});
