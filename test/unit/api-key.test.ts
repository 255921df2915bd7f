import { describe, expect, it } from "vitest";
import {
  displayPrefix,
  generateApiKey,
  hashApiKey,
  isIssuedApiKey,
  looksLikeApiKey,
} from "../../src/shared/api-key.js";
import { ManualClock } from "../../src/shared/clock.js";
import { isAcceptableRequestId, leaseIdFor, newRequestId } from "../../src/shared/ids.js";

describe("API keys", () => {
  it("are sk-sy- plus 43 base64url characters and all different", () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const key of keys) {
      expect(key).toMatch(/^sk-sy-[A-Za-z0-9_-]{43}$/);
      expect(isIssuedApiKey(key)).toBe(true);
      expect(looksLikeApiKey(key)).toBe(true);
    }
  });

  it("tell issued keys from others of the wrong shape", () => {
    expect(isIssuedApiKey("sk-proj-abc")).toBe(false);
    expect(isIssuedApiKey(`sk-sy-${"a".repeat(42)}`)).toBe(false);
    expect(isIssuedApiKey(`sk-sy-${"a".repeat(42)}!`)).toBe(false);
  });

  it("accept imported keys of another format, but never short, spaced or non-ASCII strings", () => {
    expect(looksLikeApiKey(`sk-${"0123456789abcdef".repeat(4)}`)).toBe(true);
    expect(looksLikeApiKey("sk-proj-abcdefghijklmnop")).toBe(true);
    expect(looksLikeApiKey("sk-proj-abc")).toBe(false);
    expect(looksLikeApiKey("sk-abcdefgh ijklmnop")).toBe(false);
    expect(looksLikeApiKey("sk-ключ-ключ-ключ-ключ")).toBe(false);
    expect(looksLikeApiKey(`sk-${"a".repeat(200)}`)).toBe(false);
  });

  it("hash to the SHA-256 of their UTF-8 bytes and display only a prefix", () => {
    expect(hashApiKey("abc").toString("hex")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(displayPrefix("sk-sy-AbCdEfGh")).toBe("sk-sy-AbCd");
  });
});

describe("ids and the manual clock", () => {
  it("prefix request ids, derive lease ids per instance and request, and accept only safe client request ids", () => {
    expect(newRequestId()).toMatch(/^req_[A-Za-z0-9_-]{22}$/);
    expect(leaseIdFor("dp-1", "req_a")).toMatch(/^lse_[A-Za-z0-9_-]{22}$/);
    expect(leaseIdFor("dp-1", "req_a")).toBe(leaseIdFor("dp-1", "req_a"));
    expect(leaseIdFor("dp-1", "req_a")).not.toBe(leaseIdFor("dp-2", "req_a"));
    expect(leaseIdFor("dp-1", "req_a")).not.toBe(leaseIdFor("dp-1", "req_b"));
    expect(isAcceptableRequestId(newRequestId())).toBe(true);
    expect(isAcceptableRequestId("short")).toBe(false);
    expect(isAcceptableRequestId("has space in it")).toBe(false);
  });

  it("moves only when told and never backwards", () => {
    const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
    expect(clock.now()).toBe(Date.parse("2026-01-01T00:00:00Z"));
    clock.advance(1500);
    expect(clock.now()).toBe(Date.parse("2026-01-01T00:00:01.500Z"));
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });
});
