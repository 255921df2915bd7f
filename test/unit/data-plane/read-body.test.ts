import { PassThrough, Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { readBody } from "../../../src/data-plane/pipeline/read-body.js";
import type { OpenAIErrorResponse } from "../../../src/shared/errors.js";
import { answerOfRejection, invalidRequest } from "./openai-error-fixture.js";

const KIB = 1024;
const MIB = 1024 * KIB;

function tooLarge(limitText: string): OpenAIErrorResponse {
  return {
    status: 413,
    headers: {},
    body: {
      error: {
        type: "invalid_request_error",
        message: `Request body too large, limit is ${limitText} MB`,
        code: "request_too_large",
        param: null,
      },
    },
  };
}

/** A body that never ends, counting what it produced: the test of "stop reading at the limit". */
function endlessBody(chunkBytes: number) {
  const state = { produced: 0 };
  const stream = new Readable({
    highWaterMark: chunkBytes,
    read() {
      state.produced += chunkBytes;
      this.push(Buffer.alloc(chunkBytes, 0x61));
    },
  });
  return { stream, state };
}

describe("readBody returns the whole body", () => {
  it.each([
    ["from one chunk", [Buffer.from('{"model":"gpt-5"}')], '{"model":"gpt-5"}'],
    ["from several chunks, in order", [Buffer.from('{"a":'), Buffer.from("1"), Buffer.from("}")], '{"a":1}'],
    ["from string chunks", ["héllo", " wörld"], "héllo wörld"],
    ["empty when the stream ends at once", [], ""],
  ])("%s", async (_name, chunks, expected) => {
    const body = await readBody(Readable.from(chunks, { objectMode: false }), MIB);
    expect(body.toString("utf8")).toBe(expected);
  });

  it("of exactly the limit", async () => {
    const body = await readBody(Readable.from([Buffer.alloc(600), Buffer.alloc(424)]), KIB);
    expect(body.length).toBe(KIB);
  });

  it("when the declared length is within the limit", async () => {
    const body = await readBody(Readable.from([Buffer.from("abc")]), KIB, 3);
    expect(body.toString()).toBe("abc");
  });

  it("from a stream someone paused", async () => {
    const stream = new PassThrough();
    stream.pause();
    stream.end("paused body");
    expect((await readBody(stream, KIB)).toString()).toBe("paused body");
  });
});

describe("readBody answers 413 past the limit", () => {
  it("before reading anything when the declared length is over it, naming the limit in MB", async () => {
    const { stream, state } = endlessBody(16 * KIB);
    expect(await answerOfRejection(readBody(stream, 32 * MIB, 32 * MIB + 1))).toEqual(tooLarge("32"));
    await nextTurn();
    expect(state.produced).toBe(0);
  });

  it("one byte over the limit", async () => {
    const stream = Readable.from([Buffer.alloc(600), Buffer.alloc(425)]);
    expect(await answerOfRejection(readBody(stream, KIB))).toEqual(tooLarge("0.000977"));
  });

  it("when the body outgrows a declared length that was within the limit", async () => {
    const stream = Readable.from([Buffer.alloc(2 * KIB)]);
    expect(await answerOfRejection(readBody(stream, KIB, 10))).toEqual(tooLarge("0.000977"));
  });

  it("and stops reading: at most the limit plus one chunk is consumed, and the stream stays paused", async () => {
    const chunk = 16 * KIB;
    const limit = 64 * KIB;
    const { stream, state } = endlessBody(chunk);
    const reading = readBody(stream, limit);
    let delivered = 0;
    stream.on("data", (data: Buffer) => {
      delivered += data.length;
    });
    expect(await answerOfRejection(reading)).toEqual(tooLarge("0.0625"));
    const deliveredAtRejection = delivered;
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(deliveredAtRejection).toBe(limit + chunk);
    expect(delivered).toBe(deliveredAtRejection);
    // Readable's own read-ahead fills at most one highWaterMark (= one chunk) behind the pause.
    expect(state.produced).toBeLessThanOrEqual(limit + 2 * chunk);
    expect(stream.isPaused()).toBe(true);
    expect(stream.destroyed).toBe(false);
  });

  it("without an uncaught exception when the stream errors afterwards", async () => {
    const { stream } = endlessBody(KIB);
    await answerOfRejection(readBody(stream, KIB));
    stream.destroy(new Error("socket reset"));
    await nextTurn();
    expect(stream.destroyed).toBe(true);
  });
});

describe("readBody answers 400 'Failed to read request body'", () => {
  const unreadable = invalidRequest("Failed to read request body");

  it("when the stream errors", async () => {
    const stream = new PassThrough();
    const reading = readBody(stream, KIB);
    stream.write("partial");
    stream.destroy(new Error("ECONNRESET"));
    expect(await answerOfRejection(reading)).toEqual(unreadable);
  });

  it("when the stream closes before its end (client aborted)", async () => {
    const stream = new PassThrough();
    const reading = readBody(stream, KIB);
    stream.write("partial");
    stream.destroy();
    expect(await answerOfRejection(reading)).toEqual(unreadable);
  });

  it("when the stream was already destroyed", async () => {
    const stream = new PassThrough();
    stream.destroy();
    expect(await answerOfRejection(readBody(stream, KIB))).toEqual(unreadable);
  });

  it("when the body was already consumed", async () => {
    const stream = Readable.from([Buffer.from("x")]);
    stream.resume();
    await new Promise((resolve) => stream.once("end", resolve));
    expect(await answerOfRejection(readBody(stream, KIB))).toEqual(unreadable);
  });
});
