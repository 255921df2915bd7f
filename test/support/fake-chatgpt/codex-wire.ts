import { randomBytes } from "node:crypto";

type Json = Record<string, unknown>;

/** Token counts every fake Codex answer reports. */
export const CODEX_USAGE = {
  input_tokens: 1200,
  input_tokens_details: { cached_tokens: 200 },
  output_tokens: 50,
  output_tokens_details: { reasoning_tokens: 10 },
  total_tokens: 1250,
};

/** The text every fake Codex text answer streams, in these deltas. */
export const CODEX_DELTAS = ["Hello", " from", " Codex"];

function response(id: string, model: string, status: string, output: Json[], usage: Json | null): Json {
  return {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status,
    error: null,
    incomplete_details: null,
    instructions: "",
    model,
    output,
    parallel_tool_calls: true,
    store: false,
    tool_choice: "auto",
    tools: [],
    usage,
  };
}

/**
 * The SSE frames of a Codex answer, in the order the Responses API sends them: a text message, or one function call
 * when `toolName` is given.
 */
export function codexStream(model: string, toolName: string | null): string[] {
  const id = `resp_${randomBytes(8).toString("hex")}`;
  const frames: string[] = [];
  const emit = (type: string, fields: Json) =>
    frames.push(
      `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: frames.length })}\n\n`,
    );
  emit("response.created", { response: response(id, model, "in_progress", [], null) });
  emit("response.in_progress", { response: response(id, model, "in_progress", [], null) });
  let item: Json;
  if (toolName !== null) {
    const itemId = `fc_${randomBytes(6).toString("hex")}`;
    const args = '{"city":"Paris"}';
    const call = {
      id: itemId,
      type: "function_call",
      status: "in_progress",
      call_id: "call_1",
      name: toolName,
    };
    emit("response.output_item.added", { output_index: 0, item: { ...call, arguments: "" } });
    for (const delta of ['{"city":', '"Paris"}'])
      emit("response.function_call_arguments.delta", { item_id: itemId, output_index: 0, delta });
    emit("response.function_call_arguments.done", { item_id: itemId, output_index: 0, arguments: args });
    item = { ...call, status: "completed", arguments: args };
  } else {
    const itemId = `msg_${randomBytes(6).toString("hex")}`;
    const at = { item_id: itemId, output_index: 0, content_index: 0 };
    const part = (text: string) => ({ type: "output_text", text, annotations: [] });
    emit("response.output_item.added", {
      output_index: 0,
      item: { id: itemId, type: "message", status: "in_progress", role: "assistant", content: [] },
    });
    emit("response.content_part.added", { ...at, part: part("") });
    for (const delta of CODEX_DELTAS) emit("response.output_text.delta", { ...at, delta });
    const text = CODEX_DELTAS.join("");
    emit("response.output_text.done", { ...at, text });
    emit("response.content_part.done", { ...at, part: part(text) });
    item = { id: itemId, type: "message", status: "completed", role: "assistant", content: [part(text)] };
  }
  emit("response.output_item.done", { output_index: 0, item });
  // Like the real backend, the terminal event carries no output: a gateway rebuilds it from the items above.
  emit("response.completed", { response: response(id, model, "completed", [], CODEX_USAGE) });
  return frames;
}
