/**
 * TLS (RFC 8446) over the socket layer: tls.connect({ socket }) on a TcpSocket of the fake stack
 * against a node tls.Server fed through emit('connection'), with a self-signed certificate made
 * by openssl at test time. A MiB each way, checked by SHA-256. Skips when openssl is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { FakeStack } from '../helpers/fake-stack.js';
import { which } from '../helpers/netns.js';
import { listening, pattern, sha256 } from './socket-helpers.js';
import { makeCertificate } from '../helpers/tunnel-tls.js';

async function selfSigned(): Promise<{ key: Buffer; cert: Buffer }> {
  const made = (await makeCertificate(['tunnel.test'], []))!;
  return { key: readFileSync(made.keyFile), cert: readFileSync(made.certFile) };
}

test(
  'tls.connect({ socket }) through the tunnel, a MiB each way',
  { skip: which('openssl') === null && 'no openssl' },
  async () => {
    const { key, cert } = await selfSigned();
    const stack = new FakeStack();
    try {
      const upload = pattern(1024 * 1024, 11);
      const download = pattern(1024 * 1024, 12);
      const tlsServer = tls.createServer({ key, cert }, (secure) => {
        // TLS has no half close in Node: answer once the whole upload is in, then close.
        const hash = createHash('sha256');
        let bytes = 0;
        secure.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
          if (bytes === upload.length) secure.end(JSON.stringify({ bytes, hash: hash.digest('hex') }));
        });
        secure.write(download);
      });
      const server = stack.network.createServer((socket) => tlsServer.emit('connection', socket));
      const port = await listening(server, 443, '10.0.0.2');

      const socket = await stack.network.connect({ host: '10.0.0.2', port });
      const secure = tls.connect({ socket, servername: 'tunnel.test', ca: cert });
      await once(secure, 'secureConnect');
      assert.equal(secure.authorized, true);
      const received: Buffer[] = [];
      let total = 0;
      const done = new Promise<string>((resolve, reject) => {
        secure.on('data', (chunk: Buffer) => {
          received.push(chunk);
          total += chunk.length;
        });
        secure.on('end', () => resolve(Buffer.concat(received).subarray(download.length).toString()));
        secure.on('error', reject);
      });
      secure.write(upload);
      const summary = JSON.parse(await done) as { bytes: number; hash: string };
      assert.equal(total - Buffer.byteLength(JSON.stringify(summary)), download.length);
      assert.equal(sha256(Buffer.concat(received).subarray(0, download.length)), sha256(download));
      assert.equal(summary.bytes, upload.length);
      assert.equal(summary.hash, sha256(upload));
      server.close();
      tlsServer.close();
    } finally {
      stack.close();
    }
  },
);
