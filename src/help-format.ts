/**
 * The layout of `wgtsd --help` and `wgts help COMMAND`: a term (an option or `VARIABLE=VALUE`)
 * indented by two, its description from column 28, words wrapped at 100 columns; a term too long
 * for the column gets a line of its own. One module, so both programs' help reads alike.
 */
const COLUMN = 28;
const WIDTH = 100;

/** `text`'s words appended to `line`, continuing on new lines that start with `indent`. */
function wrap(line: string, indent: string, text: string): string {
  let out = '';
  let fresh = true;
  for (const word of text.split(' ')) {
    if (!fresh && line.length + 1 + word.length > WIDTH) {
      out += `${line}\n`;
      line = indent;
      fresh = true;
    }
    line += fresh ? word : ` ${word}`;
    fresh = false;
  }
  return `${out}${line}\n`;
}

/** One option or variable and its description. */
export function helpEntry(term: string, text: string): string {
  const indent = ' '.repeat(COLUMN);
  const head = `  ${term}`;
  if (head.length + 2 > COLUMN) return `${head}\n${wrap(indent, indent, text)}`;
  return wrap(head.padEnd(COLUMN), indent, text);
}

/** A paragraph. */
export function helpParagraph(text: string): string {
  return wrap('', '', text);
}
