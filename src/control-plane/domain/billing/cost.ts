import { multiplyUsd, type PicoUsd } from "../../../shared/money.js";

/** A model's list price in pico-USD per 1M tokens. */
export interface Price {
  inputPerMtok: PicoUsd;
  cachedInputPerMtok: PicoUsd;
  outputPerMtok: PicoUsd;
}

/** Token counts of one request as the upstream reported them (cached ⊆ input, reasoning ⊆ output). */
export interface TokenCounts {
  input: number;
  cachedInput: number;
  output: number;
  reasoning: number;
}

/** A request's cost, by part, in pico-USD. */
export interface Cost {
  input: PicoUsd;
  cachedInput: PicoUsd;
  output: PicoUsd;
  /** (input + cachedInput + output) × multiplier. */
  total: PicoUsd;
}

const MTOK = 1_000_000n;
export const ZERO_COST: Cost = { input: 0n, cachedInput: 0n, output: 0n, total: 0n };

/**
 * Cost = uncached input × input price + cached input × cached price + output × output price (reasoning tokens are
 * part of output and not billed twice), times the group's rate multiplier. Exact integer arithmetic; each part is
 * rounded half-up to the pico-dollar once. An unknown price costs nothing (the caller warns).
 */
export function computeCost(tokens: TokenCounts, price: Price | null, multiplier: string): Cost {
  if (price === null) return ZERO_COST;
  const cached = BigInt(Math.min(tokens.cachedInput, tokens.input));
  const uncached = BigInt(tokens.input) - cached;
  const input = perToken(uncached, price.inputPerMtok);
  const cachedInput = perToken(cached, price.cachedInputPerMtok);
  const output = perToken(BigInt(tokens.output), price.outputPerMtok);
  return { input, cachedInput, output, total: multiplyUsd(input + cachedInput + output, multiplier) };
}

function perToken(tokens: bigint, perMtok: PicoUsd): PicoUsd {
  return (tokens * perMtok + MTOK / 2n) / MTOK;
}

/**
 * Finds a model's price: exact name first, then with a date suffix stripped ("gpt-4o-2024-08-06" → "gpt-4o",
 * "o3-20250416" → "o3").
 */
export function lookupPrice(prices: ReadonlyMap<string, Price>, model: string): Price | null {
  const exact = prices.get(model);
  if (exact) return exact;
  const base = model.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, "");
  return base === model ? null : (prices.get(base) ?? null);
}
