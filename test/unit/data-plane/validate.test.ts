import { describe, expect, it } from "vitest";
import {
  VALIDATION_MESSAGES as M,
  validateChatCompletionsRequest,
  validateResponsesRequest,
} from "../../../src/data-plane/pipeline/validate.js";
import { answerOf, invalidRequest } from "./openai-error-fixture.js";

const body = (value: unknown): Buffer =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value));

const OUTPUT_WITHOUT_CALL_ID =
  "function_call_output requires call_id or previous_response_id; if relying on history, ensure store=true and " +
  "reuse previous_response_id";
const OUTPUT_WITHOUT_REFERENCE =
  "function_call_output requires item_reference ids matching each call_id, or previous_response_id/tool_call " +
  "context; if relying on history, ensure store=true and reuse previous_response_id";

/** Checks 1–4 of BEHAVIOUR.md, shared by both endpoints. */
const commonRefusals: [string, Buffer, string, string | null][] = [
  ["an empty body", Buffer.alloc(0), M.empty, null],
  ["a blank body", body("  \n"), M.notJson, null],
  ["a body that is not JSON", body("model=gpt-5"), M.notJson, null],
  ["truncated JSON", body('{"model":"gpt-5"'), M.notJson, null],
  ["a JSON array", body([{ model: "gpt-5" }]), M.notJson, null],
  ["JSON null", body("null"), M.notJson, null],
  ["a JSON string", body('"gpt-5"'), M.notJson, null],
  ["a JSON number", body("42"), M.notJson, null],
  ["no model", body({ input: "hi", messages: [{ role: "user", content: "hi" }] }), M.model, "model"],
  ["an empty model", body({ model: "", messages: [{}] }), M.model, "model"],
  ["a numeric model", body({ model: 5, messages: [{}] }), M.model, "model"],
  ["a null model", body({ model: null, messages: [{}] }), M.model, "model"],
  ["a bad model before a bad stream", body({ stream: "yes", messages: [{}] }), M.model, "model"],
  ["a string stream", body({ model: "gpt-5", stream: "true", messages: [{}] }), M.stream, "stream"],
  ["a numeric stream", body({ model: "gpt-5", stream: 1, messages: [{}] }), M.stream, "stream"],
  ["a null stream", body({ model: "gpt-5", stream: null, messages: [{}] }), M.stream, "stream"],
];

describe.each([
  ["/responses", validateResponsesRequest],
  ["chat completions", validateChatCompletionsRequest],
])("%s answers 400 for", (_endpoint, validate) => {
  it.each(commonRefusals)("%s", (_name, payload, message, param) => {
    expect(answerOf(() => validate(payload))).toEqual(invalidRequest(message, param));
  });
});

describe("BEHAVIOUR.md's messages are verbatim", () => {
  it.each([
    [M.empty, "Request body is empty"],
    [M.notJson, "Failed to parse request body"],
    [M.model, "model is required"],
    [M.stream, "invalid stream field type"],
    [M.outputWithoutCallId, OUTPUT_WITHOUT_CALL_ID],
    [M.outputWithoutReference, OUTPUT_WITHOUT_REFERENCE],
  ])("%s", (actual, expected) => {
    expect(actual).toBe(expected);
  });
});

describe("validateResponsesRequest accepts", () => {
  it.each([
    ["a minimal body, not streaming", { model: "gpt-5", input: "hi" }, false],
    ["stream: true", { model: "gpt-5", input: "hi", stream: true }, true],
    ["stream: false", { model: "gpt-5", input: "hi", stream: false }, false],
  ])("%s", (_name, payload, stream) => {
    expect(validateResponsesRequest(body(payload))).toEqual({ json: payload, model: "gpt-5", stream });
  });
});

const output = (callId?: unknown) =>
  callId === undefined
    ? { type: "function_call_output", output: "42" }
    : { type: "function_call_output", call_id: callId, output: "42" };
const reference = (id: string) => ({ type: "item_reference", id });
const user = { role: "user", content: "what is 6×7?" };

