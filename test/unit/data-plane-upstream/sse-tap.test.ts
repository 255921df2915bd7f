import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { SseTap, type SseTapOptions } from "../../../src/data-plane/upstream/sse-tap.js";
import { ManualClock } from "../../../src/shared/clock.js";
import { chatCompletionStream } from "../../support/fake-openai/chat-wire.js";
import { planCompletion } from "../../support/fake-openai/completion-plan.js";
import { responseStream } from "../../support/fake-openai/responses-wire.js";
import type { Behaviour } from "../../support/fake-openai/types.js";

type Json = Record<string, unknown>;

const USAGE: Behaviour["usage"] = {
  input_tokens: 31,
  cached_tokens: 7,
  output_tokens: 9,
  reasoning_tokens: 3,
};
const TEXT = "Grüße aus der Fälschung 世界 🎉 done";

function responsesFrames(behaviour: Behaviour = {}): string[] {
  const full = { text: TEXT, usage: USAGE, responseId: "resp_test1", ...behaviour };
  return responseStream("gpt-4.1", planCompletion(full), full).frames;
}

function chatFrames(includeUsage: boolean, behaviour: Behaviour = {}): string[] {
  const full = { text: TEXT, usage: USAGE, ...behaviour };
  return chatCompletionStream("gpt-4.1", planCompletion(full), full, includeUsage).frames;
}

/** Feeds the chunks, returns everything the client would receive. */
function pipe(tap: SseTap, chunks: Array<Buffer | string>): Buffer {
  const parts = chunks.map((chunk) => {
    const out = tap.feed(chunk);
    return typeof out === "string" ? Buffer.from(out) : out;
  });
  parts.push(Buffer.from(tap.end()));
  return Buffer.concat(parts);
}

function bytewise(text: string): Buffer[] {
  const bytes = Buffer.from(text);
  return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
}

/** Re-parses what the client got, as an SSE client would. */
function events(bytes: Buffer): EventSourceMessage[] {
  const out: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => out.push(event) });
  parser.feed(bytes.toString("utf8"));
  return out;
}

function summary(tap: SseTap): Json {
  return {
    firstTokenAt: tap.firstTokenAt,
    terminal: tap.terminal,
    usage: tap.usage,
    responseId: tap.responseId,
    outputProduced: tap.outputProduced,
    complete: tap.complete,
    events: tap.events,
    malformed: tap.malformed,
  };
}

const BILLED = { input: 31, cachedInput: 7, output: 9, reasoning: 3, outOfRange: false };

