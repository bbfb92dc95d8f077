/**
 * The one error a proxy configuration file can raise: it names the file and line (FILE:LINE, as
 * compilers do, so editors can jump there), what is wrong, and what to do about it.
 */
export class ProxyConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
    readonly hint: string,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${problem}${hint === '' ? '' : ` (${hint})`}`);
    this.name = 'ProxyConfigError';
  }
}