describe("the function_call_output rule refuses", () => {
  const refusals: [string, Record<string, unknown>, string][] = [
    ["an output without call_id", { input: [user, output()] }, OUTPUT_WITHOUT_CALL_ID],
    ["an output with a blank call_id", { input: [output("  ")] }, OUTPUT_WITHOUT_CALL_ID],
    ["an output with a non-string call_id", { input: [output(7)] }, OUTPUT_WITHOUT_CALL_ID],
    [
      "a missing call_id before a missing reference",
      { input: [output("call_1"), output()] },
      OUTPUT_WITHOUT_CALL_ID,
    ],
    ["an output with no item_reference", { input: [user, output("call_1")] }, OUTPUT_WITHOUT_REFERENCE],
    [
      "an output whose item_reference has another id",
      { input: [reference("call_2"), output("call_1")] },
      OUTPUT_WITHOUT_REFERENCE,
    ],
    [
      "two outputs with only one referenced",
      { input: [reference("call_1"), output("call_1"), output("call_2")] },
      OUTPUT_WITHOUT_REFERENCE,
    ],
    [
      "an empty previous_response_id",
      { previous_response_id: "", input: [output("call_1")] },
      OUTPUT_WITHOUT_REFERENCE,
    ],
    [
      "a tool call without call_id as context",
      { input: [{ type: "function_call", name: "calc", arguments: "{}" }, output("call_1")] },
      OUTPUT_WITHOUT_REFERENCE,
    ],
    [
      "another output's call_id as context",
      { input: [{ type: "custom_tool_call_output", call_id: "call_1" }, output("call_1")] },
      OUTPUT_WITHOUT_REFERENCE,
    ],
  ];
  it.each(refusals)("%s", (_name, fields, message) => {
    expect(answerOf(() => validateResponsesRequest(body({ model: "gpt-5", ...fields })))).toEqual(
      invalidRequest(message, "input"),
    );
  });
});

describe("the function_call_output rule lets through", () => {
  const accepted: [string, Record<string, unknown>][] = [
    ["a string input, whatever it says", { input: "function_call_output without call_id" }],
    ["an input without outputs", { input: [user, { type: "function_call", call_id: "call_1" }] }],
    ["an output with previous_response_id", { previous_response_id: "resp_1", input: [output()] }],
    [
      "an output with a function_call carrying call_id",
      { input: [{ type: "function_call", call_id: "call_1", name: "calc" }, output()] },
    ],
    [
      "an output with another kind of tool call carrying call_id",
      { input: [{ type: "custom_tool_call", call_id: "call_9" }, output("call_1")] },
    ],
    ["an output with its item_reference", { input: [reference("call_1"), output("call_1")] }],
    [
      "outputs each with an item_reference (ids trimmed)",
      { input: [reference(" call_1"), reference("call_2"), output("call_2"), output("call_1 ")] },
    ],
    ["items that are not objects", { input: ["text", null, 3, reference("c"), output("c")] }],
  ];
  it.each(accepted)("%s", (_name, fields) => {
    const payload = { model: "gpt-5", ...fields };
    expect(validateResponsesRequest(body(payload)).json).toEqual(payload);
  });
});

describe("validateChatCompletionsRequest", () => {
  it.each([
    ["no messages", { model: "gpt-5" }],
    ["empty messages", { model: "gpt-5", messages: [] }],
    ["messages as a string", { model: "gpt-5", messages: "hi" }],
    ["messages as an object", { model: "gpt-5", messages: { role: "user", content: "hi" } }],
  ])("answers 400 'messages is required' for %s", (_name, payload) => {
    expect(answerOf(() => validateChatCompletionsRequest(body(payload)))).toEqual(
      invalidRequest("messages is required", "messages"),
    );
  });

  it("accepts a streaming request and leaves function_call_output rules to /responses", () => {
    const payload = { model: "gpt-4o", stream: true, messages: [user], input: [output()] };
    expect(validateChatCompletionsRequest(body(payload))).toEqual({
      json: payload,
      model: "gpt-4o",
      stream: true,
    });
  });
});