describe("a Responses stream", () => {
  it("passes the very same chunks and records usage, first token, terminal and id", () => {
    const clock = new ManualClock(1_000);
    const tap = new SseTap({ api: "responses", clock });
    const frames = responsesFrames();
    for (const frame of frames) {
      clock.advance(10);
      const chunk = Buffer.from(frame);
      expect(tap.feed(chunk)).toBe(chunk);
    }
    expect(tap.end()).toBe("");
    const firstDelta = frames.findIndex((frame) => frame.startsWith("event: response.output_text.delta"));
    expect(summary(tap)).toEqual({
      firstTokenAt: 1_000 + 10 * (firstDelta + 1),
      terminal: { kind: "completed" },
      usage: BILLED,
      responseId: "resp_test1",
      outputProduced: true,
      complete: true,
      events: frames.length,
      malformed: 0,
    });
  });

  it("is not complete when cut before response.completed", () => {
    const tap = new SseTap({ api: "responses" });
    pipe(tap, responsesFrames().slice(0, -1));
    expect(tap.complete).toBe(false);
    expect(tap.terminal).toBeUndefined();
    expect(tap.usage).toBeUndefined();
    expect(tap.outputProduced).toBe(true);
  });

  it("is not complete when the last event lacks its blank line", () => {
    const tap = new SseTap({ api: "responses" });
    const frames = responsesFrames();
    const last = frames.pop() ?? "";
    pipe(tap, [...frames, last.slice(0, -1)]);
    expect(tap.complete).toBe(false);
  });

  it("records response.failed with its error and no output", () => {
    const tap = new SseTap({ api: "responses" });
    pipe(tap, responsesFrames({ failed: { code: "server_error", message: "The model crashed" } }));
    expect(tap.terminal).toEqual({
      kind: "failed",
      error: { code: "server_error", message: "The model crashed" },
    });
    expect(tap.complete).toBe(false);
    expect(tap.outputProduced).toBe(false);
    expect(tap.firstTokenAt).toBeUndefined();
  });

  it("records an error event as the terminal", () => {
    const tap = new SseTap({ api: "responses" });
    const error = { type: "error", code: "rate_limit_exceeded", message: "Slow down", param: null };
    pipe(tap, [responsesFrames()[0] ?? "", `event: error\ndata: ${JSON.stringify(error)}\n\n`]);
    expect(tap.terminal).toEqual({
      kind: "error",
      error: { code: "rate_limit_exceeded", message: "Slow down" },
    });
    expect(tap.complete).toBe(false);
  });

  it("counts a tool call's argument deltas as the first token", () => {
    const tap = new SseTap({ api: "responses", clock: new ManualClock(5) });
    const delta = { type: "response.function_call_arguments.delta", item_id: "fc_1", delta: '{"ci' };
    tap.feed(`event: ${delta.type}\ndata: ${JSON.stringify(delta)}\n\n`);
    expect(tap.firstTokenAt).toBe(5);
    expect(tap.outputProduced).toBe(true);
  });

  it("does not count an empty delta as output", () => {
    const tap = new SseTap({ api: "responses" });
    tap.feed('event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":""}\n\n');
    expect(tap.outputProduced).toBe(false);
    expect(tap.firstTokenAt).toBeUndefined();
  });

  it("rewrites the model so the client sees its own name, keeping every other frame byte for byte", () => {
    const tap = new SseTap({ api: "responses", rewriteModel: { from: "gpt-4.1", to: "my-alias" } });
    const frames = responsesFrames();
    const out = pipe(tap, frames).toString("utf8");
    const received = events(Buffer.from(out));
    expect(received).toHaveLength(frames.length);
    for (const [i, event] of received.entries()) {
      const data = JSON.parse(event.data) as Json;
      const response = data.response as Json | undefined;
      if (response !== undefined) expect(response.model).toBe("my-alias");
      else expect(`event: ${event.event}\ndata: ${event.data}\n\n`).toBe(frames[i]);
    }
    expect(out).not.toContain("gpt-4.1");
    expect(tap.usage).toEqual(BILLED);
    expect(tap.complete).toBe(true);
  });
});

