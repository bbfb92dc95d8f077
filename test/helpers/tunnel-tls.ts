/**
 * A throwaway X.509 certificate (RFC 5280) for the tunnel peer's HTTPS server and for proxy tests
 * that need CertFile/KeyFile: self-signed, P-256, valid two days, with the given DNS names and IP
 * addresses as subjectAltName (RFC 6125 §6: clients match those, not the CN). Made with the
 * openssl(1) command in a fresh tracked directory: the certificate world-readable (an unprivileged
 * client must trust it), the key 0600. Returns null when openssl is not installed.
 */
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execOk, trackPath, which } from './netns.js';

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
}

export async function makeCertificate(
  names: readonly string[],
  ips: readonly string[],
): Promise<TestCertificate | null> {
  if (which('openssl') === null) return null;
  const dir = mkdtempSync(join(tmpdir(), 'nspf-tls-'));
  trackPath(dir);
  chmodSync(dir, 0o755);
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const san = [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  await execOk(null, 'openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${names[0] ?? 'tunnel peer'}`,
    '-addext',
    `subjectAltName=${san}`,
  ]);
  chmodSync(keyFile, 0o600);
  chmodSync(certFile, 0o644);
  return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8') };
}
