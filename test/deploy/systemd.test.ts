/**
 * The systemd units of deploy/, checked by `systemd-analyze verify` (which loads a unit as
 * systemd would, with the drop-in directories beside it, and checks that its commands exist):
 * wgts@.service with its commands pointed at this build (the unit names /usr/local/bin/wgts, where
 * `npm install -g` puts it, which a test must not need), and the stock wg-quick@.service with our
 * drop-in. Any word from verify fails, warnings included; a deliberately broken copy shows that
 * verify does speak up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_MAIN } from '../cli/helpers.js';
import { which } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UNIT = join(ROOT, 'deploy/wgts@.service');
const DROP_IN = join(ROOT, 'deploy/wg-quick@.service.d/wgtsd.conf');
const STOCK = '/lib/systemd/system/wg-quick@.service';

function verify(unitPath: string): string {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitPath], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.error, undefined, String(r.error));
  return `${r.stdout}${r.stderr}${r.status === 0 ? '' : `exit ${r.status}`}`;
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'op-unit-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const noVerify = which('systemd-analyze') === null ? 'systemd-analyze not on PATH' : false;

test('wgts@.service runs wgts up/down/syncconf, oneshot, as wg-quick@.service does', () => {
  const unit = readFileSync(UNIT, 'utf8');
  for (const line of [
    'Type=oneshot',
    'RemainAfterExit=yes',
    'ExecStart=/usr/local/bin/wgts up %i',
    'ExecStop=/usr/local/bin/wgts down %i',
    'WantedBy=multi-user.target',
  ]) {
    assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), line);
  }
});

test('systemd-analyze verify accepts wgts@.service run from this build', { skip: noVerify }, () => {
  withDir((dir) => {
    const wgts = `${process.execPath} ${CLI_MAIN}`;
    const text = readFileSync(UNIT, 'utf8').replaceAll('/usr/local/bin/wgts', wgts);
    assert.ok(text.includes(`ExecStart=${wgts} up %i`));
    writeFileSync(join(dir, 'wgts@.service'), text);
    assert.equal(verify(join(dir, 'wgts@op0.service')), '');
    // The check can fail: a misspelt key and a command that does not exist are both reported.
    writeFileSync(join(dir, 'wgts@.service'), text.replace('RemainAfterExit', 'RemainAfterExt'));
    assert.match(verify(join(dir, 'wgts@op0.service')), /Unknown key/);
    writeFileSync(join(dir, 'wgts@.service'), text.replaceAll(process.execPath, '/nonexistent/node'));
    assert.match(verify(join(dir, 'wgts@op0.service')), /not executable|No such file/);
  });
});

test(
  'the drop-in sets the variable the installed wg-quick reads, and verify accepts it on the stock unit',
  { skip: noVerify || (!existsSync(STOCK) ? `${STOCK} missing (wireguard-tools)` : false) },
  () => {
    const dropIn = readFileSync(DROP_IN, 'utf8');
    const m = /^Environment=(\w+)=(\S+)$/m.exec(dropIn);
    assert.ok(m !== null, dropIn);
    assert.equal(m[1], 'WG_QUICK_USERSPACE_IMPLEMENTATION');
    assert.equal(m[2], '/usr/local/bin/wgtsd');
    const wgQuick = which('wg-quick');
    if (wgQuick !== null) assert.ok(readFileSync(wgQuick, 'utf8').includes(`\${${m[1]}:-wireguard-go}`));
    withDir((dir) => {
      copyFileSync(STOCK, join(dir, 'wg-quick@.service'));
      mkdirSync(join(dir, 'wg-quick@.service.d'));
      copyFileSync(DROP_IN, join(dir, 'wg-quick@.service.d/wgtsd.conf'));
      assert.equal(verify(join(dir, 'wg-quick@op0.service')), '');
      // verify reads the drop-in: a broken one is reported.
      writeFileSync(
        join(dir, 'wg-quick@.service.d/wgtsd.conf'),
        dropIn.replace('Environment=', 'Enviroment='),
      );
      assert.match(verify(join(dir, 'wg-quick@op0.service')), /Unknown key/);
    });
  },
);
