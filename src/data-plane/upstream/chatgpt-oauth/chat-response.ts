import { isJsonObject, type JsonObject } from "../json-shape.js";
import type { CodexEvent, CodexResponseState } from "./codex-events.js";

/** Chat `usage` from a Responses `usage` object. */
export function chatUsage(usage: unknown): JsonObject | null {
  if (!isJsonObject(usage)) return null;
  const input = typeof usage.input_tokens === "number" ? usage.input_tokens : 0;
  const output = typeof usage.output_tokens === "number" ? usage.output_tokens : 0;
  const inputDetails = isJsonObject(usage.input_tokens_details) ? usage.input_tokens_details : {};
  const outputDetails = isJsonObject(usage.output_tokens_details) ? usage.output_tokens_details : {};
  return {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: typeof usage.total_tokens === "number" ? usage.total_tokens : input + output,
    prompt_tokens_details: { cached_tokens: inputDetails.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: outputDetails.reasoning_tokens ?? 0 },
  };
}

function finishReason(response: JsonObject, sawToolCall: boolean): string {
  if (response.status === "incomplete") {
    const details = isJsonObject(response.incomplete_details) ? response.incomplete_details : {};
    return details.reason === "content_filter" ? "content_filter" : "length";
  }
  return sawToolCall ? "tool_calls" : "stop";
}

function chatId(response: JsonObject | null): string {
  const id = response && typeof response.id === "string" ? response.id : "";
  return `chatcmpl-${id.replace(/^resp_/, "") || Date.now().toString(36)}`;
}

function createdOf(response: JsonObject | null): number {
  const at = response?.created_at;
  return typeof at === "number" ? at : Math.floor(Date.now() / 1000);
}

function errorBody(state: CodexResponseState, response: JsonObject | null): JsonObject {
  const source = isJsonObject(response?.error) ? response.error : (state.error ?? {});
  return {
    error: {
      type: "upstream_error",
      message: typeof source.message === "string" ? source.message : "Upstream response failed",
      code: typeof source.code === "string" ? source.code : null,
      param: null,
    },
  };
}

/** A finished Codex response as a `chat.completion` (text, function tool calls, finish reason, usage). */
export function chatCompletionOf(state: CodexResponseState, clientModel: string): JsonObject | null {
  const response = state.finalResponse(clientModel);
  if (response === null) return state.ended === null ? null : errorBody(state, state.response);
  if (state.ended === "failed") return errorBody(state, response);
  let content = "";
  const toolCalls: JsonObject[] = [];
  for (const item of Array.isArray(response.output) ? response.output : []) {
    if (!isJsonObject(item)) continue;
    if (item.type === "message" && Array.isArray(item.content)) {
      for (const part of item.content)
        if (isJsonObject(part) && part.type === "output_text" && typeof part.text === "string")
          content += part.text;
    } else if (item.type === "function_call") {
      toolCalls.push({
        id: item.call_id,
        type: "function",
        function: { name: item.name, arguments: item.arguments ?? "" },
      });
    }
  }
  const message: JsonObject = {
    role: "assistant",
    content: content === "" && toolCalls.length > 0 ? null : content,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: chatId(response),
    object: "chat.completion",
    created: createdOf(response),
    model: clientModel,
    choices: [
      { index: 0, message, finish_reason: finishReason(response, toolCalls.length > 0), logprobs: null },
    ],
    usage: chatUsage(response.usage),
  };
}

/**
 * Turns Codex stream events into Chat Completions chunks as they come: the role, text deltas, function tool calls
 * (name, then argument deltas), the finish reason, a usage chunk (`choices: []`) and `[DONE]`. A failed response
 * ends with an in-band `{"error":…}` and no `[DONE]`.
 */
export class ChatChunkWriter {
  readonly #model: string;
  readonly #state: CodexResponseState;
  #id = "";
  #created = 0;
  #roleSent = false;
  #toolIndex = new Map<string, number>();

  constructor(state: CodexResponseState, clientModel: string) {
    this.#state = state;
    this.#model = clientModel;
  }

  /** The SSE text for one event (after the state has seen it). */
  write(event: CodexEvent): string {
    const { type, data } = event;
    if (this.#id === "" && this.#state.response) {
      this.#id = chatId(this.#state.response);
      this.#created = createdOf(this.#state.response);
    }
    let out = "";
    if (!this.#roleSent && (type === "response.created" || type === "response.output_text.delta")) {
      this.#roleSent = true;
      out += this.#chunk({ role: "assistant", content: "" });
    }
    if (type === "response.output_text.delta" && typeof data.delta === "string")
      return out + this.#chunk({ content: data.delta });
    if (
      type === "response.output_item.added" &&
      isJsonObject(data.item) &&
      data.item.type === "function_call"
    ) {
      const index = this.#toolIndex.size;
      this.#toolIndex.set(String(data.item.id ?? data.output_index), index);
      return (
        out +
        this.#chunk({
          tool_calls: [
            {
              index,
              id: data.item.call_id,
              type: "function",
              function: { name: data.item.name, arguments: "" },
            },
          ],
        })
      );
    }
    if (type === "response.function_call_arguments.delta" && typeof data.delta === "string") {
      const index = this.#toolIndex.get(String(data.item_id ?? data.output_index)) ?? 0;
      return out + this.#chunk({ tool_calls: [{ index, function: { arguments: data.delta } }] });
    }
    if (type === "response.completed" || type === "response.incomplete") return out + this.#finish();
    if (type === "response.failed" || type === "error")
      return `${out}data: ${JSON.stringify(errorBody(this.#state, this.#state.response))}\n\n`;
    return out;
  }

  #finish(): string {
    const response = this.#state.response ?? {};
    const finish = this.#frame([
      { index: 0, delta: {}, finish_reason: finishReason(response, this.#toolIndex.size > 0) },
    ]);
    const usage = chatUsage(response.usage);
    const usageFrame = usage ? this.#frame([], usage) : "";
    return `${finish}${usageFrame}data: [DONE]\n\n`;
  }

  #chunk(delta: JsonObject): string {
    return this.#frame([{ index: 0, delta, finish_reason: null }]);
  }

  #frame(choices: JsonObject[], usage?: JsonObject): string {
    const chunk: JsonObject = {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
      choices,
      ...(usage ? { usage } : {}),
    };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }
}
