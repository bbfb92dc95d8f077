/**
 * printf("%.2f") as glibc prints it, for the numbers wg(8) formats that way (transfer sizes in
 * `wg show`, retry delays). JavaScript's toFixed rounds an exact tie up (1.125 → "1.13"); glibc
 * rounds it to even (1.125 → "1.12"). A double is an exact tie at two decimals only when its
 * fraction ends in 1/8, 3/8, 5/8 or 7/8, so only those need care.
 */
export function formatFixed2(x: number): string {
  if (!Number.isFinite(x) || x < 0 || x >= 2 ** 50) return x.toFixed(2);
  const eighths = x * 8;
  if (!Number.isInteger(eighths) || eighths % 2 === 0) return x.toFixed(2);
  // x = m/8 with m odd: x·100 = 25m/2 lies exactly between q = (25m − 1)/2 and q + 1.
  const m = BigInt(eighths);
  let q = (25n * m - 1n) / 2n;
  if (q % 2n === 1n) q += 1n;
  const frac = (q % 100n).toString().padStart(2, '0');
  return `${q / 100n}.${frac}`;
}
