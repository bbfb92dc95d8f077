/**
 * The `tun` backend against a wireguard-go peer (root only): an embedded interface in a child
 * process running in namespace A opens a kernel TUN (src/embed/kernel-link.ts), addressed and up;
 * Debian's wireguard-go runs in namespace B, configured with the real `wg`; a veth joins them.
 * Pings cross the tunnel both ways through the kernel's own stack, the child sees the handshake
 * event and `peers()` agrees with `wg show` on the other side; on SIGTERM the child closes the
 * interface, its link disappears, and it exits by itself. It runs wgtsd's batched data path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cleanup, createNamespace, exec, ping, spawn, waitFor } from '../helpers/netns.js';
import { configureInterface, interopSkipReason, startDaemon, wgShowDump } from '../helpers/wg-peer.js';
import { generatePrivateKey, keyToBase64, publicKeyOf } from '../../src/index.js';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const skip = interopSkipReason(['wireguard-go'], ['ping']);
const tag = process.pid.toString(36);
const octet = (process.pid % 200) + 20;

test('tun backend: an embedded interface and wireguard-go ping each other', { skip }, async (t) => {
  t.after(() => cleanup());
  const nsA = await createNamespace(`nsem-${tag}-a`);
  const nsB = await createNamespace(`nsem-${tag}-b`);
  const [vA, vB] = [`te${tag}va`, `te${tag}vb`];
  await exec(null, 'ip', ['-n', nsA, 'link', 'add', vA, 'type', 'veth', 'peer', 'name', vB, 'netns', nsB]);
  await exec(nsA, 'ip', ['addr', 'add', `10.213.${octet}.1/24`, 'dev', vA]);
  await exec(nsB, 'ip', ['addr', 'add', `10.213.${octet}.2/24`, 'dev', vB]);
  await exec(nsA, 'ip', ['link', 'set', vA, 'up']);
  await exec(nsB, 'ip', ['link', 'set', vB, 'up']);

  const embedKey = generatePrivateKey();
  const goKey = generatePrivateKey();
  const go = await startDaemon(nsB, { impl: 'wireguard-go', ifname: `te${tag}g` });
  t.after(() => go.stop());
  await configureInterface(go, {
    privateKey: keyToBase64(goKey),
    listenPort: 51820,
    addresses: ['100.99.0.2/24'],
    peers: [{ publicKey: keyToBase64(publicKeyOf(embedKey)), allowedIps: ['100.99.0.1/32'] }],
  });

  const name = `te${tag}w`;
  const config = [
    '[Interface]',
    `PrivateKey = ${keyToBase64(embedKey)}`,
    'Address = 100.99.0.1/24',
    '[Peer]',
    `PublicKey = ${keyToBase64(publicKeyOf(goKey))}`,
    `Endpoint = 10.213.${octet}.2:51820`,
    'AllowedIPs = 100.99.0.2/32',
    '',
  ].join('\n');
  const script = `
    import { WireGuard, createLogger } from ${JSON.stringify(INDEX)};
    const wg = await WireGuard.open({
      backend: 'tun',
      name: ${JSON.stringify(name)},
      config: ${JSON.stringify(config)},
      logger: createLogger(${JSON.stringify(name)}, 'verbose'),
    });
    wg.on('handshake', (e) => console.log('HANDSHAKE ' + JSON.stringify(e)));
    process.on('SIGTERM', async () => {
      console.log('PEERS ' + JSON.stringify(wg.peers()));
      await wg.close();
      console.log('CLOSED');
    });
    console.log('READY ' + wg.name);
  `;
  const child = spawn(nsA, process.execPath, ['--input-type=module', '-e', script]);
  await waitFor(() => child.output().includes('READY') || child.hasExited(), {
    timeoutMs: 15_000,
    what: 'the embedded interface to open',
  });
  assert.match(child.output(), new RegExp(`READY ${name}`), child.output());
  // The device wgtsd runs (src/embed/kernel-device.ts): the batched data path, as wgtsd has it by
  // default on this kernel (test/selftest/wggo-netns-wgtsd.test.ts checks the daemon's line).
  assert.match(child.output(), /data path: batched, TUN offloads 0x[0-9a-f]+/, child.output());

  const there = await ping(nsA, '100.99.0.2', { count: 2, deadlineS: 10 });
  assert.ok(there.ok, `ping from the embedded interface failed:\n${there.output}\n${child.output()}`);
  const back = await ping(nsB, '100.99.0.1', { count: 2, deadlineS: 10 });
  assert.ok(back.ok, `ping to the embedded interface failed:\n${back.output}`);
  await waitFor(() => child.output().includes('HANDSHAKE'), { timeoutMs: 5000, what: 'the handshake event' });
  assert.match(
    child.output(),
    /HANDSHAKE \{"publicKey":"[^"]+","endpoint":"10\.213\.\d+\.2:51820","initiator":true\}/,
  );

  const dump = await wgShowDump(nsB, go.ifname);
  const seen = dump.peers.find((p) => p.publicKey === keyToBase64(publicKeyOf(embedKey)));
  assert.ok(seen !== undefined && seen.latestHandshake > 0, 'wireguard-go saw the handshake');

  process.kill(child.pid, 'SIGTERM');
  const exit = await Promise.race([
    child.exited,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000).unref()),
  ]);
  assert.deepEqual(exit, { code: 0, signal: null }, `the child did not exit by itself:\n${child.output()}`);
  assert.match(child.output(), /CLOSED/);
  const peers = JSON.parse(/PEERS (.*)/.exec(child.output())![1]!) as {
    transferRx: number;
    endpoint: string;
  }[];
  assert.equal(peers[0]!.endpoint, `10.213.${octet}.2:51820`);
  assert.equal(peers[0]!.transferRx, seen.txBytes, 'rx here = tx there');
  const link = await exec(nsA, 'ip', ['link', 'show', name]);
  assert.notEqual(link.code, 0, 'the link is gone after close');
});
