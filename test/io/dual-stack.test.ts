/**
 * The port logic of the bind (openDualStack in src/io/bind.ts), which follows wireguard-go's
 * StdNetBind.Open, tested with fake sockets: v6 takes v4's port, a random port is retried when
 * only its v6 half is taken, a missing family is skipped, any other failure closes what was
 * opened.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openDualStack } from '../../src/io/bind.js';

interface FakeSocket {
  readonly family: 4 | 6;
  readonly port: number;
}

function fail(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** A fake opener: `plan(family, port, call)` returns a port or throws; tracks open sockets. */
function opener(plan: (family: 4 | 6, port: number, call: number) => number) {
  const open = new Set<FakeSocket>();
  const calls: string[] = [];
  let n = 0;
  return {
    open,
    calls,
    openOne: (family: 4 | 6, port: number): FakeSocket => {
      calls.push(`${family}:${port}`);
      const s = { family, port: plan(family, port, n++) };
      open.add(s);
      return s;
    },
    closeOne: (s: FakeSocket): void => {
      assert.ok(open.delete(s), 'closed once');
    },
  };
}

describe('openDualStack (wireguard-go StdNetBind.Open port rules)', () => {
  it('binds v6 to the port v4 got', () => {
    const o = opener((_f, port) => (port === 0 ? 40000 : port));
    const r = openDualStack(o.openOne, o.closeOne, 0);
    assert.equal(r.port, 40000);
    assert.deepEqual(o.calls, ['4:0', '6:40000']);
    assert.equal(r.v4?.port, 40000);
    assert.equal(r.v6?.port, 40000);
  });

  it('retries a random port whose v6 half is taken', () => {
    let next = 40000;
    const o = opener((family, port) => {
      if (family === 4) return port === 0 ? next++ : port;
      if (port < 40002) throw fail('EADDRINUSE');
      return port;
    });
    const r = openDualStack(o.openOne, o.closeOne, 0);
    assert.equal(r.port, 40002);
    assert.deepEqual(o.calls, ['4:0', '6:40000', '4:0', '6:40001', '4:0', '6:40002']);
    assert.equal(o.open.size, 2, 'the v4 sockets of failed tries were closed');
  });

  it('gives up after 100 retries', () => {
    const o = opener((family) => {
      if (family === 6) throw fail('EADDRINUSE');
      return 40000;
    });
    assert.throws(() => openDualStack(o.openOne, o.closeOne, 0), { code: 'EADDRINUSE' });
    assert.equal(o.calls.length, 202);
    assert.equal(o.open.size, 0);
  });

  it('does not retry a fixed port: EADDRINUSE on v6 closes v4 and throws', () => {
    const o = opener((family, port) => {
      if (family === 6) throw fail('EADDRINUSE');
      return port;
    });
    assert.throws(() => openDualStack(o.openOne, o.closeOne, 51820), { code: 'EADDRINUSE' });
    assert.equal(o.open.size, 0);
  });

  it('works v4-only when the kernel has no IPv6, and v6-only without IPv4', () => {
    const no6 = opener((family, port) => {
      if (family === 6) throw fail('EAFNOSUPPORT');
      return port === 0 ? 40000 : port;
    });
    const r4 = openDualStack(no6.openOne, no6.closeOne, 0);
    assert.deepEqual([r4.v4 !== null, r4.v6 !== null, r4.port], [true, false, 40000]);
    const no4 = opener((family, port) => {
      if (family === 4) throw fail('EAFNOSUPPORT');
      return port === 0 ? 40001 : port;
    });
    const r6 = openDualStack(no4.openOne, no4.closeOne, 0);
    assert.deepEqual([r6.v4 !== null, r6.v6 !== null, r6.port], [false, true, 40001]);
  });

  it('fails with EAFNOSUPPORT when neither family exists, and passes other errors through', () => {
    const none = opener(() => {
      throw fail('EAFNOSUPPORT');
    });
    assert.throws(() => openDualStack(none.openOne, none.closeOne, 0), { code: 'EAFNOSUPPORT', errno: -97 });
    const denied = opener((family) => {
      if (family === 4) throw fail('EACCES');
      return 1;
    });
    assert.throws(() => openDualStack(denied.openOne, denied.closeOne, 80), { code: 'EACCES' });
    assert.deepEqual(denied.calls, ['4:80']);
  });

  it('opens only the families asked for', () => {
    const o = opener((_f, port) => port || 40000);
    const r = openDualStack(o.openOne, o.closeOne, 0, [6]);
    assert.deepEqual(o.calls, ['6:0']);
    assert.equal(r.v4, null);
  });
});
