/**
 * wgtsd's argument and environment parsing (src/daemon/options.ts), in process: both value forms
 * of every option, the command line winning over the environment, each bad value refused naming
 * its option or variable, the daemonising child's argv giving back the same options, and the help
 * listing every option and variable of the tables it is written from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  daemonArgv,
  daemonEnvironmentNames,
  daemonHelp,
  parseDaemonArgs,
  type ParsedArgs,
} from '../../src/daemon/options.js';

function options(r: ParsedArgs) {
  assert.equal(r.kind, 'run', JSON.stringify(r));
  return (r as Extract<ParsedArgs, { kind: 'run' }>).options;
}

function error(r: ParsedArgs): string {
  assert.equal(r.kind, 'error', JSON.stringify(r));
  return (r as Extract<ParsedArgs, { kind: 'error' }>).message;
}

test('the wireguard-go forms: IFNAME, -f IFNAME, --foreground IFNAME, WG_PROCESS_FOREGROUND=1', () => {
  assert.deepEqual(options(parseDaemonArgs(['wg0'], {})), { foreground: false, ifname: 'wg0' });
  assert.deepEqual(options(parseDaemonArgs(['-f', 'wg0'], {})), { foreground: true, ifname: 'wg0' });
  assert.deepEqual(options(parseDaemonArgs(['wg0', '--foreground'], {})), {
    foreground: true,
    ifname: 'wg0',
  });
  assert.equal(options(parseDaemonArgs(['wg0'], { WG_PROCESS_FOREGROUND: '1' })).foreground, true);
  // wireguard-go turns the variable on only with exactly `1`.
  assert.equal(options(parseDaemonArgs(['wg0'], { WG_PROCESS_FOREGROUND: 'yes' })).foreground, false);
  assert.equal(parseDaemonArgs(['--help', 'wg0'], {}).kind, 'help');
  assert.equal(parseDaemonArgs(['-h'], {}).kind, 'help');
  assert.equal(parseDaemonArgs(['--version'], {}).kind, 'version');
  assert.equal(parseDaemonArgs(['-v'], {}).kind, 'version');
});

test('--metrics HOST:PORT and --metrics=HOST:PORT, IPv6 in brackets, hostnames kept', () => {
  const want = { foreground: false, ifname: 'wg0', metrics: { host: '127.0.0.1', port: 9586 } };
  assert.deepEqual(options(parseDaemonArgs(['--metrics', '127.0.0.1:9586', 'wg0'], {})), want);
  assert.deepEqual(options(parseDaemonArgs(['wg0', '--metrics=127.0.0.1:9586'], {})), want);
  assert.deepEqual(options(parseDaemonArgs(['--metrics=[::1]:9586', 'wg0'], {})).metrics, {
    host: '::1',
    port: 9586,
  });
  assert.deepEqual(options(parseDaemonArgs(['--metrics', 'localhost:1', 'wg0'], {})).metrics, {
    host: 'localhost',
    port: 1,
  });
});

test('--log-file PATH and --log-file=PATH, made absolute', () => {
  assert.equal(
    options(parseDaemonArgs(['--log-file', '/var/log/wgtsd.log', 'wg0'], {})).logFile,
    '/var/log/wgtsd.log',
  );
  assert.equal(
    options(parseDaemonArgs(['--log-file=rel.log', 'wg0'], {})).logFile,
    `${process.cwd()}/rel.log`,
  );
});

test('bad values and usage errors name what is wrong', () => {
  for (const bad of [
    'abc',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '::1:80',
    '[::1]',
    '[1.2.3.4]:80',
  ]) {
    assert.match(
      error(parseDaemonArgs([`--metrics=${bad}`, 'wg0'], {})),
      /^invalid --metrics value '.*': .*expected HOST:PORT/,
      bad,
    );
    assert.match(error(parseDaemonArgs(['--metrics', bad, 'wg0'], {})), /^invalid --metrics value /, bad);
  }
  assert.equal(
    error(parseDaemonArgs(['--log-file=', 'wg0'], {})),
    "invalid --log-file value '': expected a file name",
  );
  assert.equal(
    error(parseDaemonArgs(['wg0', '--metrics'], {})),
    "option '--metrics' needs a value (HOST:PORT)",
  );
  assert.equal(error(parseDaemonArgs(['--foreground=1', 'wg0'], {})), "option '--foreground' takes no value");
  assert.equal(error(parseDaemonArgs(['-x', 'wg0'], {})), "unknown option '-x'");
  assert.equal(error(parseDaemonArgs(['--bogus=1', 'wg0'], {})), "unknown option '--bogus=1'");
  assert.equal(error(parseDaemonArgs([], {})), 'no interface name given');
  assert.equal(error(parseDaemonArgs(['-f'], {})), 'no interface name given');
  assert.equal(error(parseDaemonArgs(['a', 'b'], {})), 'one interface name expected, got 2');
  for (const name of ['', '.', '..', 'a/b', 'a b', 'a:b', '0123456789abcdef']) {
    assert.match(error(parseDaemonArgs([name], {})), /^invalid interface name/, name);
  }
  // WGTS_METRICS and WGTS_LOG_FILE are read by the daemon itself (run.ts), after the command line.
  assert.deepEqual(options(parseDaemonArgs(['wg0'], { WGTS_METRICS: 'abc', WGTS_LOG_FILE: '/x' })), {
    foreground: false,
    ifname: 'wg0',
  });
});

test("the daemonising child's argv gives back the options but the log file, the interface name last", () => {
  const cases = [
    { foreground: false, ifname: 'wg0' },
    { foreground: false, ifname: 'wg1', metrics: { host: '::1', port: 9586 } },
    { foreground: false, ifname: 'wg3', metrics: { host: '', port: 9586 } },
    { foreground: true, ifname: 'wg2', metrics: { host: 'localhost', port: 80 } },
  ];
  for (const o of cases) {
    const argv = daemonArgv(o);
    assert.equal(argv[argv.length - 1], o.ifname);
    assert.deepEqual(options(parseDaemonArgs(argv, {})), { ...o, foreground: true });
  }
});

test('--help lists every option and every variable, in the table layout', () => {
  const help = daemonHelp();
  assert.match(
    help,
    /^Usage: wgtsd \[-f\/--foreground\] \[--metrics HOST:PORT\] \[--log-file PATH\] INTERFACE-NAME\n/,
  );
  for (const opt of [
    '-f, --foreground',
    '--metrics HOST:PORT',
    '--log-file PATH',
    '-h, --help',
    '-v, --version',
  ]) {
    assert.ok(help.includes(`  ${opt} `), opt);
  }
  const names = daemonEnvironmentNames();
  for (const name of [
    'LOG_LEVEL',
    'WG_PROCESS_FOREGROUND',
    'WG_TUN_FD',
    'WG_UAPI_FD',
    'WGTS_OFFLOAD',
    'WGTS_WARMUP',
    'WGTS_STATS',
    'WGTS_STATS_MS',
    'WGTS_METRICS',
    'WGTS_LOG_FILE',
    'WGTS_RESOLVE_INTERVAL',
  ]) {
    assert.ok(names.includes(name), name);
    assert.match(help, new RegExp(`^  ${name}=`, 'm'), name);
  }
  for (const line of help.split('\n')) assert.ok(line.length <= 100, line);
});
