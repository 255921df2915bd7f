import type { RequestBodyInput, UpstreamRequestBody } from "../upstream-adapter.js";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The body for an OpenAI upstream: `model` set to the account's upstream model, and for chat streams
 * `stream_options.include_usage: true` so the usage can be billed. Re-serialised only when one of those changes;
 * otherwise the client's bytes go out as they came. The input object is left untouched.
 */
export function openAIRequestBody(input: RequestBodyInput): UpstreamRequestBody {
  const { body, upstreamModel } = input;
  const patch: Record<string, unknown> = {};
  let changed = false;
  if (upstreamModel !== "" && body.model !== upstreamModel) {
    patch.model = upstreamModel;
    changed = true;
  }
  let hideChatUsageChunk = false;
  if (input.api === "chat" && body.stream === true) {
    const options = body.stream_options;
    if (!isPlainObject(options) || options.include_usage !== true) {
      patch.stream_options = isPlainObject(options)
        ? { ...options, include_usage: true }
        : { include_usage: true };
      hideChatUsageChunk = true;
      changed = true;
    }
  }
  if (!changed) return { bytes: input.raw, hideChatUsageChunk };
  // Spreading keeps the client's key order; only the patched values change.
  return { bytes: Buffer.from(JSON.stringify({ ...body, ...patch })), hideChatUsageChunk };
}
