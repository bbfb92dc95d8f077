/**
 * One scrape of wgtsd: the exporter-compatible peer families, then wgtsd's own (the crypto
 * pool's included), then the process families, as a body in pieces (the server writes them in turn). Scrapes that arrive while one is being rendered share it, so a
 * burst of scrapers costs one pass over the peers.
 */
import type { Device } from '../device/device.js';
import { writeCryptoMetrics } from './crypto-metrics.js';
import { writeDeviceMetrics } from './device-metrics.js';
import { writePeerMetrics } from './peer-metrics.js';
import { writeProcessMetrics } from './process-metrics.js';
import { Exposition } from './text-format.js';

/** Lines joined per piece of the body. */
const LINES_PER_CHUNK = 1_000;

export async function renderMetricChunks(device: Device, ifname: string): Promise<string[]> {
  const out = new Exposition();
  const totals = await writePeerMetrics(device, ifname, out);
  writeDeviceMetrics(device, ifname, totals, out);
  writeCryptoMetrics(out);
  writeProcessMetrics(out);
  return out.chunks(LINES_PER_CHUNK);
}

/** The whole body as one string (tests, library users). */
export async function renderMetrics(device: Device, ifname: string): Promise<string> {
  return (await renderMetricChunks(device, ifname)).join('');
}

/** renderMetricChunks for `device`, with concurrent callers sharing the scrape in progress. */
export function sharedScrape(device: Device, ifname: () => string): () => Promise<readonly string[]> {
  let inFlight: Promise<string[]> | null = null;
  return () =>
    (inFlight ??= renderMetricChunks(device, ifname()).finally(() => {
      inFlight = null;
    }));
}
