import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  applyPassthroughRule,
  matchPassthroughRule,
} from "../../../src/data-plane/pipeline/passthrough-match.js";
import {
  type SnapshotPassthroughRule,
  SnapshotPassthroughRuleSchema,
} from "../../../src/gen/switchyard/v1/gateway_pb.js";

/** A rule with the admin API's defaults (pass code and body through), overridden by `fields`. */
function rule(fields: MessageInitShape<typeof SnapshotPassthroughRuleSchema>): SnapshotPassthroughRule {
  return create(SnapshotPassthroughRuleSchema, { passthroughCode: true, passthroughBody: true, ...fields });
}

const failure = (status: number, body = "", platform = "openai") => ({ status, body, platform });
const overloadedBody = '{"error":{"message":"The Server Is OVERLOADED right now"}}';

describe("matchPassthroughRule in match-any mode", () => {
  const any = rule({ id: "any", errorCodes: [429, 503], keywords: ["overloaded", "quota"] });
  it.each([
    ["a listed status", failure(503), "any"],
    ["a keyword, case-insensitively", failure(400, overloadedBody), "any"],
    ["both", failure(429, "quota"), "any"],
    ["neither", failure(500, "boom"), null],
  ])("matches on %s", (_name, upstream, expected) => {
    expect(matchPassthroughRule([any], upstream)?.id ?? null).toBe(expected);
  });

  it.each([
    ["codes only", rule({ id: "r", errorCodes: [418] }), failure(418), "r"],
    ["keywords only", rule({ id: "r", keywords: ["Teapot"] }), failure(500, "i am a TEAPOT"), "r"],
    ["neither codes nor keywords", rule({ id: "r" }), failure(500, "anything"), null],
    ["an empty keyword", rule({ id: "r", keywords: [""] }), failure(500, "anything"), null],
  ])("with %s", (_name, r, upstream, expected) => {
    expect(matchPassthroughRule([r], upstream)?.id ?? null).toBe(expected);
  });
});

describe("matchPassthroughRule in match-all mode", () => {
  const all = rule({ id: "all", errorCodes: [400], keywords: ["context_length"], matchAll: true });
  it.each([
    ["a listed status and a keyword", failure(400, "CONTEXT_LENGTH exceeded"), "all"],
    ["a listed status only", failure(400, "bad"), null],
    ["a keyword only", failure(413, "context_length"), null],
  ])("needs both: %s", (_name, upstream, expected) => {
    expect(matchPassthroughRule([all], upstream)?.id ?? null).toBe(expected);
  });

  it.each([
    ["no codes", rule({ id: "r", keywords: ["x"], matchAll: true }), failure(500, "x")],
    ["no keywords", rule({ id: "r", errorCodes: [500], matchAll: true }), failure(500, "x")],
  ])("never matches with %s (the control plane refuses such rules)", (_name, r, upstream) => {
    expect(matchPassthroughRule([r], upstream)).toBeNull();
  });
});

describe("matchPassthroughRule", () => {
  it.each([
    ["all platforms when the list is empty", [], "openai", "r"],
    ["a listed platform", ["anthropic", "openai"], "openai", "r"],
    ["not an unlisted platform", ["anthropic"], "openai", null],
  ])("applies to %s", (_name, platforms, platform, expected) => {
    const r = rule({ id: "r", errorCodes: [500], platforms });
    expect(matchPassthroughRule([r], failure(500, "", platform))?.id ?? null).toBe(expected);
  });

  it("returns the first matching rule in the given order", () => {
    const rules = [
      rule({ id: "first-miss", errorCodes: [401] }),
      rule({ id: "second", keywords: ["overloaded"] }),
      rule({ id: "third", errorCodes: [503] }),
    ];
    expect(matchPassthroughRule(rules, failure(503, overloadedBody))?.id).toBe("second");
  });

  it("returns null for no rules", () => {
    expect(matchPassthroughRule([], failure(500))).toBeNull();
  });

  it.each([
    ["ends at byte 8192", `${"x".repeat(8192 - 10)}overloaded`, "r"],
    ["starts at byte 8192", `${"x".repeat(8192)}overloaded`, null],
    ["straddles byte 8192", `${"x".repeat(8190)}overloaded`, null],
    ["ends at byte 8192 after 2-byte characters", `${"é".repeat(4091)}overloaded`, "r"],
    ["is cut at byte 8192 by 2-byte characters", `${"é".repeat(4092)}overloaded`, null],
    ["follows 3-byte characters that fill 8 KiB", `${"€".repeat(2731)}overloaded`, null],
  ])("searches only the first 8 KiB: a keyword that %s", (_name, body, expected) => {
    const r = rule({ id: "r", keywords: ["overloaded"] });
    expect(matchPassthroughRule([r], failure(500, body))?.id ?? null).toBe(expected);
  });
});

describe("applyPassthroughRule", () => {
  const upstream = { status: 429, message: "Rate limit reached for gpt-5" };
  it.each([
    ["passes status and message through", rule({}), { status: 429, message: "Rate limit reached for gpt-5" }],
    [
      "answers the rule's status",
      rule({ passthroughCode: false, responseCode: 503 }),
      { status: 503, message: "Rate limit reached for gpt-5" },
    ],
    [
      "answers the rule's message",
      rule({ passthroughBody: false, customMessage: "Busy, retry soon" }),
      { status: 429, message: "Busy, retry soon" },
    ],
    [
      "answers both of the rule's values",
      rule({ passthroughCode: false, responseCode: 400, passthroughBody: false, customMessage: "No" }),
      { status: 400, message: "No" },
    ],
    [
      "keeps the upstream's values when the rule lacks its own",
      rule({ passthroughCode: false, passthroughBody: false }),
      { status: 429, message: "Rate limit reached for gpt-5" },
    ],
  ])("%s", (_name, r, expected) => {
    expect(applyPassthroughRule(r, upstream)).toEqual(expected);
  });

  it.each([
    [200, 502],
    [302, 502],
    [600, 502],
    [400, 400],
    [599, 599],
  ])("turns a passed-through status %i into an error status %i", (status, expected) => {
    expect(applyPassthroughRule(rule({}), { status, message: "m" }).status).toBe(expected);
  });
});
