/**
 * What every wg-quick step works with: the interface, its config file, the parsed extras, and the
 * Runner that executes (and echoes) commands. `UpState` records what `up` has done so far, which
 * is what its failure path (wg-quick's `trap 'del_if; exit'`) must undo.
 */
import type { WgConfig } from '../../config/wg-config.js';
import type { QuickExtras } from './config-extras.js';
import type { Runner } from './exec.js';

export interface QuickContext {
  readonly ifname: string;
  /** The config file's real path. */
  readonly file: string;
  readonly extras: QuickExtras;
  readonly run: Runner;
}

export interface UpContext extends QuickContext {
  /** The wg(8) part of the file, parsed (wg-quick's WG_CONFIG). */
  readonly wg: WgConfig;
}

/** What `up` has done; del_if reads it (wg-quick's HAVE_SET_DNS, HAVE_SET_FIREWALL). */
export interface UpState {
  /** The daemon was started by us, so the link and socket are ours to remove. */
  daemon: boolean;
  dns: boolean;
  firewall: boolean;
  /** The policy-routing table the /0 routes went to, once chosen. */
  table: number | null;
}

export function freshUpState(): UpState {
  return { daemon: false, dns: false, firewall: false, table: null };
}