describe("a Chat Completions stream", () => {
  it("hides the usage chunk the gateway asked for, but bills it", () => {
    const tap = new SseTap({ api: "chat", hideChatUsageChunk: true });
    const frames = chatFrames(true);
    const received = events(pipe(tap, frames));
    expect(received).toHaveLength(frames.length - 1);
    const chunks = received
      .filter((event) => event.data !== "[DONE]")
      .map((event) => JSON.parse(event.data) as Json);
    expect(chunks.every((chunk) => Array.isArray(chunk.choices) && chunk.choices.length > 0)).toBe(true);
    expect(received.at(-1)?.data).toBe("[DONE]");
    expect(tap.usage).toEqual(BILLED);
    expect(tap.complete).toBe(true);
    expect(tap.responseId).toMatch(/^chatcmpl-/);
  });

  it("keeps the usage chunk the client asked for, bytes untouched", () => {
    const tap = new SseTap({ api: "chat", hideChatUsageChunk: false });
    const frames = chatFrames(true);
    const input = Buffer.from(frames.join(""));
    expect(pipe(tap, [input]).equals(input)).toBe(true);
    expect(tap.usage).toEqual(BILLED);
    expect(tap.terminal).toEqual({ kind: "done" });
  });

  it("reuses a chunk of whole frames even while hiding, when none is dropped", () => {
    const tap = new SseTap({ api: "chat", hideChatUsageChunk: true });
    const chunk = Buffer.from(chatFrames(true).slice(0, 3).join(""));
    expect(tap.feed(chunk)).toBe(chunk);
  });

  it("has no usage when the upstream sent none", () => {
    const tap = new SseTap({ api: "chat", hideChatUsageChunk: true });
    const frames = chatFrames(false);
    expect(pipe(tap, frames).toString()).toBe(frames.join(""));
    expect(tap.usage).toBeUndefined();
    expect(tap.complete).toBe(true);
  });

  it("stamps the first token on content, not on the role chunk", () => {
    const clock = new ManualClock(0);
    const tap = new SseTap({ api: "chat", clock });
    const frames = chatFrames(true);
    tap.feed(frames[0] ?? "");
    expect(tap.firstTokenAt).toBeUndefined();
    clock.advance(250);
    tap.feed(frames[1] ?? "");
    expect(tap.firstTokenAt).toBe(250);
  });

  it("counts tool-call deltas as output", () => {
    const tap = new SseTap({ api: "chat" });
    const chunk = {
      id: "chatcmpl-t",
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "call_1" }] } }],
    };
    tap.feed(`data: ${JSON.stringify(chunk)}\n\n`);
    expect(tap.outputProduced).toBe(true);
  });

  it("records an in-band error, and a later [DONE] does not make it complete", () => {
    const tap = new SseTap({ api: "chat" });
    const frames = chatFrames(false, { failed: { code: "server_error", message: "boom" } });
    pipe(tap, [...frames, "data: [DONE]\n\n"]);
    expect(tap.terminal).toEqual({ kind: "error", error: { code: "server_error", message: "boom" } });
    expect(tap.complete).toBe(false);
    expect(tap.outputProduced).toBe(false);
  });

  it("is not complete without [DONE]", () => {
    const tap = new SseTap({ api: "chat" });
    pipe(tap, chatFrames(true).slice(0, -1));
    expect(tap.complete).toBe(false);
    expect(tap.usage).toEqual(BILLED);
  });

  it("rewrites the model of every chunk while hiding usage", () => {
    const tap = new SseTap({
      api: "chat",
      hideChatUsageChunk: true,
      rewriteModel: { from: "gpt-4.1", to: "my-alias" },
    });
    const received = events(pipe(tap, chatFrames(true)));
    const chunks = received
      .filter((event) => event.data !== "[DONE]")
      .map((event) => JSON.parse(event.data) as Json);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((chunk) => chunk.model === "my-alias")).toBe(true);
    expect(chunks.some((chunk) => Array.isArray(chunk.choices) && chunk.choices.length === 0)).toBe(false);
    expect(tap.usage).toEqual(BILLED);
  });
});

