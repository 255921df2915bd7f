import { describe, expect, it } from "vitest";
import { readJsonResponse, tokenUsageOf } from "../../../src/data-plane/upstream/usage.js";

describe("usage objects", () => {
  it("reads the Responses naming", () => {
    const usage = {
      input_tokens: 31,
      input_tokens_details: { cached_tokens: 7 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 3 },
      total_tokens: 40,
    };
    expect(tokenUsageOf(usage)).toEqual({
      input: 31,
      cachedInput: 7,
      output: 9,
      reasoning: 3,
      outOfRange: false,
    });
  });

  it("reads the Chat Completions naming", () => {
    const usage = {
      prompt_tokens: 12,
      completion_tokens: 5,
      total_tokens: 17,
      prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 2 },
    };
    expect(tokenUsageOf(usage)).toEqual({
      input: 12,
      cachedInput: 4,
      output: 5,
      reasoning: 2,
      outOfRange: false,
    });
  });

  it("treats missing details as zero, and junk counts as zero flagged out of range", () => {
    expect(tokenUsageOf({ prompt_tokens: 3, prompt_tokens_details: null })).toEqual({
      input: 3,
      cachedInput: 0,
      output: 0,
      reasoning: 0,
      outOfRange: false,
    });
    expect(tokenUsageOf({ prompt_tokens: 3, completion_tokens: "x" })).toMatchObject({
      input: 3,
      output: 0,
      outOfRange: true,
    });
    expect(tokenUsageOf({ input_tokens: -4, output_tokens: 2.9 })).toEqual({
      input: 0,
      cachedInput: 0,
      output: 0,
      reasoning: 0,
      outOfRange: true,
    });
  });

  it("keeps counts up to 10^8 and distrusts larger ones (absurd upstream values never reach billing)", () => {
    expect(tokenUsageOf({ input_tokens: 100_000_000, output_tokens: 5 })).toMatchObject({
      input: 100_000_000,
      output: 5,
      outOfRange: false,
    });
    for (const absurd of [100_000_001, 3_000_000_000, 5e9, Number.MAX_SAFE_INTEGER, 1e300]) {
      expect(tokenUsageOf({ input_tokens: 7, output_tokens: absurd })).toEqual({
        input: 7,
        cachedInput: 0,
        output: 0,
        reasoning: 0,
        outOfRange: true,
      });
    }
    expect(
      tokenUsageOf({ prompt_tokens: 1, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 4e9 } }),
    ).toMatchObject({ cachedInput: 0, outOfRange: true });
  });

  it.each([null, undefined, 5, "usage", [], {}, { total_tokens: 3 }])("%j is no usage", (value) => {
    expect(tokenUsageOf(value)).toBeUndefined();
  });
});

describe("non-stream JSON answers", () => {
  const responses = {
    id: "resp_1",
    object: "response",
    model: "gpt-4.1-2025-04-14",
    output: [],
    usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 2 }, output_tokens: 4 },
  };
  const chat = {
    id: "chatcmpl-1",
    object: "chat.completion",
    model: "gpt-4o",
    choices: [],
    usage: { prompt_tokens: 8, completion_tokens: 3 },
  };

  it("reads usage and id and keeps the bytes without a rewrite", () => {
    const raw = Buffer.from(JSON.stringify(responses));
    const out = readJsonResponse(raw);
    expect(out.bytes).toBe(raw);
    expect(out.usage).toEqual({ input: 10, cachedInput: 2, output: 4, reasoning: 0, outOfRange: false });
    expect(out.responseId).toBe("resp_1");
  });

  it("rewrites the model to the client's name", () => {
    const out = readJsonResponse(Buffer.from(JSON.stringify(chat)), "my-alias");
    expect(JSON.parse(out.bytes.toString())).toEqual({ ...chat, model: "my-alias" });
    expect(out.usage).toEqual({ input: 8, cachedInput: 0, output: 3, reasoning: 0, outOfRange: false });
    expect(out.responseId).toBe("chatcmpl-1");
  });

  it("keeps the bytes when the model already is the client's", () => {
    const raw = Buffer.from(JSON.stringify(chat));
    expect(readJsonResponse(raw, "gpt-4o").bytes).toBe(raw);
  });

  it("passes a body that is not JSON through", () => {
    const raw = Buffer.from("<html>oops</html>");
    expect(readJsonResponse(raw, "alias")).toEqual({ bytes: raw, usage: undefined, responseId: undefined });
  });
});
