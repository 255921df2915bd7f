import { describe, expect, it } from "vitest";
import { isFailoverWorthy } from "../../src/shared/failover-classifier.js";

const CONTEXT_400 =
  '{"error":{"message":"Your input exceeds the context window of this model.","code":"context_length_exceeded"}}';

describe("isFailoverWorthy", () => {
  it.each([
    [401, "", true],
    [402, "", true],
    [403, "", true],
    [405, "", true],
    [429, "", true],
    [529, "", true],
    [500, "", true],
    [502, "", true],
    [503, "", true],
    [504, "", true],
    [599, "", true],
    [500, CONTEXT_400, true],
    [413, '{"error":{"message":"Request entity too large"}}', true],
    [413, CONTEXT_400, false],
    [413, "prompt is too long: 210000 tokens > 200000 maximum", false],
    [400, '{"error":{"message":"The server is overloaded, try again"}}', true],
    [400, '{"error":{"code":"slow_down"}}', true],
    [400, "Slow Down", true],
    [400, "model is AT CAPACITY", true],
    [400, CONTEXT_400, false],
    [400, "context_length_exceeded while the server is overloaded", false],
    [400, "This model's maximum context length is 128000 tokens", false],
    [400, '{"error":{"message":"Invalid value for temperature"}}', false],
    [400, "", false],
    [404, "overloaded", false],
    [409, "", false],
    [422, "", false],
    [200, "", false],
  ])("status %i with body %j fails over: %s", (status, body, expected) => {
    expect(isFailoverWorthy(status, body)).toBe(expected);
  });
});
