/**
 * Username/password checks for SOCKS5 (RFC 1929) and HTTP Basic (RFC 7617): compared in constant
 * time over fixed-length digests, so neither the content nor the length of the secret leaks
 * through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

export class Credentials {
  private readonly user: Buffer;
  private readonly pass: Buffer;

  constructor(username: string, password: string) {
    this.user = digest(username);
    this.pass = digest(password);
  }

  valid(username: string | Buffer, password: string | Buffer): boolean {
    const u = timingSafeEqual(this.user, digest(username));
    const p = timingSafeEqual(this.pass, digest(password));
    return u && p;
  }
}
