/**
 * One section of a wireproxy configuration read by key: list keys (Address, DNS, AllowedIPs,
 * CheckAlive) accumulate over repeats; any other key given twice is an error naming both lines,
 * since which one should win would be a guess; unknown keys become warnings (wg-quick's own keys
 * silently), so files written for newer wireproxy versions still load.
 */
import type { IniEntry, IniSection } from './ini.js';
import type { ValueReader } from './config-values.js';

/** Keys wg-quick knows that mean nothing to a proxy: silently ignored. */
const WG_QUICK_ONLY = new Set(['table', 'preup', 'postup', 'predown', 'postdown', 'saveconfig', 'fwmark']);

export interface Keys {
  readonly scalar: readonly string[];
  readonly list?: readonly string[];
}

export class SectionReader {
  private readonly one = new Map<string, IniEntry>();
  private readonly many = new Map<string, IniEntry[]>();

  constructor(
    private readonly v: ValueReader,
    readonly section: IniSection,
    keys: Keys,
    warnings: string[],
  ) {
    const scalar = new Set(keys.scalar.map((k) => k.toLowerCase()));
    const list = new Set((keys.list ?? []).map((k) => k.toLowerCase()));
    for (const e of section.entries) {
      if (list.has(e.name)) {
        this.many.set(e.name, [...(this.many.get(e.name) ?? []), e]);
      } else if (scalar.has(e.name)) {
        const before = this.one.get(e.name);
        if (before !== undefined) {
          v.fail(e, `${e.key} given twice in [${section.title}] (first on line ${before.line})`, 'keep one');
        }
        this.one.set(e.name, e);
      } else if (!WG_QUICK_ONLY.has(e.name)) {
        warnings.push(`${v.file}:${e.line}: unknown key ${e.key} in [${section.title}] ignored`);
      }
    }
  }

  get(key: string): IniEntry | undefined {
    return this.one.get(key.toLowerCase());
  }

  need(key: string): IniEntry {
    const e = this.get(key);
    if (e === undefined) {
      this.v.fail(this.section, `[${this.section.title}] needs ${key}`, `add "${key} = ..." to the section`);
    }
    return e;
  }

  all(key: string): IniEntry[] {
    return this.many.get(key.toLowerCase()) ?? [];
  }

  /** Username/Password, expanded, '' when absent. */
  str(key: string): string {
    const e = this.get(key);
    return e === undefined ? '' : this.v.text(e);
  }
}
