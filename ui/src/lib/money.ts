// Money on the wire is a decimal string of dollars; the UI never does float arithmetic
// on it. Sums go through integer nano-dollars (BigInt).

const NANO = 1_000_000_000n;

/** A decimal dollar string ("0.25", "-1.5") as integer nano-dollars. */
export function toNano(usd: string | null | undefined): bigint {
  if (usd === null || usd === undefined || usd === "") return 0n;
  const match = /^(-)?(\d+)(?:\.(\d{0,9})\d*)?$/.exec(usd.trim());
  if (!match) throw new Error(`not a decimal amount: ${usd}`);
  const [, sign, whole = "0", frac = ""] = match;
  const nano = BigInt(whole) * NANO + BigInt(frac.padEnd(9, "0"));
  return sign ? -nano : nano;
}

/** Integer nano-dollars as a decimal dollar string, trailing zeros trimmed (at least 2 places). */
export function fromNano(nano: bigint): string {
  const negative = nano < 0n;
  const abs = negative ? -nano : nano;
  const whole = abs / NANO;
  let frac = (abs % NANO).toString().padStart(9, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return `${negative ? "-" : ""}${whole}.${frac}`;
}

export function addUsd(...amounts: (string | null | undefined)[]): string {
  return fromNano(amounts.reduce<bigint>((sum, a) => sum + toNano(a), 0n));
}

/** "$0.0123" for display: at least 2 decimals, at most 6 significant places after the point. */
export function formatUsd(usd: string | null | undefined): string {
  if (usd === null || usd === undefined || usd === "") return "—";
  const text = fromNano(toNano(usd));
  const [whole, frac = ""] = text.replace("-", "").split(".");
  const shown = frac.length > 6 ? frac.slice(0, 6).replace(/0+$/, "").padEnd(2, "0") : frac;
  return `${text.startsWith("-") ? "-" : ""}$${Number(whole).toLocaleString("en-US")}.${shown}`;
}

/** nano-dollars as a Number of dollars, for chart axes only (never for sums). */
export function usdForChart(usd: string | null | undefined): number {
  return Number(toNano(usd)) / 1e9;
}
