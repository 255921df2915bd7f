import { describe, expect, it } from "vitest";
import {
  formatUsd,
  fromNumeric,
  MoneyFormatError,
  multiplyUsd,
  parseUsd,
  toNumeric,
} from "../../src/shared/money.js";

describe("exact USD amounts", () => {
  it.each([
    ["0", 0n],
    ["12", 12_000_000_000_000n],
    ["12.5", 12_500_000_000_000n],
    ["0.000150", 150_000_000n],
    ["-3.25", -3_250_000_000_000n],
  ])("parses %s", (text, pico) => {
    expect(parseUsd(text)).toBe(pico);
  });

  it.each(["", "abc", "1e3", "1,000", "1.", ".5", "0.0000001"])("rejects %j", (text) => {
    expect(() => parseUsd(text)).toThrow(MoneyFormatError);
  });

  it("formats without trailing zeros and round-trips numeric columns", () => {
    expect(formatUsd(12_500_000_000_000n)).toBe("12.5");
    expect(formatUsd(0n)).toBe("0");
    expect(formatUsd(-150_000_000n)).toBe("-0.00015");
    expect(fromNumeric("12.500000000000")).toBe(12_500_000_000_000n);
    expect(toNumeric(fromNumeric("0.000000000001"))).toBe("0.000000000001");
  });

  it("sums many small costs without drift, unlike floating point", () => {
    let exact = 0n;
    let float = 0;
    for (let i = 0; i < 10_000; i++) {
      exact += parseUsd("0.000001");
      float += 0.000001;
    }
    expect(formatUsd(exact)).toBe("0.01");
    expect(float).not.toBe(0.01);
  });

  it("applies a rate multiplier with half-up rounding at the last digit", () => {
    expect(formatUsd(multiplyUsd(parseUsd("2"), "1.5"))).toBe("3");
    expect(multiplyUsd(1n, "0.5")).toBe(1n);
    expect(multiplyUsd(1n, "0.4")).toBe(0n);
    expect(multiplyUsd(-1n, "0.5")).toBe(-1n);
  });
});
