import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { HeaderMap } from "../../../src/data-plane/pipeline/header-map.js";
import { sessionHash } from "../../../src/data-plane/pipeline/session-hash.js";

/** The documented construction, computed independently: first 8 bytes of SHA-256, hex. */
const sha64 = (material: string): string => createHash("sha256").update(material).digest("hex").slice(0, 16);

const system = { role: "system", content: "You are terse." };
const user = { role: "user", content: "Plan a trip" };
const tools = [{ type: "function", name: "search", parameters: { type: "object", properties: {} } }];

describe("sessionHash takes the first non-empty source", () => {
  const cases: [string, HeaderMap, Record<string, unknown>, string][] = [
    ["session_id", { session_id: "s1" }, {}, "header\ns1"],
    ["conversation_id", { conversation_id: "c1" }, {}, "header\nc1"],
    ["x-session-affinity", { "x-session-affinity": "a1" }, {}, "header\na1"],
    ["x-session-id", { "x-session-id": "x1" }, {}, "header\nx1"],
    ["x-opencode-session", { "x-opencode-session": "oc1" }, {}, "header\noc1"],
    [
      "x-opencode-session before x-conversation-id",
      { "x-opencode-session": "oc", "x-conversation-id": "z" },
      {},
      "header\noc",
    ],
    ["x-conversation-id", { "x-conversation-id": "xc1" }, {}, "header\nxc1"],
    [
      "session_id before the other headers",
      { "x-conversation-id": "z", conversation_id: "c", session_id: "s" },
      { prompt_cache_key: "k" },
      "header\ns",
    ],
    [
      "conversation_id before x-session-affinity",
      { "x-session-affinity": "a", conversation_id: "c" },
      {},
      "header\nc",
    ],
    ["a trimmed header value", { session_id: "  s1 " }, {}, "header\ns1"],
    ["the next header when one is blank", { session_id: "  ", "x-session-id": "x" }, {}, "header\nx"],
    ["the first value of a repeated header", { session_id: ["s1", "s2"] }, {}, "header\ns1"],
    ["prompt_cache_key without a header", {}, { prompt_cache_key: " pk " }, "prompt_cache_key\npk"],
    ["a header before prompt_cache_key", { "x-session-id": "x" }, { prompt_cache_key: "pk" }, "header\nx"],
  ];
  it.each(cases)("%s", (_name, headers, json, material) => {
    expect(sessionHash(headers, { model: "gpt-5", input: [user], ...json }, "responses")).toBe(
      sha64(material),
    );
  });

  it("as 16 lower-case hex characters", () => {
    expect(sessionHash({ session_id: "s1" }, {}, "chat")).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("sessionHash keeps sources apart", () => {
  it.each([
    [
      "a header and prompt_cache_key with the same value",
      { session_id: "same" },
      {},
      {},
      { prompt_cache_key: "same" },
    ],
    ["prompt_cache_key and a content seed", {}, { prompt_cache_key: "content" }, {}, { input: "content" }],
  ])("%s differ", (_name, headersA, jsonA, headersB, jsonB) => {
    const a = sessionHash(headersA, { model: "m", ...jsonA }, "responses");
    const b = sessionHash(headersB, { model: "m", ...jsonB }, "responses");
    expect(a).not.toBe("");
    expect(b).not.toBe("");
    expect(a).not.toBe(b);
  });

  it("but treats the session headers as aliases of one id", () => {
    expect(sessionHash({ session_id: "id-1" }, {}, "responses")).toBe(
      sessionHash({ "x-conversation-id": "id-1" }, {}, "chat"),
    );
  });
});

describe("sessionHash's content seed for /responses", () => {
  const base = { model: "gpt-5", instructions: "Be brief.", tools, input: [system, user] };
  const hashOf = (json: Record<string, unknown>) => sessionHash({}, json, "responses");

  it.each([
    ["the same body", { ...base }],
    ["keys in another order", { input: [system, user], tools, instructions: "Be brief.", model: "gpt-5" }],
    [
      "tool keys in another order",
      {
        ...base,
        tools: [{ parameters: { properties: {}, type: "object" }, name: "search", type: "function" }],
      },
    ],
    [
      "later turns appended",
      {
        ...base,
        input: [system, user, { role: "assistant", content: "Where to?" }, { role: "user", content: "Rome" }],
      },
    ],
    [
      "a developer message after the first user message",
      { ...base, input: [system, user, { role: "developer", content: "x" }] },
    ],
    ["another sampling setting", { ...base, temperature: 0.2, stream: true }],
    [
      "item ids and types besides role and content",
      { ...base, input: [system, { ...user, type: "message", id: "msg_1" }] },
    ],
  ])("is equal for %s", (_name, other) => {
    expect(hashOf(other)).toBe(hashOf(base));
  });

  it.each([
    ["another model", { ...base, model: "gpt-5-mini" }],
    ["other tools", { ...base, tools: [] }],
    ["no tools", { ...base, tools: undefined }],
    ["other instructions", { ...base, instructions: "Be thorough." }],
    ["another system message", { ...base, input: [{ role: "system", content: "Be kind." }, user] }],
    ["a developer instead of a system message", { ...base, input: [{ ...system, role: "developer" }, user] }],
    ["no system message", { ...base, input: [user] }],
    ["another first user message", { ...base, input: [system, { role: "user", content: "Plan a party" }] }],
  ])("differs for %s", (_name, other) => {
    expect(hashOf(other)).not.toBe(hashOf(base));
  });

  it("is the same for a string input and a lone user message with that text", () => {
    expect(hashOf({ model: "m", input: "hello" })).toBe(
      hashOf({ model: "m", input: [{ role: "user", content: "hello" }] }),
    );
  });

  it.each([
    ["only a model", { model: "gpt-5" }],
    ["a model and tools", { model: "gpt-5", tools }],
    ["an empty input and instructions", { model: "gpt-5", input: "", instructions: "" }],
    ["only assistant items", { model: "gpt-5", input: [{ role: "assistant", content: "hi" }] }],
  ])("is empty (no stickiness) for %s", (_name, json) => {
    expect(hashOf(json)).toBe("");
  });

  it("is not empty for instructions alone", () => {
    expect(hashOf({ model: "gpt-5", instructions: "Be brief." })).toMatch(/^[0-9a-f]{16}$/);
  });

  it("survives tools nested far too deep", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const a = hashOf({ ...base, tools: deep });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(a).not.toBe(hashOf(base));
  });
});

describe("sessionHash's content seed for chat completions", () => {
  const base = { model: "gpt-4o", tools, messages: [system, user] };
  const hashOf = (json: Record<string, unknown>) => sessionHash({}, json, "chat");

  it("is equal when later turns are appended", () => {
    const later = {
      ...base,
      messages: [system, user, { role: "assistant", content: "ok" }, { role: "user", content: "more" }],
    };
    expect(hashOf(later)).toBe(hashOf(base));
  });

  it.each([
    [
      "another first user message",
      { ...base, messages: [system, { role: "user", content: "Plan a party" }] },
    ],
    ["another system message", { ...base, messages: [{ role: "system", content: "Be kind." }, user] }],
    ["another model", { ...base, model: "gpt-4o-mini" }],
  ])("differs for %s", (_name, other) => {
    expect(hashOf(other)).not.toBe(hashOf(base));
  });

  it("ignores `instructions`, which chat completions do not have", () => {
    expect(hashOf({ ...base, instructions: "x" })).toBe(hashOf(base));
  });

  it("is empty without messages", () => {
    expect(hashOf({ model: "gpt-4o", tools })).toBe("");
  });

  it("is deterministic across calls", () => {
    expect(hashOf(structuredClone(base))).toBe(hashOf(base));
  });
});
