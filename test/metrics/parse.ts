/**
 * Reading a scrape back for the metrics tests: the maintained npm parser of the Prometheus text
 * format (parse-prometheus-text-format, a CommonJS package without types, loaded through
 * createRequire) and small lookups over its result.
 */
import { createRequire } from 'node:module';

export interface ParsedSample {
  readonly value: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: readonly ParsedSample[];
}

const parseText = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => ParsedFamily[];

export function parseScrape(text: string): Map<string, ParsedFamily> {
  return new Map(parseText(text).map((f) => [f.name, f]));
}

/** The samples of `family` (an empty list when it is absent). */
export function samples(scrape: Map<string, ParsedFamily>, family: string): readonly ParsedSample[] {
  return scrape.get(family)?.metrics ?? [];
}

/** The value of the one sample of `family` whose labels include `match`; throws if not exactly one. */
export function valueOf(
  scrape: Map<string, ParsedFamily>,
  family: string,
  match: Readonly<Record<string, string>> = {},
): number {
  const found = samples(scrape, family).filter((s) =>
    Object.entries(match).every(([k, v]) => s.labels?.[k] === v),
  );
  if (found.length !== 1) throw new Error(`${family} ${JSON.stringify(match)}: ${found.length} samples`);
  return Number(found[0]!.value);
}

/** wgts_packets_dropped_total by reason. */
export function drops(scrape: Map<string, ParsedFamily>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples(scrape, 'wgts_packets_dropped_total')) out[s.labels!.reason!] = Number(s.value);
  return out;
}
