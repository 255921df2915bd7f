import { describe, expect, it } from "vitest";
import { frameEnd, replaceFrameData } from "../../../src/data-plane/upstream/sse-frames.js";

function end(text: string, from = 0): number {
  return frameEnd(text, from, text.includes("\r"));
}

describe("frame boundaries", () => {
  it.each([
    ["data: a\n\ndata: b\n\n", 0, 9],
    ["data: a\n\ndata: b\n\n", 9, 18],
    ["data: a\n", 0, -1],
    ["data: a\ndata: b", 0, -1],
    ["data: a\r\n\r\nrest", 0, 11],
    ["data: a\r\rrest", 0, 9],
    ["data: a\r\r", 0, -1],
    ["data: a\r\r\n", 0, 10],
    ["data: a\n\r\nx", 0, 10],
    [": ping\n\n", 0, 8],
    ["", 0, -1],
  ])("%j from %i ends at %i", (text, from, expected) => {
    expect(end(text, from)).toBe(expected);
  });
});

describe("replacing a frame's data", () => {
  it("keeps the other lines and puts one data line where the first was", () => {
    const frame = 'event: x\r\nid: 7\r\ndata: {"a":\r\ndata: 1}\r\n: note\r\n\r\n';
    expect(replaceFrameData(frame, '{"a":2}')).toBe('event: x\nid: 7\ndata: {"a":2}\n: note\n\n');
  });

  it("terminates a frame that had no blank line", () => {
    expect(replaceFrameData("data: old", "new")).toBe("data: new\n\n");
  });
});
