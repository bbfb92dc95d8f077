/**
 * The route-MTU padding cap of src/device/route-mtu.ts on a fake route source: the cap is the
 * smaller of the link MTU and the route's, asked only when padding could add bytes, cached per
 * destination (v4 and v6, no mix-ups between families or addresses), forgotten when the routes
 * change, and never above the link MTU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteMtus, type RouteMtuSource } from '../../src/device/route-mtu.js';

/** A fake kernel: MTUs by destination string, a change flag, and a count of lookups. */
function fakeSource(routes: Map<string, number>): RouteMtuSource & { lookups: number; dirty: boolean } {
  const src = {
    lookups: 0,
    dirty: false,
    lookup(family: 4 | 6, b: Uint8Array, at: number): number {
      src.lookups++;
      const n = family === 4 ? 4 : 16;
      return routes.get(Buffer.from(b.subarray(at, at + n)).toString('hex')) ?? 0;
    },
    changed(): boolean {
      const d = src.dirty;
      src.dirty = false;
      return d;
    },
  };
  return src;
}

/** An IPv4 packet of `length` bytes to 192.168.241.<last>. */
function v4(length: number, last: number): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x45;
  p.set([192, 168, 241, last], 16);
  return p;
}

/** An IPv6 packet of `length` bytes to fd00::<last>. */
function v6(length: number, last: number): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x60;
  p[24] = 0xfd;
  p[39] = last;
  return p;
}

test('the route MTU caps padding below the link MTU; other routes keep the link MTU', () => {
  const src = fakeSource(new Map([['c0a8f102', 1299]]));
  const r = new RouteMtus(src);
  assert.equal(r.capFor(v4(1297, 2), 0, 1297, 1300, 0), 1299);
  assert.equal(r.capFor(v4(1297, 3), 0, 1297, 1300, 0), 1300, 'no route MTU: the link');
  const big = new Map([['c0a8f102', 9000]]);
  assert.equal(
    new RouteMtus(fakeSource(big)).capFor(v4(1297, 2), 0, 1297, 1300, 0),
    1300,
    'never above the link',
  );
});

test('no lookup when padding adds nothing (a multiple of 16)', () => {
  const src = fakeSource(new Map());
  const r = new RouteMtus(src);
  assert.equal(r.capFor(v4(1296, 2), 0, 1296, 1420, 0), 1420);
  assert.equal(src.lookups, 0);
  r.capFor(v4(1297, 2), 0, 1297, 1420, 0);
  assert.equal(src.lookups, 1);
});

test('cached per destination and family; forgotten on a route change and after its time', () => {
  const routes = new Map([
    ['c0a8f102', 1299],
    ['fd000000000000000000000000000002', 1280],
  ]);
  const src = fakeSource(routes);
  const r = new RouteMtus(src);
  for (let i = 0; i < 5; i++) assert.equal(r.capFor(v4(1297, 2), 0, 1297, 1420, 0), 1299);
  assert.equal(src.lookups, 1);
  assert.equal(r.capFor(v6(1275, 2), 0, 1275, 1420, 0), 1280);
  assert.equal(r.capFor(v6(1275, 3), 0, 1275, 1420, 0), 1420);
  assert.equal(src.lookups, 3);
  routes.set('c0a8f102', 1350);
  r.refresh(0);
  assert.equal(r.capFor(v4(1297, 2), 0, 1297, 1420, 0), 1299, 'no change announced: still cached');
  src.dirty = true;
  r.refresh(0.5);
  assert.equal(r.capFor(v4(1297, 2), 0, 1297, 1420, 0.5), 1299, 'asked at most once a millisecond');
  r.refresh(1);
  assert.equal(r.capFor(v4(1297, 2), 0, 1297, 1420, 1), 1350, 'announced: asked again');
  routes.set('c0a8f102', 1310);
  assert.equal(r.capFor(v4(1297, 2), 0, 1297, 1420, 60_000), 1310, 'expired: asked again');
});

test('at an offset inside a read slot', () => {
  const src = fakeSource(new Map([['c0a8f102', 1299]]));
  const slot = new Uint8Array(2000);
  slot.set(v4(1297, 2), 100);
  assert.equal(new RouteMtus(src).capFor(slot, 100, 1297, 1300, 0), 1299);
});
