/**
 * The routine sections of a wireproxy configuration (its README and config.go): [Socks5], [http],
 * [TCPClientTunnel], [TCPServerTunnel], [STDIOTunnel], and our [UDPClientTunnel] (also read under
 * a fork's name [UDPProxyTunnel]) and [UDPServerTunnel] (docs/proxy.md). Listeners take
 * `host:port` (`:port` for every address); targets need a host and a non-zero port.
 */
import type { IniSection } from './ini.js';
import type { ValueReader } from './config-values.js';
import type { ProxyRoutine } from './config-types.js';
import { SectionReader, type Keys } from './config-section.js';

/** Default seconds a UDP tunnel session may be idle (RFC 4787 REQ-5 asks for at least 120 s). */
export const UDP_SESSION_IDLE_SECONDS = 120;

export function parseRoutine(v: ValueReader, sec: IniSection, warnings: string[]): ProxyRoutine | null {
  const at = (keys: Keys): SectionReader => new SectionReader(v, sec, keys, warnings);
  const line = sec.line;
  const idle = (s: SectionReader): number => {
    const e = s.get('InactivityTimeout');
    return e === undefined ? UDP_SESSION_IDLE_SECONDS : v.int(e, 1, 86400);
  };
  switch (sec.name) {
    case 'socks5': {
      const s = at({ scalar: ['BindAddress', 'Username', 'Password'] });
      const bind = v.hostPort(s.need('BindAddress'), false);
      return { kind: 'socks5', line, bind, username: s.str('Username'), password: s.str('Password') };
    }
    case 'http': {
      const s = at({ scalar: ['BindAddress', 'Username', 'Password', 'CertFile', 'KeyFile'] });
      const cert = s.get('CertFile');
      const key = s.get('KeyFile');
      if ((cert === undefined) !== (key === undefined)) {
        v.fail(
          cert ?? key ?? sec,
          '[http] needs both CertFile and KeyFile for HTTPS',
          'give both or neither',
        );
      }
      return {
        kind: 'http',
        line,
        bind: v.hostPort(s.need('BindAddress'), false),
        username: s.str('Username'),
        password: s.str('Password'),
        certFile: cert === undefined ? null : v.text(cert),
        keyFile: key === undefined ? null : v.text(key),
      };
    }
    case 'tcpclienttunnel': {
      const s = at({ scalar: ['BindAddress', 'Target'] });
      const bind = v.hostPort(s.need('BindAddress'), false);
      return { kind: 'tcp-client', line, bind, target: v.hostPort(s.need('Target'), true) };
    }
    case 'tcpservertunnel': {
      const s = at({ scalar: ['ListenPort', 'Target'] });
      const listenPort = v.port(s.need('ListenPort'));
      return { kind: 'tcp-server', line, listenPort, target: v.hostPort(s.need('Target'), true) };
    }
    case 'stdiotunnel': {
      const s = at({ scalar: ['Target'] });
      return { kind: 'stdio', line, target: v.hostPort(s.need('Target'), true) };
    }
    case 'udpclienttunnel':
    case 'udpproxytunnel': {
      const s = at({ scalar: ['BindAddress', 'Target', 'InactivityTimeout'] });
      const bind = v.hostPort(s.need('BindAddress'), false);
      const target = v.hostPort(s.need('Target'), true);
      return { kind: 'udp-client', line, bind, target, inactivityTimeout: idle(s) };
    }
    case 'udpservertunnel': {
      const s = at({ scalar: ['ListenPort', 'Target', 'InactivityTimeout'] });
      const listenPort = v.port(s.need('ListenPort'));
      const target = v.hostPort(s.need('Target'), true);
      return { kind: 'udp-server', line, listenPort, target, inactivityTimeout: idle(s) };
    }
    default:
      return null;
  }
}
