import { describe, expect, it } from "vitest";
import {
  extractApiKey,
  MISSING_API_KEY_MESSAGE,
  maskApiKey,
  QUERY_API_KEY_MESSAGE,
} from "../../../src/data-plane/pipeline/credentials.js";
import type { HeaderMap } from "../../../src/data-plane/pipeline/header-map.js";
import type { OpenAIErrorResponse } from "../../../src/shared/errors.js";
import { answerOf, invalidRequest } from "./openai-error-fixture.js";

const KEY = `sk-sy-${"A".repeat(43)}`;
const OTHER_KEY = `sk-sy-${"b".repeat(43)}`;

function unauthorized(message: string): OpenAIErrorResponse {
  return {
    status: 401,
    headers: {},
    body: { error: { type: "authentication_error", message, code: "invalid_api_key", param: null } },
  };
}

describe("extractApiKey finds the key", () => {
  const found: [string, HeaderMap, string][] = [
    ["in Authorization: Bearer", { authorization: `Bearer ${KEY}` }, KEY],
    ["with a lower-case scheme", { authorization: `bearer ${KEY}` }, KEY],
    ["with an upper-case scheme", { authorization: `BEARER ${KEY}` }, KEY],
    ["after a tab and extra spaces", { authorization: `Bearer\t  ${KEY}  ` }, KEY],
    ["in x-api-key", { "x-api-key": KEY }, KEY],
    ["in x-goog-api-key (Gemini style)", { "x-goog-api-key": KEY }, KEY],
    ["in x-api-key before x-goog-api-key", { "x-api-key": KEY, "x-goog-api-key": OTHER_KEY }, KEY],
    ["in x-goog-api-key before api-key", { "x-goog-api-key": KEY, "api-key": OTHER_KEY }, KEY],
    [
      "of an imported key's format",
      { authorization: "Bearer sk-0123456789abcdef0123" },
      "sk-0123456789abcdef0123",
    ],
    ["in api-key (Azure style)", { "api-key": ` ${KEY} ` }, KEY],
    ["in Authorization before x-api-key", { authorization: `Bearer ${KEY}`, "x-api-key": OTHER_KEY }, KEY],
    ["in x-api-key before api-key", { "x-api-key": KEY, "api-key": OTHER_KEY }, KEY],
    [
      "in x-api-key when Authorization is not Bearer",
      { authorization: "Basic dXNlcjpwdw==", "x-api-key": KEY },
      KEY,
    ],
    ["in x-api-key when the Bearer token is empty", { authorization: "Bearer ", "x-api-key": KEY }, KEY],
    ["in the first value of a repeated header", { "x-api-key": [KEY, OTHER_KEY] }, KEY],
    [
      "in Authorization without looking at an over-long x-api-key",
      { authorization: `Bearer ${KEY}`, "x-api-key": "x".repeat(300) },
      KEY,
    ],
  ];
  it.each(found)("%s", (_name, headers, key) => {
    expect(extractApiKey(headers, "")).toBe(key);
  });

  it.each(["", "?", "model=gpt-5", "?monkey=1&keyword=x&key=", "apikey", "?api_key="])(
    "when the query %j carries no key value",
    (query) => {
      expect(extractApiKey({ authorization: `Bearer ${KEY}` }, query)).toBe(KEY);
    },
  );
});

describe("extractApiKey refuses a key in the query string with 400", () => {
  it.each([
    "key=abc",
    "?key=abc",
    "api_key=abc",
    "api-key=abc",
    "apikey=abc",
    "?model=x&API_KEY=abc",
    "a=1&Key=abc&b=2",
    "api%5Fkey=abc",
    "api%5fkey=abc&x=%zz",
  ])("for %j, even with a valid header", (query) => {
    expect(answerOf(() => extractApiKey({ authorization: `Bearer ${KEY}` }, query))).toEqual(
      invalidRequest(QUERY_API_KEY_MESSAGE),
    );
  });
});

describe("extractApiKey answers 401 invalid_api_key", () => {
  const refused: [string, HeaderMap, string][] = [
    ["when no credential header is sent", {}, MISSING_API_KEY_MESSAGE],
    [
      "when every credential header is blank",
      { authorization: "Bearer  ", "x-api-key": " " },
      MISSING_API_KEY_MESSAGE,
    ],
    ["when Authorization holds another scheme only", { authorization: "Basic abc" }, MISSING_API_KEY_MESSAGE],
    ["when 'Bearer' has no separator", { authorization: `Bearer${KEY}` }, MISSING_API_KEY_MESSAGE],
    [
      "when Authorization is longer than 256 bytes",
      { authorization: `Bearer ${"a".repeat(250)}` },
      "Incorrect API key provided: the authorization header is longer than 256 bytes",
    ],
    [
      "when x-api-key is longer than 256 bytes",
      { "x-api-key": "a".repeat(257) },
      "Incorrect API key provided: the x-api-key header is longer than 256 bytes",
    ],
    [
      "when a 256-byte header is not a key",
      { "api-key": "a".repeat(256) },
      "Incorrect API key provided: aaaaaa***",
    ],
    [
      "when the key holds a character outside visible ASCII",
      { authorization: "Bearer sk-proj-abcdefghij\u00e9klmnop" },
      "Incorrect API key provided: sk-pro***",
    ],
    ["when the key is short", { "x-api-key": "abc" }, "Incorrect API key provided: a***"],
  ];
  it.each(refused)("%s", (_name, headers, message) => {
    expect(answerOf(() => extractApiKey(headers, ""))).toEqual(unauthorized(message));
  });

  it("with OpenAI's wording for a missing key", () => {
    expect(MISSING_API_KEY_MESSAGE).toMatch(/^You didn't provide an API key\. /);
  });
});

describe("maskApiKey never shows more than a short prefix", () => {
  it.each([
    [KEY, "sk-sy-***"],
    ["sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-pro***"],
    ["abcdefgh", "ab***"],
    ["ab", "***"],
    ["", "***"],
    ["a b.cdefghijklmnop", "a***"],
    ["ключ-ключ-ключ-ключ", "***"],
  ])("%j → %j", (key, masked) => {
    expect(maskApiKey(key)).toBe(masked);
  });
});
