/**
 * The daemon's JIT warm-up (src/daemon/warm-up.ts): two private devices really exchange echoes
 * and TSO bursts over loopback UDP and packet-pair TUN stand-ins, and leave nothing behind (no
 * descriptor, socket or timer); WGTS_WARMUP=0 turns it off. That a live wgtsd runs it before its
 * socket appears is checked in lifecycle.test.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { WARMUP_ROUND_TRIPS, warmUp, warmUpEnabled } from '../../src/device/warm-up.js';

/** The TUN offload flags the daemon gets on this kernel (CSUM, TSO4/6, TSO_ECN, USO4/6). */
const OFFLOADS = 0x67;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Handles other than timers (sockets, polls) the event loop holds. */
function handles(): number {
  return process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'Immediate').length;
}

describe('JIT warm-up', () => {
  it('completes its round trips and bulk bursts, then closes every descriptor and handle', async () => {
    const fds = openFds();
    const before = handles();
    const r = await warmUp(OFFLOADS);
    // On a slow machine it may stop at its time limit; anything else is a failure of the path.
    assert.ok(r.stopped === null || r.stopped === 'time limit', `stopped: ${r.stopped}`);
    if (r.stopped === null) assert.equal(r.roundTrips, WARMUP_ROUND_TRIPS);
    assert.ok(r.roundTrips >= 100, `only ${r.roundTrips} round trips`);
    // One step in 20 is a burst of 8 x 44 segments, each of which had to come out coalesced.
    assert.ok(r.bursts >= Math.floor(r.roundTrips / 20) - 1, `${r.bursts} bursts in ${r.roundTrips} steps`);
    assert.ok(r.bursts > 0);
    // uv handles close on the next loop turn.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(openFds(), fds, 'every socket and packet pair is closed');
    assert.ok(handles() <= before, `no handle is left (${handles()} now, ${before} before)`);
  });

  it('runs again in the same process (nothing of the first run is reused)', async () => {
    const r = await warmUp(OFFLOADS);
    assert.ok(r.stopped === null || r.stopped === 'time limit', `stopped: ${r.stopped}`);
    assert.ok(r.roundTrips >= 100);
  });

  it('is on unless WGTS_WARMUP=0', () => {
    assert.equal(warmUpEnabled({}), true);
    assert.equal(warmUpEnabled({ WGTS_WARMUP: '1' }), true);
    assert.equal(warmUpEnabled({ WGTS_WARMUP: '0' }), false);
  });
});
