/**
 * `wgts help COMMAND` and `wgts COMMAND --help`: the command's usage line (its own, as wg prints
 * it), what the command does beyond wg's one-line description, and every environment variable it
 * reads. The variables are described once, in CLI_ENVIRONMENT, and each command names the ones it
 * reads; a test checks that every variable read anywhere in src/ appears in this help or in
 * `wgtsd --help`, and the man page (man/wgts.8) lists the same table.
 */
import { helpEntry, helpParagraph } from '../help-format.js';

export const CLI_ENVIRONMENT = {
  WG_COLOR_MODE: {
    value: 'always|never|auto',
    help: 'Colours in the output of show: always, never, or auto (the default: only on a terminal).',
  },
  WG_HIDE_KEYS: {
    value: 'never',
    help: 'Print private and preshared keys in show instead of (hidden).',
  },
  WG_ENDPOINT_RESOLUTION_RETRIES: {
    value: 'N|infinity',
    help: 'How often to retry resolving a hostname endpoint after a temporary failure (default 15).',
  },
  WG_QUICK_USERSPACE_IMPLEMENTATION: {
    value: 'PROGRAM',
    help: 'The daemon up starts, a single executable name or path (default: the wgtsd next to wgts). The daemon inherits the environment, so the variables of `wgtsd --help` (LOG_LEVEL, WGTS_*) apply to it.',
  },
  WGTS_UAPI_DIR: {
    value: 'DIR',
    help: "The directory of the daemons' UAPI sockets (default /var/run/wireguard), for tests.",
  },
  HOME: {
    value: 'DIR',
    help: 'proxy reads $HOME/.config/wireproxy.conf when no -c is given and /etc/wireproxy/wireproxy.conf does not exist.',
  },
} as const;

export type CliEnvName = keyof typeof CLI_ENVIRONMENT;

interface CommandHelp {
  readonly text: string;
  readonly env: readonly CliEnvName[];
}

const CONNECT: readonly CliEnvName[] = ['WGTS_UAPI_DIR'];
const CONFIGURE: readonly CliEnvName[] = ['WG_ENDPOINT_RESOLUTION_RETRIES', 'WGTS_UAPI_DIR'];
const CONFIG_FILE =
  'The file is read and checked whole before anything is sent, so an error (reported as FILE:LINE) changes nothing.';
const PRIVILEGED = 'Needs root or CAP_NET_ADMIN.';

const COMMANDS: Readonly<Record<string, CommandHelp>> = {
  show: {
    text: 'Shows interfaces as wg does, byte for byte. --json prints every field of the interface(s) as JSON for programs (docs/cli-json.md).',
    env: ['WG_COLOR_MODE', 'WG_HIDE_KEYS', 'WGTS_UAPI_DIR'],
  },
  showconf: { text: 'Prints the configuration as a file setconf accepts; --json as JSON.', env: CONNECT },
  set: {
    text: 'Changes the configuration; keys are read from files (/dev/null clears one). allowed-ips +CIDR adds and -CIDR removes without replacing the list.',
    env: CONFIGURE,
  },
  setconf: { text: `Replaces the whole configuration with the file. ${CONFIG_FILE}`, env: CONFIGURE },
  addconf: { text: `Adds the file's settings and peers. ${CONFIG_FILE}`, env: CONFIGURE },
  syncconf: {
    text: `Changes only what differs from the file, so unchanged peers keep their sessions. ${CONFIG_FILE}`,
    env: CONFIGURE,
  },
  genkey: { text: 'Prints a new private key (base64). Set umask 077 before writing it to a file.', env: [] },
  genpsk: { text: 'Prints a new preshared key (base64).', env: [] },
  pubkey: { text: 'Reads a private key on stdin and prints its public key.', env: [] },
  up: {
    text: `${PRIVILEGED} Starts the daemon, applies the file, adds addresses, MTU, DNS, routes and runs the hooks; any failure undoes it all.`,
    env: ['WG_QUICK_USERSPACE_IMPLEMENTATION', 'WG_ENDPOINT_RESOLUTION_RETRIES'],
  },
  down: { text: `${PRIVILEGED} Runs the hooks, undoes what up did and stops the daemon.`, env: [] },
  save: { text: 'Writes the running configuration back into the file.', env: [] },
  strip: { text: 'Prints the file without its wg-quick keys, as wg-quick strip does.', env: [] },
  proxy: {
    text: 'Reads a wireproxy configuration file and serves its routines over a userspace WireGuard device, without root. Flags: -c/--config FILE (default /etc/wireproxy/wireproxy.conf, then $HOME/.config/wireproxy.conf); -s/--silent (no log but errors); -d/--daemon (detach; returns once running); -i/--info ADDR (health endpoint: GET /metrics is the UAPI dump with keys redacted, GET /readyz is the last echo reply per CheckAlive address, 503 when one is older than CheckAliveInterval + 2 s); -n/--configtest (check the file and exit); -v/--version. Sections: [Interface] and [Peer] as in wg-quick (plus CheckAlive, CheckAliveInterval), or a top-level WGConfig = PATH; [Socks5] BindAddress, Username, Password (CONNECT and UDP ASSOCIATE); [http] BindAddress, Username, Password, CertFile, KeyFile; [TCPClientTunnel] BindAddress, Target; [TCPServerTunnel] ListenPort, Target; [STDIOTunnel] Target; [UDPClientTunnel] BindAddress, Target; [UDPServerTunnel] ListenPort, Target. Values may be $NAME to read the environment. Errors name FILE:LINE. See docs/proxy.md.',
    env: ['HOME'],
  },
};

/** The full help of `command`, after its usage line `usage` (ending in a newline). */
export function commandHelp(command: string, usage: string): string {
  const help = COMMANDS[command];
  if (help === undefined) return usage;
  let text = `${usage}\n${helpParagraph(help.text)}`;
  if (help.env.length > 0) {
    text += '\nEnvironment:\n';
    for (const name of help.env) {
      const e = CLI_ENVIRONMENT[name];
      text += helpEntry(`${name}=${e.value}`, e.help);
    }
  }
  return text;
}
