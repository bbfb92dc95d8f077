/**
 * Rootless runs: the `nobody` helpers (test/helpers/nobody.ts) really drop to uid/gid 65534 with
 * no supplementary groups, nobody can run the built CLI (`wgts --version`) from wherever the
 * package is (in place, or from the staged copy made when the clone is not readable by nobody,
 * which is also forced once here to prove that path), and nobody can fetch over HTTP with curl from
 * the fixture's server program, which runs in a fresh namespace on its loopback (so nothing
 * listens in the host's namespace).
 *
 * Needs root, setpriv, curl and ip; skips otherwise, with the reason.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, createNamespace, deleteNamespace, spawn, uniqueName, which } from '../helpers/netns.js';
import {
  execAsNobody,
  nobodyRuntime,
  nobodyUnavailable,
  REPO_ROOT,
  writeFileForNobody,
} from '../helpers/nobody.js';
import { patternSha256, TUNNEL_SERVERS_SCRIPT } from '../helpers/tunnel-servers.js';

const skip =
  nobodyUnavailable() ??
  (['curl', 'ip', 'sha256sum'].find((c) => which(c) === null) === undefined
    ? false
    : 'missing curl, ip or sha256sum');

after(async () => {
  await cleanup();
});

describe('running as nobody', { skip }, () => {
  test('the ids are nobody’s and no groups are kept', async () => {
    const r = await execAsNobody('id', []);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^uid=65534\(nobody\) gid=65534\(\w+\) groups=65534\(\w+\)\n$/);
  });

  test('a file written for nobody is nobody’s alone (0600), readable by nobody', async () => {
    const path = writeFileForNobody('proxy.conf', '[Interface]\n');
    const r = await execAsNobody('cat', [path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '[Interface]\n');
    const mode = await execAsNobody('stat', ['-c', '%a %U', path]);
    assert.equal(mode.stdout.trim(), '600 nobody');
  });

  for (const force of [false, true]) {
    test(`nobody runs wgts --version (${force ? 'from a forced staged copy' : 'as found'})`, async (t) => {
      const rt = await nobodyRuntime({ force });
      if (typeof rt === 'string') {
        t.skip(rt);
        return;
      }
      if (force) {
        assert.equal(rt.staged, true);
        assert.ok(!rt.root.startsWith(REPO_ROOT), `the copy ${rt.root} is outside the repository`);
      }
      const r = await execAsNobody(rt.node, [rt.cliMain, '--version']);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^wgts v\d+\.\d+\.\d+/);
    });
  }

  test('nobody fetches 1 MiB over HTTP with curl (SHA-256 checked)', { timeout: 30_000 }, async () => {
    const ns = await createNamespace(uniqueName('nspf-nobody'));
    try {
      const servers = spawn(ns, process.execPath, [
        TUNNEL_SERVERS_SCRIPT,
        'serve',
        '--addr',
        '127.0.0.1',
        '--http',
        '8080',
        '--echo',
        '8007',
        '--udp-echo',
        '8007',
        '--dns',
        '8053',
      ]);
      await servers.waitForOutput(/"event":"ready"/, 10_000);
      const n = 1024 * 1024;
      const r = await execAsNobody(
        'bash',
        [
          '-c',
          `set -o pipefail; curl -sS --fail --max-time 10 http://127.0.0.1:8080/bytes/${n} | sha256sum; id -u`,
        ],
        {
          ns,
          timeoutMs: 15_000,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      const [sum, uid] = r.stdout.trim().split('\n');
      assert.equal(sum?.split(' ')[0], patternSha256(n));
      assert.equal(uid, '65534');
    } finally {
      await deleteNamespace(ns);
    }
  });
});
