/**
 * Redaction of key material in text about UAPI input (DESIGN.md habit 6: redact keys wherever they
 * could be printed). A malformed line is quoted in errors and logs so the operator can see what
 * was wrong with it, and that line may carry a private or pre-shared key, in UAPI hex or, pasted
 * by mistake, in wg(8)'s base64. The rule, conservative on purpose:
 * - the value after `private_key=` or `preshared_key=` (in any case) is dropped whatever it looks
 *   like, up to the next whitespace or quote;
 * - any run of MIN_SECRET_RUN or more characters of the base64 alphabet (which holds hex) is
 *   dropped, with its `=` padding: a 64-digit hex or 44-character base64 key, a public key (which
 *   we cannot tell from a private one), and most of a truncated key. Words of the protocol
 *   (`persistent_keepalive_interval` has underscores) and addresses never form such runs.
 */

const REDACTED = '<redacted>';
/** Shorter runs leave under 120 bits of a key: not enough to matter, and ordinary words pass. */
const MIN_SECRET_RUN = 20;

const SECRET_VALUE = /((?:private|preshared)_key=)[^\s"'\\]*/gi;
const SECRET_RUN = new RegExp(`[A-Za-z0-9+/]{${MIN_SECRET_RUN},}={0,2}`, 'g');

/** `text` with every key-like value replaced by `<redacted>`. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_VALUE, `$1${REDACTED}`).replace(SECRET_RUN, REDACTED);
}
