/**
 * A small seeded mutation fuzzer (TEST-PLAN "Load": fuzzing the datagram handler, the UAPI parser
 * and the config parser). Each target supplies a corpus of valid inputs (generated, not checked
 * in), mutators, and a `run` that feeds one input to the code under test, checks the target's
 * invariants (throwing on a violation) and returns the input's output features.
 *
 * Guidance is OUTPUT-FEATURE-guided, not instruction coverage: a "feature" is a string the target
 * derives from what the code did — a drop reason, a result kind, an errno, a normalised error
 * message, the kind of a reply. A mutant that produces a feature never seen before joins the
 * corpus, so later mutations start from inputs that already reach that behaviour (AFL's idea with
 * a far coarser signal; no V8 coverage is collected, which keeps a case in the microseconds).
 *
 * Everything is reproducible from the seed: the engine draws every choice from one Prng, and a
 * finding is reported with its case number and the target's encoding of the input, which
 * `decode` turns back into an input for `replay`. Runs are bounded by case count and by time.
 */
import { Prng } from '../helpers/fuzz.js';

export interface FuzzTarget<I> {
  readonly name: string;
  /** Valid inputs to start from (at least one). */
  seeds(): readonly I[];
  /** One mutation of `input`; `corpus` is there for splicing. */
  mutate(prng: Prng, input: I, corpus: readonly I[]): I;
  /** Runs one input: throws on a broken invariant, returns the output features otherwise. */
  run(input: I, prng: Prng): Promise<readonly string[]> | readonly string[];
  /** A slower whole-state check, run every `checkEvery` cases and at the end (throws on failure). */
  check?(): Promise<void> | void;
  /** Text that `decode` turns back into the input (the reproducer). */
  encode(input: I): string;
  decode(text: string): I;
  close?(): void;
}

export interface FuzzOptions {
  readonly seed: number;
  /** Stop after this many cases (default unbounded: then maxMs must be set). */
  readonly maxCases?: number;
  /** Stop after this many milliseconds of wall time. */
  readonly maxMs?: number;
  /** Mutations stacked on one parent: 1..maxStack (default 4). */
  readonly maxStack?: number;
  /** Corpus size limit (default 2,000): beyond it a random non-seed entry is replaced. */
  readonly maxCorpus?: number;
  /** Run target.check every this many cases (default 1,000; 0: only at the end). */
  readonly checkEvery?: number;
  /** Called now and then with progress (every ~`progressMs`, default 5 s). */
  readonly progress?: (r: FuzzReport) => void;
  readonly progressMs?: number;
}

export interface FuzzFinding {
  readonly target: string;
  readonly seed: number;
  /** 1-based case number (0: the final check). */
  readonly case: number;
  readonly message: string;
  /** target.encode(input), or '' for a failure of check(). */
  readonly input: string;
}

