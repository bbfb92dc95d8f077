/**
 * The Prometheus text exposition format, version 0.0.4 (prometheus.io "Exposition formats"):
 * `# HELP` and `# TYPE` once per metric family, then one `name{labels} value` line per sample,
 * every sample of a family together. Label values escape backslash, double quote and line feed;
 * HELP text escapes backslash and line feed. Values are written as JavaScript prints numbers,
 * which the format accepts (integers exactly up to 2^53, `1e+21` beyond).
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

/** A label set as the exposition writes it, `{a="x",b="y"}` (or '' for none), in the order given. */
export function labels(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return '';
  let out = '{';
  for (let i = 0; i < pairs.length; i++) {
    const [name, value] = pairs[i]!;
    out += `${i > 0 ? ',' : ''}${name}="${escapeLabelValue(value)}"`;
  }
  return `${out}}`;
}

export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : value;
}

/** Collects a scrape's lines; `chunks()` joins them a slice at a time, `text()` at once. */
export class Exposition {
  readonly #lines: string[] = [];

  /** Starts a family: its HELP and TYPE lines. */
  family(name: string, type: MetricType, help: string): this {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample; `labelText` comes from labels(). */
  sample(name: string, labelText: string, value: number): this {
    this.#lines.push(`${name}${labelText} ${value}`);
    return this;
  }

  /** Samples prepared elsewhere (`name{labels} value` each). */
  lines(prepared: readonly string[]): this {
    for (const line of prepared) this.#lines.push(line);
    return this;
  }

  /** A family with one sample: the common case for device and process figures. */
  single(name: string, type: MetricType, help: string, labelText: string, value: number): this {
    return this.family(name, type, help).sample(name, labelText, value);
  }

  text(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }

  /**
   * The body as pieces of at most `linesPerChunk` lines, yielding to the event loop between
   * pieces: joining the lines of 100,000 peers at once would hold the data path for a while.
   */
  async chunks(linesPerChunk: number): Promise<string[]> {
    const out: string[] = [];
    const lines = this.#lines;
    for (let i = 0; i < lines.length; i += linesPerChunk) {
      if (i > 0) await yieldTurn();
      out.push(`${lines.slice(i, i + linesPerChunk).join('\n')}\n`);
    }
    return out;
  }
}

/** Lets the event loop run what is waiting (the data path) before the next slice of work. */
export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
