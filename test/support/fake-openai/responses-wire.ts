import type { CompletionPlan, PlannedUsage } from "./completion-plan.js";
import { newId } from "./ids.js";
import type { StreamScript } from "./sse-playback.js";
import type { Behaviour } from "./types.js";

type Json = Record<string, unknown>;

/** The ids and request facts shared by every object of one Responses answer. */
interface ResponseIdentity {
  id: string;
  messageId: string;
  model: string;
  createdAt: number;
}

function identify(model: string, behaviour: Behaviour | undefined): ResponseIdentity {
  return {
    id: behaviour?.responseId ?? newId("resp_"),
    messageId: newId("msg_"),
    model,
    createdAt: Math.floor(Date.now() / 1000),
  };
}

function responsesUsage(usage: PlannedUsage): Json {
  return {
    input_tokens: usage.input,
    input_tokens_details: { cached_tokens: usage.cached },
    output_tokens: usage.output,
    output_tokens_details: { reasoning_tokens: usage.reasoning },
    total_tokens: usage.total,
  };
}

function outputText(text: string): Json {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function message(who: ResponseIdentity, status: string, content: Json[]): Json {
  return { id: who.messageId, type: "message", status, role: "assistant", content };
}

/** A Response object with the fields OpenAI always sends. */
function responseObject(
  who: ResponseIdentity,
  status: string,
  output: Json[],
  usage: Json | null,
  error: Json | null = null,
): Json {
  return {
    id: who.id,
    object: "response",
    created_at: who.createdAt,
    status,
    background: false,
    error,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    max_tool_calls: null,
    model: who.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: true,
    temperature: 1,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    truncation: "disabled",
    usage,
    user: null,
    metadata: {},
  };
}

/** The non-stream answer of `POST /v1/responses` (a failed response when the script says `failed`). */
export function responseBody(model: string, plan: CompletionPlan, behaviour: Behaviour | undefined): Json {
  const who = identify(model, behaviour);
  if (behaviour?.failed !== undefined)
    return responseObject(who, "failed", [], null, { ...behaviour.failed });
  const output = [message(who, "completed", [outputText(plan.text)])];
  return responseObject(who, "completed", output, responsesUsage(plan.usage));
}

/** The SSE frames of a streamed `POST /v1/responses`, in the order the SDK's accumulator insists on. */
export function responseStream(
  model: string,
  plan: CompletionPlan,
  behaviour: Behaviour | undefined,
): StreamScript {
  const who = identify(model, behaviour);
  const frames: string[] = [];
  const emit = (type: string, fields: Json) => {
    const event = { type, ...fields, sequence_number: frames.length };
    frames.push(`event: ${type}\ndata: ${JSON.stringify(event)}\n\n`);
  };
  emit("response.created", { response: responseObject(who, "in_progress", [], null) });
  emit("response.in_progress", { response: responseObject(who, "in_progress", [], null) });
  if (behaviour?.failed !== undefined) {
    emit("response.failed", { response: responseObject(who, "failed", [], null, { ...behaviour.failed }) });
    return { frames, firstDeltaIndex: -1, malformedFrame: "" };
  }
  const at = { item_id: who.messageId, output_index: 0, content_index: 0 };
  emit("response.output_item.added", { output_index: 0, item: message(who, "in_progress", []) });
  emit("response.content_part.added", { ...at, part: outputText("") });
  const firstDeltaIndex = frames.length;
  for (const delta of plan.deltas) emit("response.output_text.delta", { ...at, delta, logprobs: [] });
  emit("response.output_text.done", { ...at, text: plan.text, logprobs: [] });
  emit("response.content_part.done", { ...at, part: outputText(plan.text) });
  const done = message(who, "completed", [outputText(plan.text)]);
  emit("response.output_item.done", { output_index: 0, item: done });
  emit("response.completed", {
    response: responseObject(who, "completed", [done], responsesUsage(plan.usage)),
  });
  return {
    frames,
    firstDeltaIndex,
    malformedFrame: "event: response.output_text.delta\ndata: {not json\n\n",
  };
}
