/**
 * The userspace stack's TCP recovery (RFC 9293 retransmission, RFC 6675-style SACK recovery, RFC
 * 6298 RTO) over a real WireGuard path that loses, reorders and duplicates: the tunnel fixture with
 * its impairment relay (5% loss, 5% duplication, 10% reordering of data messages) between a
 * userspace WireGuard in this process and wireguard-go. An 8 MiB download and a 1 MiB TCP echo must
 * arrive intact, and the relay's counters must show it really impaired the traffic.
 *
 * Needs root and wireguard-go; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cleanup } from '../helpers/netns.js';
import { patternSha256 } from '../helpers/tunnel-servers.js';
import { describeCounters } from '../faults/impair-relay.js';
import {
  openUserspace,
  tcpEcho,
  tunnelHttp,
  userspaceSkipReason,
  type UserspaceSide,
} from '../helpers/userspace-peer.js';

const skip = userspaceSkipReason();

describe('userspace WireGuard over an impaired path', { skip, timeout: 100_000 }, () => {
  let side: UserspaceSide;
  before(async () => {
    side = await openUserspace({ impair: { drop: 5, dup: 5, reorder: 10 } });
  });
  after(async () => {
    await side?.close();
    await cleanup();
  });

  test('8 MiB download intact despite loss, duplication and reordering', { timeout: 60_000 }, async () => {
    const n = 8 * 1024 * 1024;
    const r = await tunnelHttp(side.net, side.peer.innerV4, side.peer.ports.http, `/bytes/${n}`, {
      timeoutMs: 55_000,
    });
    assert.equal(r.status, 200);
    assert.equal(r.length, n);
    assert.equal(r.sha256, patternSha256(n));
  });

  test('1 MiB TCP echo over IPv6 intact', { timeout: 60_000 }, async () => {
    const data = randomBytes(1024 * 1024);
    const back = await tcpEcho(side.net, side.peer.innerV6, side.peer.ports.echo, data, 55_000);
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
  });

  test('the relay really impaired the traffic', async () => {
    const relay = side.peer.relay;
    assert.ok(relay !== null);
    const c = await relay.stop();
    const text = describeCounters(c);
    // Towards us carries the download; towards the peer carries the echo's data and our ACKs.
    assert.ok(c.ba.dropped > 0 && c.ba.duplicated > 0 && c.ba.reordered > 0, `towards us: ${text}`);
    assert.ok(c.ab.dropped > 0 && c.ab.duplicated > 0 && c.ab.reordered > 0, `towards the peer: ${text}`);
  });
});
