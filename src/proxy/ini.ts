/**
 * The INI dialect wireproxy reads (go-ini with Insensitive, AllowShadows, AllowNonUniqueSections):
 * `[Section]` headers, `Key = Value` lines, `#` and `;` comments (whole-line, or inline after
 * whitespace), names matched without regard to case, a section name may repeat and so may a key.
 * Keys before the first header belong to the unnamed top-level section, where `WGConfig` lives.
 * This file only splits text into sections and entries, remembering each one's line for errors;
 * the meaning of keys is config.ts's job.
 */
import { ProxyConfigError } from './config-error.js';

export interface IniEntry {
  /** The key as written (for messages). */
  readonly key: string;
  /** The key in lower case (for matching). */
  readonly name: string;
  readonly value: string;
  readonly line: number;
}

export interface IniSection {
  /** The name as written, '' for the top level. */
  readonly title: string;
  /** The name in lower case. */
  readonly name: string;
  readonly line: number;
  readonly entries: IniEntry[];
}

/** Removes an inline comment: `#` or `;` preceded by whitespace, as go-ini does. */
function stripInlineComment(value: string): string {
  const m = /\s[#;]/.exec(value);
  return (m === null ? value : value.slice(0, m.index)).trim();
}

/** Splits `text` (the file `file`) into sections; the first is always the top level. */
export function parseIni(text: string, file: string): IniSection[] {
  const top: IniSection = { title: '', name: '', line: 0, entries: [] };
  const sections: IniSection[] = [top];
  let current = top;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      const close = line.indexOf(']');
      const title = close < 0 ? '' : line.slice(1, close).trim();
      const rest = close < 0 ? '' : stripInlineComment(` ${line.slice(close + 1)}`);
      if (close < 0 || title === '' || rest !== '') {
        throw new ProxyConfigError(file, lineNo, `malformed section header "${line}"`, 'write it as [Name]');
      }
      current = { title, name: title.toLowerCase(), line: lineNo, entries: [] };
      sections.push(current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      throw new ProxyConfigError(
        file,
        lineNo,
        `expected "Key = Value", found "${line}"`,
        'add the "=" or remove the line',
      );
    }
    const key = line.slice(0, eq).trim();
    current.entries.push({
      key,
      name: key.toLowerCase(),
      value: stripInlineComment(line.slice(eq + 1).trim()),
      line: lineNo,
    });
  }
  return sections;
}