export interface FuzzReport {
  readonly target: string;
  readonly seed: number;
  cases: number;
  /** Feature → number of cases that produced it. */
  readonly features: Map<string, number>;
  corpusSize: number;
  /** Cases that found a new feature (and so joined the corpus). */
  newCoverage: number;
  elapsedMs: number;
  finding: FuzzFinding | null;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}${err.stack ? `\n${err.stack}` : ''}`;
  return String(err);
}

/** Runs `target` until a bound is hit or an invariant breaks (the first finding stops the run). */
export async function fuzz<I>(target: FuzzTarget<I>, o: FuzzOptions): Promise<FuzzReport> {
  if (o.maxCases === undefined && o.maxMs === undefined) throw new RangeError('fuzz needs maxCases or maxMs');
  const prng = new Prng(o.seed);
  const seeds = target.seeds();
  if (seeds.length === 0) throw new RangeError(`${target.name}: no seeds`);
  const corpus: I[] = [...seeds];
  const maxStack = o.maxStack ?? 4;
  const maxCorpus = Math.max(o.maxCorpus ?? 2_000, seeds.length + 1);
  const checkEvery = o.checkEvery ?? 1_000;
  const progressMs = o.progressMs ?? 5_000;
  const report: FuzzReport = {
    target: target.name,
    seed: o.seed,
    cases: 0,
    features: new Map(),
    corpusSize: corpus.length,
    newCoverage: 0,
    elapsedMs: 0,
    finding: null,
  };
  const start = performance.now();
  let lastProgress = start;
  const record = (features: readonly string[]): boolean => {
    let fresh = false;
    for (const f of features) {
      const n = report.features.get(f);
      if (n === undefined) fresh = true;
      report.features.set(f, (n ?? 0) + 1);
    }
    return fresh;
  };
  const found = (caseNo: number, err: unknown, input: string): FuzzReport => {
    report.finding = { target: target.name, seed: o.seed, case: caseNo, message: describe(err), input };
    report.elapsedMs = performance.now() - start;
    return report;
  };

  // The seeds themselves run first: valid inputs must pass the invariants too.
  for (const s of seeds) {
    try {
      record(await target.run(s, prng));
    } catch (err) {
      return found(0, err, target.encode(s));
    }
  }
  for (;;) {
    const now = performance.now();
    if (o.maxCases !== undefined && report.cases >= o.maxCases) break;
    if (o.maxMs !== undefined && now - start >= o.maxMs) break;
    if (o.progress !== undefined && now - lastProgress >= progressMs) {
      lastProgress = now;
      report.elapsedMs = now - start;
      o.progress(report);
    }
    // Parent: mostly the newer corpus entries (they carry the latest features), sometimes a seed.
    const parent: I = prng.chance(0.2)
      ? seeds[prng.below(seeds.length)]!
      : corpus[corpus.length - 1 - Math.min(prng.below(corpus.length), prng.below(corpus.length))]!;
    let input = parent;
    const stack = prng.between(1, maxStack);
    for (let i = 0; i < stack; i++) input = target.mutate(prng, input, corpus);
    report.cases++;
    let features: readonly string[];
    try {
      features = await target.run(input, prng);
    } catch (err) {
      return found(report.cases, err, target.encode(input));
    }
    if (record(features)) {
      report.newCoverage++;
      if (corpus.length < maxCorpus) corpus.push(input);
      else corpus[seeds.length + prng.below(corpus.length - seeds.length)] = input;
      report.corpusSize = corpus.length;
    }
    if (checkEvery > 0 && report.cases % checkEvery === 0 && target.check !== undefined) {
      try {
        await target.check();
      } catch (err) {
        return found(report.cases, err, target.encode(input));
      }
    }
  }
  if (target.check !== undefined) {
    try {
      await target.check();
    } catch (err) {
      return found(0, err, '');
    }
  }
  report.elapsedMs = performance.now() - start;
  return report;
}

/** Runs one encoded input (a reproducer) through a fresh target; resolves to its features. */
export async function replay<I>(
  target: FuzzTarget<I>,
  encoded: string,
  seed = 1,
): Promise<readonly string[]> {
  const features = await target.run(target.decode(encoded), new Prng(seed));
  await target.check?.();
  return features;
}

/** One line for logs and t.diagnostic. */
export function summary(r: FuzzReport): string {
  const rate = r.elapsedMs > 0 ? Math.round((r.cases * 1000) / r.elapsedMs) : 0;
  return (
    `${r.target}: seed ${r.seed}, ${r.cases} cases in ${(r.elapsedMs / 1000).toFixed(1)} s (${rate}/s), ` +
    `${r.features.size} features, corpus ${r.corpusSize} (${r.newCoverage} added)` +
    (r.finding === null ? '' : `, FINDING at case ${r.finding.case}`)
  );
}

/** The features, most frequent first, as `feature ×count` lines. */
export function featureList(r: FuzzReport, limit = 200): string[] {
  return [...r.features.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([f, n]) => `${f} ×${n}`);
}

/** Thrown by targets when an invariant breaks. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(ok: boolean, message: string): asserts ok {
  if (!ok) throw new InvariantError(message);
}

// ---- text mutation (the UAPI and config targets) -------------------------------------------------

/** Byte-level and line-level mutations of a text (latin1 for bytes: one char per byte). */
export function mutateText(
  prng: Prng,
  text: string,
  corpus: readonly string[],
  dictionary: readonly string[],
  latin1Only: boolean,
): string {
  const lines = text.split('\n');
  const op = prng.below(14);
  switch (op) {
    case 0: {
      // Flip a bit in one character.
      if (text.length === 0) return dictionary[prng.below(dictionary.length)]!;
      const i = prng.below(text.length);
      const c = text.charCodeAt(i) ^ (1 << prng.below(8));
      return text.slice(0, i) + String.fromCharCode(c) + text.slice(i + 1);
    }
    case 1: {
      // Replace one character with an interesting one.
      const chars = [
        '\n',
        '\r',
        '\0',
        '=',
        ' ',
        '\t',
        '#',
        '[',
        ']',
        ':',
        '/',
        '-',
        ',',
        '.',
        '0',
        'f',
        '\x7f',
        '\xff',
      ];
      if (!latin1Only) chars.push('\uFEFF', 'é', '\u2028', '\uD800');
      const i = prng.below(text.length + 1);
      return text.slice(0, i) + prng.pick(chars) + text.slice(i + (prng.chance(0.5) ? 1 : 0));
    }
    case 2: {
      // Delete a range.
      if (text.length === 0) return text;
      const i = prng.below(text.length);
      return text.slice(0, i) + text.slice(i + 1 + prng.below(Math.min(16, text.length - i)));
    }
    case 3:
      // Truncate.
      return text.slice(0, prng.below(text.length + 1));
    case 4: {
      // Delete a line.
      if (lines.length <= 1) return '';
      lines.splice(prng.below(lines.length), 1);
      return lines.join('\n');
    }
    case 5: {
      // Duplicate a line.
      const i = prng.below(lines.length);
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    }
    case 6: {
      // Swap two lines.
      const i = prng.below(lines.length);
      const j = prng.below(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 7: {
      // Insert a line from another corpus entry (splice).
      const other = corpus[prng.below(corpus.length)]!.split('\n');
      lines.splice(prng.below(lines.length + 1), 0, other[prng.below(other.length)]!);
      return lines.join('\n');
    }
    case 8:
    case 9: {
      // Replace the value of a key=value line with a dictionary token.
      const i = prng.below(lines.length);
      const eq = lines[i]!.indexOf('=');
      const token = dictionary[prng.below(dictionary.length)]!;
      lines[i] = eq < 0 ? token : `${lines[i]!.slice(0, eq + 1)}${prng.chance(0.2) ? ' ' : ''}${token}`;
      return lines.join('\n');
    }
    case 10: {
      // Replace the key of a line with the key of another line.
      const i = prng.below(lines.length);
      const j = prng.below(lines.length);
      const ei = lines[i]!.indexOf('=');
      const ej = lines[j]!.indexOf('=');
      if (ei < 0 || ej < 0) return lines.join('\n');
      lines[i] = lines[j]!.slice(0, ej) + lines[i]!.slice(ei);
      return lines.join('\n');
    }
    case 11: {
      // Insert a dictionary token anywhere.
      const i = prng.below(text.length + 1);
      return text.slice(0, i) + dictionary[prng.below(dictionary.length)]! + text.slice(i);
    }
    case 12: {
      // Repeat a chunk (length and repetition bugs).
      if (text.length === 0) return text;
      const i = prng.below(text.length);
      const chunk = text.slice(i, i + 1 + prng.below(8));
      return text.slice(0, i) + chunk.repeat(prng.between(2, 64)) + text.slice(i);
    }
    default: {
      // Change a digit run to a boundary number.
      const m = [...text.matchAll(/\d+/g)];
      if (m.length === 0) return text;
      const hit = m[prng.below(m.length)]!;
      const numbers = [
        '0',
        '1',
        '-1',
        '00',
        '01',
        '255',
        '256',
        '32',
        '33',
        '128',
        '129',
        '65535',
        '65536',
        '4294967295',
        '4294967296',
        '18446744073709551616',
        '9'.repeat(40),
        '1e3',
        '0x10',
      ];
      return text.slice(0, hit.index) + prng.pick(numbers) + text.slice(hit.index + hit[0].length);
    }
  }
}
