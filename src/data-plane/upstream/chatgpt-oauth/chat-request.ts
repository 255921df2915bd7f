import { isJsonObject, type JsonObject } from "../json-shape.js";

/**
 * Chat Completions parameters with no Responses equivalent on the Codex backend: dropped (README lists them).
 * Sampling and length limits are refused by the backend anyway (codex-body.ts drops them from Responses bodies too).
 */
export const DROPPED_CHAT_PARAMETERS: readonly string[] = [
  "n",
  "stop",
  "logprobs",
  "top_logprobs",
  "logit_bias",
  "seed",
  "response_format",
  "modalities",
  "audio",
  "prediction",
  "service_tier",
  "web_search_options",
  "functions",
  "function_call",
];

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (isJsonObject(part) && typeof part.text === "string" ? part.text : ""))
    .join("");
}

/** A user message's content as Responses input parts (text and image URLs). */
function userParts(content: unknown): JsonObject[] {
  if (!Array.isArray(content)) return [{ type: "input_text", text: textOf(content) }];
  const parts: JsonObject[] = [];
  for (const part of content) {
    if (!isJsonObject(part)) continue;
    if (part.type === "text" && typeof part.text === "string")
      parts.push({ type: "input_text", text: part.text });
    else if (part.type === "image_url") {
      const image = part.image_url;
      const url = isJsonObject(image) ? image.url : image;
      if (typeof url === "string") parts.push({ type: "input_image", image_url: url });
    }
  }
  return parts;
}

/** The conversation as Responses input items; system and developer messages become `instructions`. */
function inputOf(messages: readonly unknown[]): { input: JsonObject[]; instructions: string[] } {
  const input: JsonObject[] = [];
  const instructions: string[] = [];
  for (const m of messages) {
    if (!isJsonObject(m)) continue;
    switch (m.role) {
      case "system":
      case "developer":
        instructions.push(textOf(m.content));
        break;
      case "user":
        input.push({ type: "message", role: "user", content: userParts(m.content) });
        break;
      case "assistant": {
        const text = textOf(m.content);
        if (text !== "")
          input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text }] });
        for (const call of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
          if (!isJsonObject(call) || !isJsonObject(call.function)) continue;
          input.push({
            type: "function_call",
            call_id: String(call.id ?? ""),
            name: String(call.function.name ?? ""),
            arguments: String(call.function.arguments ?? ""),
          });
        }
        break;
      }
      case "tool":
        input.push({
          type: "function_call_output",
          call_id: String(m.tool_call_id ?? ""),
          output: textOf(m.content),
        });
        break;
    }
  }
  return { input, instructions };
}

/** Chat `tools` (function tools) as Responses tools. */
function toolsOf(tools: unknown): JsonObject[] | undefined {
  if (!Array.isArray(tools)) return undefined;
  return tools.flatMap((tool) => {
    if (!isJsonObject(tool) || tool.type !== "function" || !isJsonObject(tool.function)) return [];
    const f = tool.function;
    return [
      {
        type: "function",
        name: f.name,
        ...(f.description === undefined ? {} : { description: f.description }),
        parameters: f.parameters ?? { type: "object", properties: {} },
        ...(f.strict === undefined ? {} : { strict: f.strict }),
      },
    ];
  });
}

function toolChoiceOf(choice: unknown): unknown {
  if (isJsonObject(choice) && choice.type === "function" && isJsonObject(choice.function))
    return { type: "function", name: choice.function.name };
  return choice;
}

/**
 * A Chat Completions request as a Responses request: messages → input items and instructions, function tools and
 * tool calls/outputs carried over, `reasoning_effort` → `reasoning.effort`. What has no equivalent is dropped
 * ({@link DROPPED_CHAT_PARAMETERS}); codex-body.ts then applies the backend's body rules.
 */
export function chatToResponsesRequest(chat: Readonly<JsonObject>): JsonObject {
  const { input, instructions } = inputOf(Array.isArray(chat.messages) ? chat.messages : []);
  const tools = toolsOf(chat.tools);
  const out: JsonObject = { model: chat.model, input };
  if (instructions.length > 0) out.instructions = instructions.join("\n\n");
  if (tools && tools.length > 0) out.tools = tools;
  if (chat.tool_choice !== undefined) out.tool_choice = toolChoiceOf(chat.tool_choice);
  if (chat.parallel_tool_calls !== undefined) out.parallel_tool_calls = chat.parallel_tool_calls;
  if (typeof chat.reasoning_effort === "string") out.reasoning = { effort: chat.reasoning_effort };
  if (chat.prompt_cache_key !== undefined) out.prompt_cache_key = chat.prompt_cache_key;
  return out;
}
