/**
 * The `set=1` bodies of TEST-PLAN.md "Bad input at the edges" → UAPI, with the errno each must get,
 * plus the odd inputs that must be accepted. One table, used twice: against our parseSet (and
 * server), and against a running wireguard-go (interop.test.ts) to prove the errnos are its own.
 * `wireguardGo` records where wireguard-go 0.0.20220316 (Debian, Go 1.19) answers differently, by
 * our choice; each such line is explained in src/uapi/values.ts or codec.ts.
 */

export const PEER = '13638ee6dbbfa9bc828b3d2c9624106850a5198b6dc9093859f8f6ee8cb54029';
export const KEY = 'a8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6a';
const ZERO = '0'.repeat(64);
const pub = `public_key=${PEER}`;

export interface SetCase {
  readonly name: string;
  readonly lines: readonly string[];
  /** Our errno: 0 accepted, else the negative errno. */
  readonly errno: number;
  /** wireguard-go's errno when it differs from ours (a documented, deliberate deviation). */
  readonly wireguardGo?: number;
}

const EPROTO = -71;
const EINVAL = -22;

export const SET_CASES: readonly SetCase[] = [
  // Framing of a line.
  { name: 'line without =', lines: ['listen_port'], errno: EPROTO },
  { name: 'peer line without =', lines: [pub, 'endpoint'], errno: EPROTO },
  { name: 'empty key', lines: ['=1'], errno: EINVAL },
  { name: 'only =', lines: ['='], errno: EINVAL },
  { name: 'leading space in key', lines: [' listen_port=1'], errno: EINVAL },
  { name: 'trailing space in key', lines: ['listen_port =1'], errno: EINVAL },
  { name: 'uppercase key', lines: ['LISTEN_PORT=1'], errno: EINVAL },
  // Unknown keys and keys in the wrong section.
  { name: 'unknown device key', lines: ['bogus=1'], errno: EINVAL },
  { name: 'unknown peer key', lines: [pub, 'bogus=1'], errno: EINVAL },
  { name: 'get key in set: errno', lines: ['errno=0'], errno: EINVAL },
  { name: 'get key in set: tx_bytes', lines: [pub, 'tx_bytes=0'], errno: EINVAL },
  {
    name: 'get key in set: last_handshake_time_sec',
    lines: [pub, 'last_handshake_time_sec=0'],
    errno: EINVAL,
  },
  { name: 'endpoint before public_key', lines: ['endpoint=1.2.3.4:5'], errno: EINVAL },
  { name: 'allowed_ip before public_key', lines: ['allowed_ip=10.0.0.0/8'], errno: EINVAL },
  { name: 'remove before public_key', lines: ['remove=true'], errno: EINVAL },
  { name: 'preshared_key before public_key', lines: [`preshared_key=${KEY}`], errno: EINVAL },
  { name: 'keepalive before public_key', lines: ['persistent_keepalive_interval=5'], errno: EINVAL },
  { name: 'protocol_version before public_key', lines: ['protocol_version=1'], errno: EINVAL },
  { name: 'update_only before public_key', lines: ['update_only=true'], errno: EINVAL },
  { name: 'replace_allowed_ips before public_key', lines: ['replace_allowed_ips=true'], errno: EINVAL },
  { name: 'listen_port in a peer section', lines: [pub, 'listen_port=1'], errno: EINVAL },
  { name: 'private_key in a peer section', lines: [pub, `private_key=${KEY}`], errno: EINVAL },
  { name: 'fwmark in a peer section', lines: [pub, 'fwmark=1'], errno: EINVAL },
  { name: 'replace_peers in a peer section', lines: [pub, 'replace_peers=true'], errno: EINVAL },
  // Hex keys.
  { name: 'private_key 63 digits', lines: [`private_key=${KEY.slice(1)}`], errno: EINVAL },
  { name: 'private_key 65 digits', lines: [`private_key=${KEY}a`], errno: EINVAL },
  { name: 'private_key 66 digits', lines: [`private_key=${KEY}aa`], errno: EINVAL },
  { name: 'private_key non-hex', lines: [`private_key=${'g'.repeat(64)}`], errno: EINVAL },
  { name: 'private_key empty', lines: ['private_key='], errno: EINVAL },
  {
    name: 'private_key base64',
    lines: ['private_key=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk='],
    errno: EINVAL,
  },
  {
    name: 'private_key uppercase',
    lines: [`private_key=${KEY.toUpperCase()}`],
    errno: EINVAL,
    wireguardGo: 0,
  },
  { name: 'public_key short', lines: [`public_key=${PEER.slice(2)}`], errno: EINVAL },
  { name: 'public_key empty', lines: ['public_key='], errno: EINVAL },
  {
    name: 'public_key uppercase',
    lines: [`public_key=${PEER.toUpperCase()}`],
    errno: EINVAL,
    wireguardGo: 0,
  },
  { name: 'preshared_key non-hex', lines: [pub, `preshared_key=${'z'.repeat(64)}`], errno: EINVAL },
  { name: 'preshared_key empty', lines: [pub, 'preshared_key='], errno: EINVAL },
  // Numbers.
  { name: 'listen_port 65536', lines: ['listen_port=65536'], errno: EINVAL },
  { name: 'listen_port -1', lines: ['listen_port=-1'], errno: EINVAL },
  { name: 'listen_port +5', lines: ['listen_port=+5'], errno: EINVAL },
  { name: 'listen_port empty', lines: ['listen_port='], errno: EINVAL },
  { name: 'listen_port hex', lines: ['listen_port=0x10'], errno: EINVAL },
  { name: 'listen_port with space', lines: ['listen_port= 1'], errno: EINVAL },
  { name: 'listen_port trailing space', lines: ['listen_port=1 '], errno: EINVAL },
  { name: 'listen_port huge', lines: ['listen_port=99999999999999999999999'], errno: EINVAL },
  { name: 'listen_port with =', lines: ['listen_port=1=2'], errno: EINVAL },
  { name: 'fwmark 2^32', lines: ['fwmark=4294967296'], errno: EINVAL },
  { name: 'fwmark -1', lines: ['fwmark=-1'], errno: EINVAL },
  { name: 'fwmark hex', lines: ['fwmark=0x10'], errno: EINVAL },
  { name: 'fwmark empty', lines: ['fwmark='], errno: EINVAL },
  { name: 'keepalive 65536', lines: [pub, 'persistent_keepalive_interval=65536'], errno: EINVAL },
  { name: 'keepalive empty', lines: [pub, 'persistent_keepalive_interval='], errno: EINVAL },
  { name: 'keepalive off', lines: [pub, 'persistent_keepalive_interval=off'], errno: EINVAL },
  // Endpoints.
  { name: 'endpoint hostname', lines: [pub, 'endpoint=host.example:51820'], errno: EINVAL },
  { name: 'endpoint localhost', lines: [pub, 'endpoint=localhost:51820'], errno: EINVAL },
  { name: 'endpoint missing ]', lines: [pub, 'endpoint=[::1:51820'], errno: EINVAL },
  { name: 'endpoint missing [', lines: [pub, 'endpoint=::1]:51820'], errno: EINVAL },
  { name: 'endpoint v6 unbracketed', lines: [pub, 'endpoint=::1:51820'], errno: EINVAL },
  { name: 'endpoint v4 bracketed', lines: [pub, 'endpoint=[1.2.3.4]:80'], errno: EINVAL },
  { name: 'endpoint empty brackets', lines: [pub, 'endpoint=[]:80'], errno: EINVAL },
  { name: 'endpoint port 65536', lines: [pub, 'endpoint=1.2.3.4:65536'], errno: EINVAL },
  { name: 'endpoint port empty', lines: [pub, 'endpoint=1.2.3.4:'], errno: EINVAL },
  { name: 'endpoint no port', lines: [pub, 'endpoint=1.2.3.4'], errno: EINVAL },
  { name: 'endpoint no host', lines: [pub, 'endpoint=:51820'], errno: EINVAL },
  { name: 'endpoint port +80', lines: [pub, 'endpoint=1.2.3.4:+80'], errno: EINVAL },
  { name: 'endpoint octal octet', lines: [pub, 'endpoint=01.2.3.4:80'], errno: EINVAL },
  { name: 'endpoint short v4', lines: [pub, 'endpoint=1.2.3:80'], errno: EINVAL },
  { name: 'endpoint leading space', lines: [pub, 'endpoint= 1.2.3.4:80'], errno: EINVAL },
  { name: 'endpoint trailing space', lines: [pub, 'endpoint=1.2.3.4:80 '], errno: EINVAL },
  { name: 'endpoint empty', lines: [pub, 'endpoint='], errno: EINVAL },
  { name: 'endpoint unknown zone', lines: [pub, 'endpoint=[fe80::1%nosuchif0]:51820'], errno: EINVAL },
  { name: 'endpoint zone (lo)', lines: [pub, 'endpoint=[fe80::1%lo]:51820'], errno: EINVAL, wireguardGo: 0 },
  // Allowed IPs.
  { name: 'allowed_ip /33', lines: [pub, 'allowed_ip=10.0.0.0/33'], errno: EINVAL },
  { name: 'allowed_ip /129', lines: [pub, 'allowed_ip=::/129'], errno: EINVAL },
  { name: 'allowed_ip no cidr', lines: [pub, 'allowed_ip=10.0.0.1'], errno: EINVAL },
  { name: 'allowed_ip empty cidr', lines: [pub, 'allowed_ip=10.0.0.0/'], errno: EINVAL },
  { name: 'allowed_ip zone', lines: [pub, 'allowed_ip=fe80::1%lo/64'], errno: EINVAL },
  { name: 'allowed_ip trailing space', lines: [pub, 'allowed_ip=1.2.3.4/32 '], errno: EINVAL },
  { name: 'allowed_ip octal octet', lines: [pub, 'allowed_ip=010.0.0.0/8'], errno: EINVAL },
  { name: 'allowed_ip :: for no group', lines: [pub, 'allowed_ip=1:2:3:4::5:6:7:8/128'], errno: EINVAL },
  { name: 'allowed_ip hostname', lines: [pub, 'allowed_ip=example.com/32'], errno: EINVAL },
  { name: 'allowed_ip empty', lines: [pub, 'allowed_ip='], errno: EINVAL },
  { name: 'allowed_ip double -', lines: [pub, 'allowed_ip=--10.0.0.0/8'], errno: EINVAL },
  { name: 'allowed_ip lone -', lines: [pub, 'allowed_ip=-'], errno: EINVAL },
  { name: 'allowed_ip cidr 024', lines: [pub, 'allowed_ip=10.0.0.0/024'], errno: EINVAL, wireguardGo: 0 },
  { name: 'allowed_ip cidr +8', lines: [pub, 'allowed_ip=10.0.0.0/+8'], errno: EINVAL, wireguardGo: 0 },
  // protocol_version and flags.
  { name: 'protocol_version 2', lines: [pub, 'protocol_version=2'], errno: EINVAL },
  { name: 'protocol_version 0', lines: [pub, 'protocol_version=0'], errno: EINVAL },
  { name: 'protocol_version 01', lines: [pub, 'protocol_version=01'], errno: EINVAL },
  { name: 'protocol_version empty', lines: [pub, 'protocol_version='], errno: EINVAL },
  { name: 'replace_peers=false', lines: ['replace_peers=false'], errno: EINVAL },
  { name: 'replace_peers=TRUE', lines: ['replace_peers=TRUE'], errno: EINVAL },
  { name: 'replace_peers=1', lines: ['replace_peers=1'], errno: EINVAL },
  { name: 'remove=false', lines: [pub, 'remove=false'], errno: EINVAL },
  { name: 'remove empty', lines: [pub, 'remove='], errno: EINVAL },
  { name: 'update_only=false', lines: [pub, 'update_only=false'], errno: EINVAL },
  { name: 'replace_allowed_ips=false', lines: [pub, 'replace_allowed_ips=false'], errno: EINVAL },
  { name: 'replace_allowed_ips=yes', lines: [pub, 'replace_allowed_ips=yes'], errno: EINVAL },
  // A bad line after good ones still fails the whole request.
  { name: 'bad line last', lines: ['listen_port=1', pub, 'allowed_ip=10.0.0.0/8', 'bogus=1'], errno: EINVAL },

  // Accepted, however odd.
  { name: 'empty set', lines: [], errno: 0 },
  { name: 'listen_port leading zeros', lines: ['listen_port=0051821'], errno: 0 },
  { name: 'listen_port 0', lines: ['listen_port=0'], errno: 0 },
  { name: 'fwmark max', lines: ['fwmark=4294967295'], errno: 0 },
  { name: 'fwmark 0', lines: ['fwmark=0'], errno: 0 },
  { name: 'private_key zero', lines: [`private_key=${ZERO}`], errno: 0 },
  { name: 'replace_peers', lines: ['replace_peers=true'], errno: 0 },
  { name: 'public_key zero', lines: [`public_key=${ZERO}`], errno: 0 },
  { name: 'keepalive leading zeros', lines: [pub, 'persistent_keepalive_interval=025'], errno: 0 },
  { name: 'endpoint port 0', lines: [pub, 'endpoint=1.2.3.4:0'], errno: 0 },
  { name: 'endpoint port leading zeros', lines: [pub, 'endpoint=[::1]:0080'], errno: 0 },
  { name: 'endpoint v4-mapped', lines: [pub, 'endpoint=[::ffff:1.2.3.4]:80'], errno: 0 },
  { name: 'allowed_ip uppercase v6', lines: [pub, 'allowed_ip=FD00::/8'], errno: 0 },
  { name: 'allowed_ip v4-mapped', lines: [pub, 'allowed_ip=::ffff:1.2.3.4/96'], errno: 0 },
  { name: 'allowed_ip host bits set', lines: [pub, 'allowed_ip=10.1.2.3/8'], errno: 0 },
  { name: 'allowed_ip /0 both', lines: [pub, 'allowed_ip=0.0.0.0/0', 'allowed_ip=::/0'], errno: 0 },
  { name: 'preshared_key zero', lines: [pub, `preshared_key=${ZERO}`], errno: 0 },
  {
    name: 'all flags',
    lines: [pub, 'update_only=true', 'replace_allowed_ips=true', 'remove=true'],
    errno: 0,
  },
  { name: 'protocol_version 1', lines: [pub, 'protocol_version=1'], errno: 0 },
  // Newer wireguard-go and wireguard-tools (2025) remove one allowed IP with a leading '-'.
  { name: 'allowed_ip removal', lines: [pub, 'allowed_ip=-10.0.0.0/8'], errno: 0, wireguardGo: EINVAL },
];
