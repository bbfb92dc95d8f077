/**
 * The error every wg(8) config file problem travels in: `message` is `FILE:LINE: detail`, as
 * compilers print it, so editors can jump to the line; `code` is a stable name for scripts.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly detail: string;

  constructor(file: string, line: number, detail: string, code = 'EBADCONFIG') {
    super(`${file}:${line}: ${detail}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.code = code;
    this.detail = detail;
  }
}
