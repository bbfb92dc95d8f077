/**
 * The README's hub-and-spoke example (the seeds' relay setup), brought up exactly as written:
 * the hub's file, spoke A's, spoke B's (derived from A's as the README says) and spoke C's with
 * the office LAN behind it. Each host is a network namespace joined to the hub by its own veth,
 * and the LAN host sits behind spoke C on another veth. Only the placeholders are replaced: keys
 * by fresh ones, `hub.example.net` by the hub's address on that spoke's link, and the file name
 * by a unique interface name (all UAPI sockets share /var/run/wireguard). `wgts up` (wgtsd) runs
 * each file, PostUp included; then spoke A must reach spoke B and the LAN host, through the hub.
 * Needs root, /dev/net/tun, ping, sysctl; skips otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanup,
  createNamespace,
  createVethPair,
  exec,
  execOk,
  ping,
  trackPath,
  uniqueIfname,
  uniqueName,
  untrackPath,
} from '../helpers/netns.js';
import { genKeyPair, interopSkipReason, UAPI_DIR, type KeyPair } from '../helpers/wg-peer.js';
import { daemonPids, quickCli, quickEnv, writeConf } from '../cli/quick-helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const skip = interopSkipReason(['wgtsd'], ['ping', 'sysctl']);

after(async () => {
  await cleanup();
});

/** The README's ```ini blocks, keyed by the host named in their first line (`# hub: ...`). */
function exampleFiles(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const m of markdown.matchAll(/^```ini\n# ([^:\n]+): [^\n]*\n([\s\S]*?)^```$/gm)) {
    files.set(m[1]!, m[2]!);
  }
  return files;
}

type Host = 'hub' | 'spoke A' | 'spoke B' | 'spoke C';
const HOSTS: readonly Host[] = ['hub', 'spoke A', 'spoke B', 'spoke C'];
const placeholder = (host: Host, half: 'PRIVATE' | 'PUBLIC'): string =>
  `${host.toUpperCase().replace(' ', '_')}_${half}_KEY`;

test('README hub and spokes: A reaches B and the LAN behind C through the hub', { skip }, async () => {
  const files = exampleFiles(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  for (const host of ['hub', 'spoke A', 'spoke C']) {
    assert.ok(files.has(host), `README has no \`\`\`ini block starting "# ${host}: ..."`);
  }
  // Spoke B is spoke A with its own address and key, as the README's comment says.
  files.set(
    'spoke B',
    files
      .get('spoke A')!
      .replace('Address = 10.10.0.2/24', 'Address = 10.10.0.3/24')
      .replace('SPOKE_A_PRIVATE_KEY', 'SPOKE_B_PRIVATE_KEY'),
  );
  assert.notEqual(files.get('spoke B'), files.get('spoke A'), 'spoke A no longer has Address 10.10.0.2/24');

  const keys = new Map<Host, KeyPair>();
  for (const host of HOSTS) keys.set(host, await genKeyPair());
  const ns = new Map<Host | 'lan', string>();
  for (const host of [...HOSTS, 'lan' as const]) ns.set(host, await createNamespace(uniqueName('r')));
  const hubAddress = new Map<Host, string>();
  for (const [i, spoke] of (['spoke A', 'spoke B', 'spoke C'] as const).entries()) {
    const hub = `10.91.${i + 1}.1`;
    await createVethPair(ns.get('hub')!, ns.get(spoke)!, { v4: [`${hub}/24`, `10.91.${i + 1}.2/24`] });
    hubAddress.set(spoke, hub);
  }
  // The office LAN: 192.168.50.1 on spoke C, a host at .10 whose gateway is spoke C.
  await createVethPair(ns.get('spoke C')!, ns.get('lan')!, { v4: ['192.168.50.1/24', '192.168.50.10/24'] });
  await execOk(ns.get('lan')!, 'ip', ['route', 'add', 'default', 'via', '192.168.50.1']);

  const dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-hub-`));
  chmodSync(dir, 0o700);
  trackPath(dir);
  const ifnames = new Map<Host, string>();
  try {
    for (const host of HOSTS) {
      let text = files.get(host)!;
      for (const other of HOSTS) {
        text = text
          .replaceAll(placeholder(other, 'PRIVATE'), keys.get(other)!.privateKey)
          .replaceAll(placeholder(other, 'PUBLIC'), keys.get(other)!.publicKey);
      }
      if (host !== 'hub') text = text.replaceAll('hub.example.net', hubAddress.get(host)!);
      assert.doesNotMatch(text, /[A-Z_]+_KEY\b|example\.net/, `${host}: a placeholder is left`);
      const ifname = uniqueIfname('h');
      ifnames.set(host, ifname);
      trackPath(join(UAPI_DIR, `${ifname}.sock`));
      const path = join(dir, `${ifname}.conf`);
      writeConf(path, text);
      const up = await exec(ns.get(host)!, process.execPath, [...quickCli(), 'up', path], {
        env: quickEnv(),
        timeoutMs: 60_000,
      });
      assert.equal(up.code, 0, `wgts up on ${host} failed:\n${up.stdout}${up.stderr}`);
    }
    const a = ns.get('spoke A')!;
    // Spoke B is reachable only once B's keepalive has told the hub where B is; ping's -w keeps
    // asking until the first reply or the deadline.
    for (const [dst, what] of [
      ['10.10.0.1', 'the hub'],
      ['10.10.0.3', 'spoke B through the hub'],
      ['10.10.0.4', 'spoke C through the hub'],
      ['192.168.50.10', 'the LAN host behind spoke C'],
    ] as const) {
      const r = await ping(a, dst, { count: 1, intervalS: 0.2, deadlineS: 15 });
      assert.ok(r.ok, `spoke A cannot reach ${what} (${dst}):\n${r.output}`);
    }
    const back = await ping(ns.get('spoke B')!, '10.10.0.2', { count: 3, intervalS: 0.2, deadlineS: 10 });
    assert.ok(back.ok, `spoke B cannot reach spoke A through the hub:\n${back.output}`);
  } finally {
    for (const host of HOSTS) {
      const ifname = ifnames.get(host);
      if (ifname === undefined) continue;
      for (const pid of daemonPids(ifname)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
    untrackPath(dir);
  }
});
