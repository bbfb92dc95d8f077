/**
 * wgtsd's verbose log against a real wireguard-go peer (issue 12, item 3): two namespaces of our
 * own (lg-a: wgtsd on lgwg0, lg-b: Debian's wireguard-go on lgwg1) joined by a veth, configured
 * with the real `wg`, then pinged. The lines must appear in protocol order — UAPI changes, peer
 * created, interface up, initiation sent, response received, keypair created, session
 * established (and the responder's side when wireguard-go initiates) — name the peer as
 * `peer(AbCd…wXyZ)`, and never show a key. Then keepalives, roaming, MTU, link down and peer
 * removal.
 *
 * Needs root, wireguard-go, wg, ip and ping; skips otherwise. Everything it makes is named lg*,
 * deleted by name afterwards.
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup,
  createNamespace,
  deleteNamespace,
  exec,
  execOk,
  trackLink,
  waitFor,
} from '../helpers/netns.js';
import {
  configureInterface,
  genKeyPair,
  genPsk,
  interopSkipReason,
  startDaemon,
  type Daemon,
  type KeyPair,
} from '../helpers/wg-peer.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);
const NS_A = 'lg-a';
const NS_B = 'lg-b';
const WAIT_MS = 15_000;

after(async () => {
  await cleanup();
});

/** A fresh pair: namespaces, veth lgv0 (10.77.0.1) – lgv1 (10.77.0.2), both daemons, no config. */
async function topology(): Promise<{ a: Daemon; b: Daemon }> {
  for (const ns of [NS_A, NS_B]) await exec(null, 'ip', ['netns', 'del', ns]); // a killed run's leftovers
  await createNamespace(NS_A);
  await createNamespace(NS_B);
  await execOk(null, 'ip', [
    '-n',
    NS_A,
    'link',
    'add',
    'lgv0',
    'type',
    'veth',
    'peer',
    'name',
    'lgv1',
    'netns',
    NS_B,
  ]);
  trackLink(NS_A, 'lgv0');
  await execOk(NS_A, 'ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'lgv0']);
  await execOk(NS_B, 'ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'lgv1']);
  await execOk(NS_A, 'ip', ['link', 'set', 'lgv0', 'up']);
  await execOk(NS_B, 'ip', ['link', 'set', 'lgv1', 'up']);
  const [a, b] = await Promise.all([
    startDaemon(NS_A, { impl: 'wgtsd', ifname: 'lgwg0', env: { LOG_LEVEL: 'verbose', WGTS_WARMUP: '0' } }),
    startDaemon(NS_B, { impl: 'wireguard-go', ifname: 'lgwg1', env: { LOG_LEVEL: 'verbose' } }),
  ]);
  return { a, b };
}

afterEach(async () => {
  for (const ns of [NS_A, NS_B]) await deleteNamespace(ns).catch(() => {});
});

/** `peer(AbCd…wXyZ)` for a base64 public key, written here independently of src/. */
function short(publicKey: string): string {
  return `peer(${publicKey.slice(0, 4)}…${publicKey.slice(39, 43)})`;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Waits until every pattern matches a line of `d`'s output, each after the previous one's line,
 * and returns the lines matched; the timeout error shows the output.
 */
async function inOrder(d: Daemon, patterns: readonly RegExp[]): Promise<string[]> {
  let found: string[] = [];
  let missing = '';
  try {
    await waitFor(
      () => {
        const lines = d.output().split('\n');
        found = [];
        let at = 0;
        for (const p of patterns) {
          while (at < lines.length && !p.test(lines[at]!)) at++;
          if (at === lines.length) {
            missing = String(p);
            return false;
          }
          found.push(lines[at++]!);
        }
        return true;
      },
      { timeoutMs: WAIT_MS, what: 'log lines in order' },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: missing ${missing}\n${d.output()}`);
  }
  return found;
}

function assertNoKeys(output: string, keys: readonly string[]): void {
  for (const k of keys) assert.ok(!output.includes(k), `a key value appears in the log:\n${output}`);
}

async function configure(a: Daemon, b: Daemon, ka: KeyPair, kb: KeyPair, psk: string, endpointOn: 'a' | 'b') {
  await configureInterface(a, {
    privateKey: ka.privateKey,
    listenPort: 51871,
    addresses: ['10.78.0.1/24'],
    peers: [
      {
        publicKey: kb.publicKey,
        allowedIps: ['10.78.0.2/32'],
        presharedKey: psk,
        ...(endpointOn === 'a' ? { endpoint: '10.77.0.2:51872' } : {}),
      },
    ],
  });
  await configureInterface(b, {
    privateKey: kb.privateKey,
    listenPort: 51872,
    addresses: ['10.78.0.2/24'],
    peers: [
      {
        publicKey: ka.publicKey,
        allowedIps: ['10.78.0.1/32'],
        presharedKey: psk,
        ...(endpointOn === 'b' ? { endpoint: '10.77.0.1:51871' } : {}),
      },
    ],
  });
}

test(
  'wgtsd initiates: UAPI changes, peer created, handshake and session lines in order, no key values',
  { skip },
  async () => {
    const { a, b } = await topology();
    const [ka, kb, psk] = await Promise.all([genKeyPair(), genKeyPair(), genPsk()]);
    await configure(a, b, ka, kb, psk, 'a');
    const p = escape(short(kb.publicKey));
    await execOk(NS_A, 'ping', ['-c', '1', '-W', '10', '10.78.0.2']);
    const lines = await inOrder(a, [
      /UAPI: updating listen port to 51871$/,
      /UAPI: updating private key$/,
      new RegExp(`${p} created$`),
      new RegExp(`${p} UAPI: updating preshared key$`),
      new RegExp(`${p} UAPI: updating endpoint to 10\\.77\\.0\\.2:51872$`),
      new RegExp(`${p} UAPI: .*adding allowed IP 10\\.78\\.0\\.2/32$`),
      /interface up$/,
      new RegExp(`${p} sending handshake initiation$`),
      new RegExp(`${p} received handshake response$`),
      new RegExp(`${p} keypair \\d+ created \\(initiator\\)$`),
      new RegExp(`${p} handshake complete: session established$`),
    ]);
    assert.match(lines[0]!, /^DEBUG: \(lgwg0\) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UAPI/);
    assertNoKeys(a.output(), [ka.privateKey, kb.privateKey, psk, ka.publicKey, kb.publicKey]);

    // Persistent keepalive: sent by wgtsd, and wireguard-go's keepalives (it sends one ~10 s after
    // data it received went unanswered, so ask it for persistent ones) received.
    await execOk(NS_A, 'wg', ['set', 'lgwg0', 'peer', kb.publicKey, 'persistent-keepalive', '1']);
    await execOk(NS_B, 'wg', ['set', 'lgwg1', 'peer', ka.publicKey, 'persistent-keepalive', '1']);
    await inOrder(a, [
      new RegExp(`${p} UAPI: updating persistent keepalive interval to 1 s$`),
      new RegExp(`${p} sending (persistent )?keepalive$`),
    ]);
    await inOrder(a, [
      new RegExp(`${p} UAPI: updating persistent keepalive`),
      new RegExp(`${p} received keepalive$`),
    ]);

    // MTU, link down, peer removed.
    await execOk(NS_A, 'ip', ['link', 'set', 'lgwg0', 'mtu', '1380']);
    await inOrder(a, [/MTU changed from 1420 to 1380$/]);
    await execOk(NS_A, 'ip', ['link', 'set', 'lgwg0', 'down']);
    await inOrder(a, [/interface up$/, /interface down$/]);
    await execOk(NS_A, 'wg', ['set', 'lgwg0', 'peer', kb.publicKey, 'remove']);
    await inOrder(a, [/interface down$/, new RegExp(`${p} removed$`)]);
  },
);

test('wireguard-go initiates: wgtsd logs the responder side and learns the endpoint', { skip }, async () => {
  const { a, b } = await topology();
  const [ka, kb, psk] = await Promise.all([genKeyPair(), genKeyPair(), genPsk()]);
  await configure(a, b, ka, kb, psk, 'b');
  const p = escape(short(kb.publicKey));
  await execOk(NS_B, 'ping', ['-c', '1', '-W', '10', '10.78.0.1']);
  await inOrder(a, [
    new RegExp(`${p} created$`),
    /interface up$/,
    new RegExp(`${p} endpoint changed to 10\\.77\\.0\\.2:51872$`),
    new RegExp(`${p} received handshake initiation$`),
    new RegExp(`${p} keypair \\d+ created \\(responder\\)$`),
    new RegExp(`${p} sending handshake response$`),
    new RegExp(`${p} handshake complete: session established$`),
  ]);
  assertNoKeys(a.output(), [ka.privateKey, kb.privateKey, psk, kb.publicKey]);
  // A packet from outside wgtsd's allowed IPs for the peer (batched data path): dropped, and said.
  await execOk(NS_B, 'ip', ['addr', 'add', '10.78.0.9/32', 'dev', 'lgwg1']);
  const spoofed = await exec(NS_B, 'ping', ['-c', '1', '-W', '1', '-I', '10.78.0.9', '10.78.0.1']);
  assert.notEqual(spoofed.code, 0, 'no reply to a source outside the allowed IPs');
  await inOrder(a, [new RegExp(`${p} packet with a source address outside its allowed IPs dropped$`)]);
  // The same flow in wireguard-go's own log, for comparison in a failure's diagnostics.
  assert.match(b.output(), /Sending handshake initiation/);
  if (process.env.LG_DUMP) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync('/tmp/lg/a.log', a.output());
    writeFileSync('/tmp/lg/b.log', b.output());
  }
});
