import { isJsonObject, type JsonObject } from "../json-shape.js";
import type { RequestBodyInput, UpstreamRequestBody } from "../upstream-adapter.js";
import { chatToResponsesRequest } from "./chat-request.js";
import { codexModelName } from "./model-names.js";
import { isolatedId } from "./request-headers.js";

/** Fields the Codex backend refuses or that make no sense with `store: false` (CHATGPT-ACCOUNTS.md "Body"). */
const REMOVED_FIELDS: readonly string[] = [
  "max_output_tokens",
  "max_completion_tokens",
  "max_tokens",
  "temperature",
  "top_p",
  "frequency_penalty",
  "presence_penalty",
  "user",
  "metadata",
  "prompt_cache_retention",
  "safety_identifier",
  "stream_options",
  "previous_response_id",
];

/** Instructions for a request that brings none (the backend requires the field). */
export const DEFAULT_INSTRUCTIONS = "You are a helpful assistant.";

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (isJsonObject(part) && typeof part.text === "string" ? part.text : ""))
    .join("");
}

function isSystemMessage(item: unknown): item is JsonObject {
  return isJsonObject(item) && item.role === "system" && (item.type === undefined || item.type === "message");
}

/**
 * The body for the Codex backend: always `stream: true` and `store: false`; refused fields removed; a string input
 * as one user message; `role: system` input messages moved into `instructions` (a default when there are none);
 * with `reasoning`, the encrypted reasoning content included (nothing is stored upstream); the model name through
 * the table; the client's `prompt_cache_key` replaced by a per-user one. Chat requests are converted first. The
 * input object is left untouched; usage is always streamed back, so a chat client's usage chunk is hidden unless it
 * asked for it.
 */
export function codexRequestBody(input: RequestBodyInput): UpstreamRequestBody {
  const source = input.api === "chat" ? chatToResponsesRequest(input.body) : { ...input.body };
  const body: JsonObject = { ...source };
  for (const field of REMOVED_FIELDS) delete body[field];
  const model = input.upstreamModel !== "" ? input.upstreamModel : String(body.model ?? "");
  body.model = codexModelName(model);
  body.stream = true;
  body.store = false;
  const instructions: string[] = typeof body.instructions === "string" ? [body.instructions] : [];
  if (typeof body.input === "string") {
    body.input = [{ type: "message", role: "user", content: [{ type: "input_text", text: body.input }] }];
  } else if (Array.isArray(body.input)) {
    for (const item of body.input) if (isSystemMessage(item)) instructions.push(textOf(item.content));
    body.input = body.input.filter((item) => !isSystemMessage(item));
  }
  body.instructions = instructions.filter((s) => s !== "").join("\n\n") || DEFAULT_INSTRUCTIONS;
  if (isJsonObject(body.reasoning)) {
    const include = Array.isArray(body.include) ? body.include.filter((v) => typeof v === "string") : [];
    if (!include.includes("reasoning.encrypted_content")) include.push("reasoning.encrypted_content");
    body.include = include;
  }
  if (typeof body.prompt_cache_key === "string" && body.prompt_cache_key !== "")
    body.prompt_cache_key = isolatedId(input.call?.keyId ?? "", body.prompt_cache_key);
  const options = input.body.stream_options;
  const clientWantsUsage = isJsonObject(options) && options.include_usage === true;
  return {
    bytes: Buffer.from(JSON.stringify(body)),
    hideChatUsageChunk: input.api === "chat" && !clientWantsUsage,
  };
}
