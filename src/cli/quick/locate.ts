/**
 * Which file and which interface (wg-quick(8) "CONFIG_FILE | INTERFACE"; linux.bash
 * `parse_options`): an argument that is itself a valid interface name means
 * /etc/wireguard/NAME.conf; otherwise it is a path, which must exist and be named NAME.conf with
 * NAME a valid interface name ([a-zA-Z0-9_=+.-]{1,15}). The interface takes that NAME. The file is
 * then used by its real path, and a warning is printed when it is world accessible: when the file's
 * and its directory's "other" permission bits have one in common, exactly wg-quick's test.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { QuickError } from './exec.js';

/** Where an interface's config lives when only its name is given. */
export const CONFIG_DIR = '/etc/wireguard';

const IFNAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;
const CONF_NAME = /(^|\/)([a-zA-Z0-9_=+.-]{1,15})\.conf$/;

export interface QuickTarget {
  /** The config file's real path. */
  readonly file: string;
  readonly ifname: string;
  /** wg-quick's "Warning: `FILE' is world accessible", or null. */
  readonly warning: string | null;
}

/** True for the names wg-quick accepts as an interface (and as a config file's base name). */
export function isValidIfname(name: string): boolean {
  return IFNAME.test(name);
}

/** Resolves `arg` as wg-quick does; throws QuickError with wg-quick's messages. */
export function locateConfig(arg: string, configDir: string = CONFIG_DIR): QuickTarget {
  const given = IFNAME.test(arg) ? `${configDir}/${arg}.conf` : arg;
  if (!existsSync(given)) throw new QuickError(`\`${given}' does not exist`);
  const m = CONF_NAME.exec(given);
  if (m === null) throw new QuickError('The config file must be a valid interface name, followed by .conf');
  const file = realpathSync(given);
  const other = statSync(file).mode & statSync(dirname(file)).mode & 0o007;
  return {
    file,
    ifname: m[2]!,
    warning: other === 0 ? null : `Warning: \`${file}' is world accessible`,
  };
}
