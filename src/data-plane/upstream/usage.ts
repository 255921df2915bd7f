import { isJsonObject, type JsonObject, parseJsonOrUndefined } from "./json-shape.js";

/** Token counts of one upstream call, named the same for both APIs. */
export interface TokenUsage {
  /** All input tokens, cached ones included (OpenAI counts them in both fields). */
  readonly input: number;
  /** The part of `input` served from the prompt cache. */
  readonly cachedInput: number;
  /** All output tokens, reasoning ones included. */
  readonly output: number;
  /** The part of `output` spent on reasoning. */
  readonly reasoning: number;
  /**
   * A count the upstream sent could not be trusted (negative, fractional, not a number, or beyond
   * {@link MAX_TOKENS_PER_REQUEST}); it is counted as 0 and the usage record is flagged.
   */
  readonly outOfRange: boolean;
}

/**
 * More tokens than any one request can use (no model has a context near it): a larger count is an upstream's error.
 * Bounding here also keeps every count a valid uint32 for the lease channel and an integer for the database.
 */
export const MAX_TOKENS_PER_REQUEST = 100_000_000;

/** Reads counts, remembering whether any had to be distrusted. */
class CountReader {
  outOfRange = false;

  count(value: unknown): number {
    if (value === undefined || value === null) return 0;
    if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= MAX_TOKENS_PER_REQUEST)
      return value;
    this.outOfRange = true;
    return 0;
  }

  detail(usage: JsonObject, field: string, key: string): number {
    const details = usage[field];
    return isJsonObject(details) ? this.count(details[key]) : 0;
  }
}

/** The two namings of a usage object: Responses, then Chat Completions. */
const NAMINGS = [
  {
    input: "input_tokens",
    output: "output_tokens",
    inputDetails: "input_tokens_details",
    outputDetails: "output_tokens_details",
  },
  {
    input: "prompt_tokens",
    output: "completion_tokens",
    inputDetails: "prompt_tokens_details",
    outputDetails: "completion_tokens_details",
  },
] as const;

/**
 * Reads a `usage` object in either naming: Responses (`input_tokens`, `output_tokens`, `*_tokens_details`) or Chat
 * Completions (`prompt_tokens`, `completion_tokens`, `*_tokens_details`). Undefined when it is not a usage object.
 */
export function tokenUsageOf(usage: unknown): TokenUsage | undefined {
  if (!isJsonObject(usage)) return undefined;
  const naming = NAMINGS.find((n) => n.input in usage || n.output in usage);
  if (!naming) return undefined;
  const r = new CountReader();
  const counts = {
    input: r.count(usage[naming.input]),
    cachedInput: r.detail(usage, naming.inputDetails, "cached_tokens"),
    output: r.count(usage[naming.output]),
    reasoning: r.detail(usage, naming.outputDetails, "reasoning_tokens"),
  };
  return { ...counts, outOfRange: r.outOfRange };
}

/** A non-stream success body as the relay forwards and settles it. */
export interface JsonResponseBody {
  /** The bytes for the client: the upstream's own, unless the model name had to be rewritten. */
  readonly bytes: Buffer;
  readonly usage: TokenUsage | undefined;
  /** The response (`resp_…`) or completion (`chatcmpl-…`) id. */
  readonly responseId: string | undefined;
}

/**
 * Reads a non-stream JSON answer (Responses or Chat Completions) once: its usage and id, and — when `clientModel`
 * is given and the body names another model — the body rewritten so the client sees its own model name. A body
 * that is not JSON passes through unchanged with no usage.
 */
export function readJsonResponse(raw: Buffer, clientModel?: string): JsonResponseBody {
  const parsed = parseJsonOrUndefined(raw.toString("utf8"));
  if (!isJsonObject(parsed)) return { bytes: raw, usage: undefined, responseId: undefined };
  const usage = tokenUsageOf(parsed.usage);
  const responseId = typeof parsed.id === "string" ? parsed.id : undefined;
  if (clientModel === undefined || typeof parsed.model !== "string" || parsed.model === clientModel)
    return { bytes: raw, usage, responseId };
  parsed.model = clientModel;
  return { bytes: Buffer.from(JSON.stringify(parsed)), usage, responseId };
}
