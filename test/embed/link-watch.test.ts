/**
 * The link watch (src/embed/link-watch.ts, native/link-watch.c): netlink events while the link
 * is in our namespace, a poll while it is elsewhere or unknown, and a poll for good without the
 * addon's watch. No root needed: a RTMGRP_LINK socket is open to anyone, and the link's
 * namespace is handed in as LinuxTun.link() would report it. (Events from a real link are covered
 * by test/daemon/link-follow.test.ts, as root.)
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { afterEach, mock, test } from 'node:test';
import { POLL_MS, watchLink } from '../../src/embed/link-watch.js';
import { loadNative } from '../../src/io/native.js';

afterEach(() => mock.timers.reset());

function nativeOrNull(): ReturnType<typeof loadNative> | null {
  try {
    return loadNative();
  } catch {
    return null;
  }
}

test('without the native watch the link is asked every POLL_MS', () => {
  mock.timers.enable({ apis: ['setInterval'] });
  let looks = 0;
  const w = watchLink(() => looks++, null);
  assert.equal(w.mode, 'poll');
  mock.timers.tick(POLL_MS * 4);
  assert.equal(looks, 4);
  w.close();
  mock.timers.tick(POLL_MS * 4);
  assert.equal(looks, 4, 'nothing after close');
});

test('netlink while the link is in our namespace, a poll while it is away or unknown', (t) => {
  const native = nativeOrNull();
  if (native === null || typeof native.linkWatchOpen !== 'function') {
    t.skip('no native addon with a link watch');
    return;
  }
  mock.timers.enable({ apis: ['setInterval'] });
  const own = statSync('/proc/self/ns/net').ino;
  let looks = 0;
  const w = watchLink(() => looks++, native);
  try {
    assert.equal(w.mode, 'netlink', 'an idle link costs no timer');
    mock.timers.tick(POLL_MS * 4);
    assert.equal(looks, 0, 'and no looks without events');
    w.follow(own + 1); // moved to another namespace
    assert.equal(w.mode, 'poll');
    mock.timers.tick(POLL_MS * 2);
    assert.equal(looks, 2);
    w.follow(own); // back home
    assert.equal(w.mode, 'netlink');
    w.follow(null); // between namespaces
    assert.equal(w.mode, 'poll');
    mock.timers.tick(POLL_MS);
    w.follow(own);
    mock.timers.tick(POLL_MS * 4);
    assert.equal(looks, 3, 'one look while unknown, none after');
  } finally {
    w.close();
  }
});
