import { ErrorCode, SwitchyardError } from "../../shared/errors.js";

/** A request body that passed validation: parsed once, with the fields every later stage needs. */
export interface ValidatedRequest {
  json: Record<string, unknown>;
  model: string;
  stream: boolean;
}

/** BEHAVIOUR.md's messages, verbatim; exported so routes and tests share them. */
export const VALIDATION_MESSAGES = {
  empty: "Request body is empty",
  notJson: "Failed to parse request body",
  model: "model is required",
  stream: "invalid stream field type",
  messages: "messages is required",
  outputWithoutCallId:
    "function_call_output requires call_id or previous_response_id; if relying on history, ensure store=true " +
    "and reuse previous_response_id",
  outputWithoutReference:
    "function_call_output requires item_reference ids matching each call_id, or previous_response_id/tool_call " +
    "context; if relying on history, ensure store=true and reuse previous_response_id",
} as const;

function invalid(message: string, param?: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.INVALID_REQUEST, { message, param });
}

/**
 * Validates a `/responses` body in BEHAVIOUR.md's order: empty, not a JSON object, `model`, `stream`, then the
 * `function_call_output` context rule. Throws INVALID_REQUEST (400) with `param` naming the field at fault
 * (`model`, `stream`, `input`; none for an empty or unparseable body).
 */
export function validateResponsesRequest(body: Buffer): ValidatedRequest {
  const request = validateCommon(body);
  checkFunctionCallOutputs(request.json);
  return request;
}

/**
 * Validates a chat-completions body: the same first checks as `/responses`, then `messages` must be a non-empty
 * array — missing, of another type or empty all answer "messages is required" (param `messages`), mirroring
 * "model is required".
 */
export function validateChatCompletionsRequest(body: Buffer): ValidatedRequest {
  const request = validateCommon(body);
  const messages = request.json.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    throw invalid(VALIDATION_MESSAGES.messages, "messages");
  return request;
}

function validateCommon(body: Buffer): ValidatedRequest {
  const json = parseObject(body);
  const model = json.model;
  if (typeof model !== "string" || model === "") throw invalid(VALIDATION_MESSAGES.model, "model");
  // As in BEHAVIOUR.md, "present" includes an explicit null.
  const stream = json.stream;
  if (stream !== undefined && typeof stream !== "boolean")
    throw invalid(VALIDATION_MESSAGES.stream, "stream");
  return { json, model, stream: stream === true };
}

function parseObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw invalid(VALIDATION_MESSAGES.empty);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw invalid(VALIDATION_MESSAGES.notJson);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalid(VALIDATION_MESSAGES.notJson);
  }
  return parsed as Record<string, unknown>;
}

/** What the `function_call_output` rule needs from `input`, gathered in one pass. */
interface ToolContext {
  outputCallIds: string[];
  outputMissingCallId: boolean;
  hasToolCall: boolean;
  referenceIds: Set<string>;
}

/**
 * Outputs of tool calls must be tied to their calls: by `previous_response_id`, by a tool-call item (type
 * `*_call`, e.g. `function_call`) with a `call_id` in the same input, or by an `item_reference` per `call_id`.
 * A string `input` holds no items, so the rule never applies to it. Ids are compared trimmed; blank ones
 * count as missing.
 */
function checkFunctionCallOutputs(json: Record<string, unknown>): void {
  const input = json.input;
  if (!Array.isArray(input) || !input.some((item) => itemType(item) === "function_call_output")) return;
  if (nonBlank(json.previous_response_id) !== "") return;
  const context = scanToolContext(input);
  if (context.hasToolCall) return;
  if (context.outputMissingCallId) throw invalid(VALIDATION_MESSAGES.outputWithoutCallId, "input");
  for (const callId of context.outputCallIds) {
    if (!context.referenceIds.has(callId)) throw invalid(VALIDATION_MESSAGES.outputWithoutReference, "input");
  }
}

function scanToolContext(input: unknown[]): ToolContext {
  const context: ToolContext = {
    outputCallIds: [],
    outputMissingCallId: false,
    hasToolCall: false,
    referenceIds: new Set(),
  };
  for (const item of input) {
    const type = itemType(item);
    if (type === undefined) continue;
    const entry = item as Record<string, unknown>;
    if (type === "function_call_output") {
      const callId = nonBlank(entry.call_id);
      if (callId === "") context.outputMissingCallId = true;
      else context.outputCallIds.push(callId);
    } else if (type === "item_reference") {
      const id = nonBlank(entry.id);
      if (id !== "") context.referenceIds.add(id);
    } else if (type.endsWith("_call") && nonBlank(entry.call_id) !== "") {
      context.hasToolCall = true;
    }
  }
  return context;
}

function itemType(item: unknown): string | undefined {
  if (item === null || typeof item !== "object") return undefined;
  const type = (item as Record<string, unknown>).type;
  return typeof type === "string" ? type : undefined;
}

function nonBlank(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}
