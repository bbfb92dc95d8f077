/**
 * The wg-quick(8) additions to a wg(8) config file (wg-quick(8) "CONFIGURATION"; wireguard-tools
 * src/wg-quick/linux.bash `parse_options`): Address, DNS, MTU, Table, PreUp, PostUp, PreDown,
 * PostDown and SaveConfig in the [Interface] section. Everything else is the wg(8) part, passed on
 * to the wg config parser.
 *
 * The split follows linux.bash line by line: a line is cut at its first `#` and its first `=`; the
 * key (case-insensitive) decides; `[Interface]` opens the section and any other `[` closes it; the
 * hooks keep their whole value, `#` included (upstream's `unstripped_value`), the other keys lose
 * their comment. Lines wg-quick passes on are trimmed of leading and trailing spaces and tabs, as
 * bash's `read -r` does, and that trimmed text is what `strip` prints, so `wgts strip` equals
 * `wg-quick strip` byte for byte.
 *
 * Two outputs: `stripped` (wg-quick's WG_CONFIG) and `wgText`, the same config with every wg-quick
 * line blanked instead of removed, so that errors the wg parser finds name the file's own line
 * numbers.
 *
 * Deviations, deliberate: a UTF-8 byte order mark before the first line is ignored when looking for
 * `[Interface]` (wg-quick would not see the section and pass Address on to `wg`, which rejects it);
 * values are validated here with FILE:LINE (validateExtras) before anything is changed, where
 * wg-quick finds a bad Address or MTU only when `ip` refuses it halfway through `up`.
 */
import { ConfigError } from '../../config/wg-config.js';
import { parseIP, parsePrefix } from '../../routing/ip.js';

/** A value and the 1-based line it came from. */
export interface Located<T> {
  readonly value: T;
  readonly line: number;
}

export interface QuickExtras {
  /** Address entries in order (comma or space lists split), as written. */
  readonly addresses: readonly Located<string>[];
  /** DNS entries that look like addresses (digits and dots, or containing `:`), in order. */
  readonly dns: readonly Located<string>[];
  /** The other DNS entries: search domains. */
  readonly dnsSearch: readonly Located<string>[];
  /** The last MTU line; null when absent or empty (auto). */
  readonly mtu: Located<string> | null;
  /** The last Table line; null when absent or empty (auto). */
  readonly table: Located<string> | null;
  readonly preUp: readonly string[];
  readonly postUp: readonly string[];
  readonly preDown: readonly string[];
  readonly postDown: readonly string[];
  readonly saveConfig: boolean;
}

export interface QuickFile {
  readonly extras: QuickExtras;
  /** The wg(8) part with the wg-quick lines blanked: same line numbers as the file. */
  readonly wgText: string;
  /** wg-quick's WG_CONFIG: the kept lines, trimmed, each ending in a newline. */
  readonly stripped: string;
}

const HOOK_KEYS = { preup: 'preUp', postup: 'postUp', predown: 'preDown', postdown: 'postDown' } as const;

/** bash's [[:space:]] (what linux.bash trims keys and values with). */
const SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

function trimSpace(s: string): string {
  return s.replace(SPACE, '');
}

/** `${value//,/ }` unquoted: commas become spaces, then the words (bash's IFS splitting). */
function words(value: string): string[] {
  return value
    .replace(/,/g, ' ')
    .split(/[ \t\n]+/)
    .filter((w) => w !== '');
}

/** The lines `while read -r line || [[ -n $line ]]` sees: split on `\n`, a final partial line kept. */
function fileLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Splits a wg-quick config into its wg-quick extras and the wg(8) part. Throws ConfigError only for
 * what wg-quick itself rejects while parsing (SaveConfig neither true nor false); validateExtras
 * checks the rest.
 */
