// Amounts as the admin API answers them: integer nano-USD (a JSON number, exact below
// 2^53 nano-USD, about nine million dollars) or integer tokens. Shown through
// lib/money.ts, summed as BigInt: never float arithmetic on money.
import { formatUsd, fromNano, toNano } from "../../lib/money";
import { formatInt } from "../../lib/format";

/** Integer nano-USD (number from JSON) as a decimal dollar string. */
export function nanoToUsd(nano: number | null | undefined): string {
  if (nano === null || nano === undefined) return "0.00";
  if (!Number.isInteger(nano)) throw new Error(`not a whole number of nano-dollars: ${nano}`);
  return fromNano(BigInt(nano));
}

/** "$0.062" for integer nano-USD. */
export function formatNano(nano: number | null | undefined): string {
  return formatUsd(nanoToUsd(nano));
}

/** A budget's figure in its own unit: dollars, or tokens. */
export function formatInUnit(unit: "usd" | "tokens", n: number): string {
  return unit === "usd" ? formatNano(n) : `${formatInt(n)} tokens`;
}

/** b - a, exact, as a decimal dollar string ("-0.0618"). */
export function differenceUsd(a: string, b: string): string {
  return fromNano(toNano(b) - toNano(a));
}

/** "+$0.01" / "-$0.01" / "$0.00": a signed difference for display. */
export function formatSignedUsd(usd: string): string {
  const nano = toNano(usd);
  if (nano === 0n) return formatUsd("0");
  return nano > 0n ? `+${formatUsd(usd)}` : formatUsd(usd);
}

/** "$1,234.000000001": every digit the amount has (the chart's table shows exact figures). */
export function formatUsdExact(usd: string): string {
  const text = fromNano(toNano(usd));
  const negative = text.startsWith("-");
  const [whole = "0", frac = "00"] = text.replace("-", "").split(".");
  return `${negative ? "-" : ""}$${BigInt(whole).toLocaleString("en-US")}.${frac}`;
}
