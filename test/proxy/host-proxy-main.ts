/**
 * `wgts proxy` as a process for the tests, with the host-backed network (test/helpers/
 * host-network.ts) in place of the userspace device: everything else (flags, config loading,
 * routines, STDIO on the real stdin/stdout, signals, exit status) is the real proxyMain. Started
 * by cli.test.ts as `node dist/test/proxy/host-proxy-main.js ARGS…`.
 */
import { processContext } from '../../src/cli/context.js';
import { proxyMain } from '../../src/proxy/main.js';
import { hostNetwork } from '../helpers/host-network.js';

const code = await proxyMain(process.argv.slice(2), processContext('wgts'), {
  version: 'test',
  openDevice: async () => ({
    network: hostNetwork(),
    uapiGet: () => 'private_key=00\nlisten_port=1\n',
    close: async () => {},
  }),
});
process.stdout.write('', () => process.exit(code));
