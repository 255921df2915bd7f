import type { CompletionPlan, PlannedUsage } from "./completion-plan.js";
import { newId } from "./ids.js";
import type { StreamScript } from "./sse-playback.js";
import type { Behaviour } from "./types.js";

type Json = Record<string, unknown>;

const FINGERPRINT = "fp_fake0001";

function chatUsage(usage: PlannedUsage): Json {
  return {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.total,
    prompt_tokens_details: { cached_tokens: usage.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** The non-stream answer of `POST /v1/chat/completions`. */
export function chatCompletionBody(model: string, plan: CompletionPlan): Json {
  return {
    id: newId("chatcmpl-"),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: plan.text, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: chatUsage(plan.usage),
    service_tier: "default",
    system_fingerprint: FINGERPRINT,
  };
}

/** True when the request asked for the trailing usage chunk (`stream_options.include_usage`). */
export function wantsStreamUsage(body: Json): boolean {
  const options = body.stream_options;
  return (
    typeof options === "object" &&
    options !== null &&
    "include_usage" in options &&
    options.include_usage === true
  );
}

/**
 * The SSE frames of a streamed chat completion: role chunk, content chunks, finish chunk, then (when asked) a
 * usage chunk with no choices, then `[DONE]`. With `failed`, an in-band error frame follows the role chunk.
 */
export function chatCompletionStream(
  model: string,
  plan: CompletionPlan,
  behaviour: Behaviour | undefined,
  includeUsage: boolean,
): StreamScript {
  const base = {
    id: newId("chatcmpl-"),
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model,
    service_tier: "default",
    system_fingerprint: FINGERPRINT,
  };
  const frames: string[] = [];
  const chunk = (delta: Json, finishReason: string | null) => {
    const choices = [{ index: 0, delta, logprobs: null, finish_reason: finishReason }];
    const body = includeUsage ? { ...base, choices, usage: null } : { ...base, choices };
    frames.push(`data: ${JSON.stringify(body)}\n\n`);
  };
  chunk({ role: "assistant", content: "", refusal: null }, null);
  if (behaviour?.failed !== undefined) {
    const error = {
      message: behaviour.failed.message,
      type: "server_error",
      param: null,
      code: behaviour.failed.code,
    };
    frames.push(`data: ${JSON.stringify({ error })}\n\n`);
    return { frames, firstDeltaIndex: -1, malformedFrame: "" };
  }
  const firstDeltaIndex = frames.length;
  for (const content of plan.deltas) chunk({ content }, null);
  chunk({}, "stop");
  if (includeUsage)
    frames.push(`data: ${JSON.stringify({ ...base, choices: [], usage: chatUsage(plan.usage) })}\n\n`);
  frames.push("data: [DONE]\n\n");
  return { frames, firstDeltaIndex, malformedFrame: "data: {not json\n\n" };
}
