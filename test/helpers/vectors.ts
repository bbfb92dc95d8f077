/** Loads a JSON vector file from test/vectors (the compiled tests run from dist/test/…). */
import { readFileSync } from 'node:fs';

export function loadVector<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

export function toHexString(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