describe("chunk boundaries", () => {
  const cases: Array<[string, SseTapOptions, () => string[]]> = [
    ["responses pass-through", { api: "responses" }, () => responsesFrames()],
    [
      "responses rewrite",
      { api: "responses", rewriteModel: { from: "gpt-4.1", to: "alias" } },
      () => responsesFrames(),
    ],
    ["chat hiding usage", { api: "chat", hideChatUsageChunk: true }, () => chatFrames(true)],
    [
      "chat rewrite + hide",
      { api: "chat", hideChatUsageChunk: true, rewriteModel: { from: "gpt-4.1", to: "alias" } },
      () => chatFrames(true),
    ],
  ];

  it.each(cases)("%s: byte by byte gives the same bytes and the same findings", (_name, options, frames) => {
    const text = frames().join("");
    const clock = new ManualClock(0);
    const whole = new SseTap({ ...options, clock });
    const expected = pipe(whole, [Buffer.from(text)]);
    const split = new SseTap({ ...options, clock });
    const got = pipe(split, bytewise(text));
    expect(got.toString("utf8")).toBe(expected.toString("utf8"));
    expect(summary(split)).toEqual(summary(whole));
    expect(got.toString("utf8")).toContain("🎉");
  });

  it.each(cases)("%s: random splits give the same bytes", (_name, options, frames) => {
    const bytes = Buffer.from(frames().join(""));
    const expected = pipe(new SseTap(options), [bytes]);
    let seed = 7;
    for (let round = 0; round < 20; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        const size = 1 + (seed % 97);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      expect(pipe(new SseTap(options), chunks).equals(expected)).toBe(true);
    }
  });

  it.each([
    ["pass-through", { api: "responses" } as SseTapOptions],
    ["rewrite", { api: "responses", rewriteModel: { from: "gpt-4.1", to: "alias" } } as SseTapOptions],
  ])("carries a megabyte data line split into many chunks (%s)", (_name, options) => {
    const image = {
      type: "response.image_generation_call.partial_image",
      partial_image_b64: "QUJD".repeat(262_144),
    };
    const input = Buffer.from(`event: ${image.type}\ndata: ${JSON.stringify(image)}\n\n`);
    const chunks: Buffer[] = [];
    for (let at = 0; at < input.length; at += 1000) chunks.push(input.subarray(at, at + 1000));
    const tap = new SseTap(options);
    expect(pipe(tap, chunks).equals(input)).toBe(true);
    expect(tap.events).toBe(1);
  });

  it("handles CRLF and CR line endings when rewriting", () => {
    const tap = new SseTap({ api: "chat", rewriteModel: { from: "m", to: "alias" } });
    const chunk = { id: "c1", model: "m", choices: [{ index: 0, delta: { content: "hi" } }] };
    const input = `: keepalive\r\n\r\nevent: message\r\ndata: ${JSON.stringify(chunk)}\r\rdata: [DONE]\r\n\r\n`;
    const out = pipe(tap, bytewise(input)).toString();
    const received = events(Buffer.from(out));
    expect(received.map((event) => event.data)).toEqual([
      JSON.stringify({ ...chunk, model: "alias" }),
      "[DONE]",
    ]);
    expect(received[0]?.event).toBe("message");
    expect(out.startsWith(": keepalive\r\n\r\n")).toBe(true);
    expect(tap.complete).toBe(true);
  });
});

describe("malformed data", () => {
  it.each([
    ["pass-through", { api: "responses" } as SseTapOptions],
    ["rewrite", { api: "responses", rewriteModel: { from: "gpt-4.1", to: "alias" } } as SseTapOptions],
  ])("is counted and passed through (%s)", (_name, options) => {
    const frames = responseStream("gpt-4.1", planCompletion({ malformed: true }), { malformed: true });
    const script = frames.frames.slice();
    // Before the first delta: after it, text deltas are passed on their event name without being parsed.
    script.splice(frames.firstDeltaIndex, 0, frames.malformedFrame, "bogus line\n\n");
    const tap = new SseTap(options);
    const out = pipe(tap, script).toString();
    expect(out).toContain(frames.malformedFrame);
    expect(out).toContain("bogus line\n\n");
    expect(tap.malformed).toBe(2);
    expect(tap.complete).toBe(true);
  });

  it("in the terminal event leaves the stream incomplete", () => {
    const tap = new SseTap({ api: "responses" });
    const frames = responsesFrames();
    frames[frames.length - 1] = 'event: response.completed\ndata: {"type":"response.comp\n\n';
    pipe(tap, frames);
    expect(tap.malformed).toBe(1);
    expect(tap.complete).toBe(false);
  });

  it("never throws on junk", () => {
    const tap = new SseTap({ api: "chat", hideChatUsageChunk: true, rewriteModel: { from: "a", to: "b" } });
    const junk = [
      "data: {\n\n",
      "data: []\n\n",
      "data: null\n\n",
      'data: {"choices":7}\n\n',
      "\u0000\n\n",
      "retry: x\n\n",
    ];
    const out = pipe(tap, junk).toString();
    expect(out).toBe(junk.join(""));
    expect(tap.complete).toBe(false);
  });
});
