import { describe, expect, it } from "vitest";
import { computeCost, lookupPrice, type Price } from "../../src/control-plane/domain/billing/cost.js";
import { formatUsd, parseUsd } from "../../src/shared/money.js";

const gpt4o: Price = {
  inputPerMtok: parseUsd("2.5"),
  cachedInputPerMtok: parseUsd("1.25"),
  outputPerMtok: parseUsd("10"),
};

describe("request cost", () => {
  it("prices cached input at the cached rate and the rest at the input rate", () => {
    const cost = computeCost({ input: 1_000_000, cachedInput: 400_000, output: 0, reasoning: 0 }, gpt4o, "1");
    expect(formatUsd(cost.input)).toBe("1.5");
    expect(formatUsd(cost.cachedInput)).toBe("0.5");
    expect(formatUsd(cost.total)).toBe("2");
  });

  it("bills reasoning tokens once, inside output", () => {
    const withReasoning = computeCost({ input: 0, cachedInput: 0, output: 1000, reasoning: 800 }, gpt4o, "1");
    expect(formatUsd(withReasoning.output)).toBe("0.01");
    expect(withReasoning.total).toBe(withReasoning.output);
  });

  it("applies the group's rate multiplier to the total", () => {
    const cost = computeCost({ input: 1000, cachedInput: 0, output: 1000, reasoning: 0 }, gpt4o, "1.5");
    expect(formatUsd(cost.input + cost.output)).toBe("0.0125");
    expect(formatUsd(cost.total)).toBe("0.01875");
  });

  it("is exact for tiny requests", () => {
    const cost = computeCost({ input: 7, cachedInput: 3, output: 11, reasoning: 0 }, gpt4o, "1");
    expect(formatUsd(cost.total)).toBe("0.00012375");
  });

  it("costs nothing for an unknown model", () => {
    expect(computeCost({ input: 10, cachedInput: 0, output: 10, reasoning: 0 }, null, "1").total).toBe(0n);
  });

  it("looks a price up by exact name, then without a date suffix", () => {
    const prices = new Map([["gpt-4o", gpt4o]]);
    expect(lookupPrice(prices, "gpt-4o")).toBe(gpt4o);
    expect(lookupPrice(prices, "gpt-4o-2024-08-06")).toBe(gpt4o);
    expect(lookupPrice(prices, "gpt-4o-mini")).toBeNull();
    expect(lookupPrice(new Map([["o3", gpt4o]]), "o3-20250416")).toBe(gpt4o);
  });
});