export function parseQuickFile(text: string, file: string): QuickFile {
  const addresses: Located<string>[] = [];
  const dns: Located<string>[] = [];
  const dnsSearch: Located<string>[] = [];
  const hooks = {
    preUp: [] as string[],
    postUp: [] as string[],
    preDown: [] as string[],
    postDown: [] as string[],
  };
  let mtu: Located<string> | null = null;
  let table: Located<string> | null = null;
  let saveConfig = false;
  let inInterface = false;
  const wgLines: string[] = [];
  let stripped = '';

  const lines = fileLines(text);
  lines.forEach((raw, i) => {
    const line = i + 1;
    // bash's `read -r` strips leading and trailing IFS whitespace (space, tab) from the line.
    const read = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    const withoutBom = i === 0 && read.startsWith('\uFEFF') ? read.slice(1) : read;
    const hash = withoutBom.indexOf('#');
    const cut = hash < 0 ? withoutBom : withoutBom.slice(0, hash);
    const eq = cut.indexOf('=');
    const key = trimSpace(eq < 0 ? cut : cut.slice(0, eq));
    const value = trimSpace(eq < 0 ? cut : cut.slice(eq + 1));
    const eqFull = withoutBom.indexOf('=');
    const unstripped = trimSpace(eqFull < 0 ? withoutBom : withoutBom.slice(eqFull + 1));
    const lower = key.toLowerCase();
    if (key.startsWith('[')) inInterface = false;
    if (lower === '[interface]') inInterface = true;
    let consumed = true;
    if (!inInterface) consumed = false;
    else if (lower === 'address') {
      for (const w of words(value)) addresses.push({ value: w, line });
    } else if (lower === 'mtu') {
      mtu = value === '' ? null : { value, line };
    } else if (lower === 'dns') {
      for (const w of words(value)) {
        // linux.bash: [[ $v =~ (^[0-9.]+$)|(^.*:.*$) ]] decides server versus search domain.
        if (/^[0-9.]+$/.test(w) || w.includes(':')) dns.push({ value: w, line });
        else dnsSearch.push({ value: w, line });
      }
    } else if (lower === 'table') {
      table = value === '' ? null : { value, line };
    } else if (lower === 'saveconfig') {
      // read_bool runs under nocasematch: True and TRUE count too.
      const v = value.toLowerCase();
      if (v === 'true') saveConfig = true;
      else if (v === 'false') saveConfig = false;
      else throw new ConfigError(file, line, `\`${value}' is neither true nor false`);
    } else if (Object.hasOwn(HOOK_KEYS, lower)) {
      hooks[HOOK_KEYS[lower as keyof typeof HOOK_KEYS]].push(unstripped);
    } else consumed = false;
    if (consumed) {
      wgLines.push('');
    } else {
      wgLines.push(raw);
      stripped += `${read}\n`;
    }
  });
  const wgText = wgLines.join('\n') + (text.endsWith('\n') ? '\n' : '');
  return {
    extras: { addresses, dns, dnsSearch, mtu, table, ...hooks, saveConfig },
    wgText,
    stripped,
  };
}

/** Largest MTU a Linux link accepts (IP_MAX_MTU); 68 is IPv4's minimum (RFC 791). */
const MTU_MIN = 68;
const MTU_MAX = 65535;

/**
 * Checks the values `up` will hand to `ip` and `resolvconf`, so a typo is a FILE:LINE error before
 * anything has been changed. Table accepts `off`, `auto`, a number or a table name (`main`, or one
 * from /etc/iproute2/rt_tables, which `ip` checks), compared case-sensitively as wg-quick does.
 */
export function validateExtras(extras: QuickExtras, file: string): void {
  for (const { value, line } of extras.addresses) {
    if (parsePrefix(value, { implicitHostPrefix: true }) === null) {
      throw new ConfigError(
        file,
        line,
        `Address \`${value}' is not an IPv4 or IPv6 address with an optional /CIDR`,
      );
    }
  }
  for (const { value, line } of extras.dns) {
    if (parseIP(value) === null) {
      throw new ConfigError(file, line, `DNS \`${value}' is neither an IPv4 nor an IPv6 address`);
    }
  }
  for (const { value, line } of extras.dnsSearch) {
    if (!/^[A-Za-z0-9_-]([A-Za-z0-9_.-]*)$/.test(value)) {
      throw new ConfigError(file, line, `DNS \`${value}' is neither an address nor a search domain`);
    }
  }
  if (extras.mtu !== null) {
    const { value, line } = extras.mtu;
    const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
    if (!(n >= MTU_MIN && n <= MTU_MAX)) {
      throw new ConfigError(file, line, `MTU \`${value}' must be a number from ${MTU_MIN} to ${MTU_MAX}`);
    }
  }
  if (extras.table !== null) {
    const { value, line } = extras.table;
    const number = /^[0-9]{1,10}$/.test(value) && Number(value) <= 0xffffffff;
    if (!number && !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value)) {
      throw new ConfigError(
        file,
        line,
        `Table \`${value}' must be off, auto, a table number or a table name`,
      );
    }
  }
}

/** The Table value as wg-quick's TABLE variable: '' when not set. */
export function tableOf(extras: QuickExtras): string {
  return extras.table?.value ?? '';
}

/** True when routes go through the fwmark policy for /0 (Table unset or auto). */
export function tableIsAuto(extras: QuickExtras): boolean {
  const t = tableOf(extras);
  return t === '' || t === 'auto';
}
