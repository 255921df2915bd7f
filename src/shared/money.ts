/**
 * Exact USD amounts. Money is carried as a bigint count of pico-dollars (1e-12 USD) and stored as PostgreSQL
 * `numeric(24,12)`, so sums of many small costs never drift. On the API, amounts are decimal strings.
 */

/** Fractional digits kept internally and in the database. */
export const MONEY_SCALE = 12;
const FACTOR = 10n ** BigInt(MONEY_SCALE);

/** An amount in pico-USD. */
export type PicoUsd = bigint;

/** Thrown for a string that is not a decimal amount; the caller names the field. */
export class MoneyFormatError extends Error {
  override readonly name = "MoneyFormatError";
}

/**
 * Parses "12", "12.5", "-0.000150" into pico-USD. At most `maxFractionDigits` (default 6, the API's precision)
 * digits after the point; no exponent, no thousands separators.
 */
export function parseUsd(value: string, maxFractionDigits = 6): PicoUsd {
  const m = /^(-)?(\d{1,12})(?:\.(\d+))?$/.exec(value.trim());
  if (!m) throw new MoneyFormatError(`"${value}" is not a decimal amount`);
  const [, sign, whole = "0", fraction = ""] = m;
  if (fraction.length > maxFractionDigits) {
    throw new MoneyFormatError(`"${value}" has more than ${maxFractionDigits} fractional digits`);
  }
  const pico = BigInt(whole) * FACTOR + BigInt(fraction.padEnd(MONEY_SCALE, "0") || "0");
  return sign ? -pico : pico;
}

/** Formats pico-USD as a plain decimal string without trailing zeros ("12.5", "0", "-0.00015"). */
export function formatUsd(pico: PicoUsd): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const whole = abs / FACTOR;
  const fraction = (abs % FACTOR).toString().padStart(MONEY_SCALE, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** Reads a PostgreSQL numeric as returned by the driver ("12.500000000000"). */
export function fromNumeric(value: string): PicoUsd {
  return parseUsd(value, MONEY_SCALE);
}

/** Writes pico-USD for a numeric(24,12) column. */
export function toNumeric(pico: PicoUsd): string {
  return formatUsd(pico);
}

/** Multiplies an amount by a decimal factor (e.g. a rate multiplier "1.5"), rounding half away from zero. */
export function multiplyUsd(pico: PicoUsd, factor: string): PicoUsd {
  const scaled = parseUsd(factor, MONEY_SCALE); // factor × 1e12
  const product = pico * scaled;
  const half = FACTOR / 2n;
  return product >= 0n ? (product + half) / FACTOR : -((-product + half) / FACTOR);
}
