/**
 * Public types of the fake OpenAI upstream: what a test can script, what the fake records, and the handle a test
 * holds on a running fake.
 */

/** Where a fault happens relative to the response: before any status line, or after `afterEvents` SSE events. */
export type StallMode = "before-headers" | "after-headers" | { afterEvents: number };

/** `before-headers` resets the connection instead of answering; `afterEvents` resets it mid-stream. */
export type ResetMode = "before-headers" | { afterEvents: number };

/** How a slow-loris upstream dribbles its body out. */
export interface Trickle {
  bytes: number;
  everyMs: number;
}

/** Fields of an OpenAI error body; anything left out gets the value OpenAI uses for the status. */
export interface ScriptedError {
  type?: string;
  code?: string | null;
  message?: string;
  param?: string | null;
}

/** Token counts reported in `usage`; `total_tokens` is always input + output. */
export interface ScriptedUsage {
  input_tokens?: number;
  cached_tokens?: number;
  output_tokens?: number;
  reasoning_tokens?: number;
}

/**
 * How the fake answers one request. Everything is optional: an empty behaviour is a normal completion of
 * "Hello from fake upstream.". Event counts (`cutAfterEvents`, `stall.afterEvents`, `reset.afterEvents`) count the
 * SSE frames of the normal stream, terminal frames included; the broken frame of `malformed` is not counted.
 * For non-stream requests the `afterEvents` faults happen right after the headers and `cutAfterEvents` is ignored.
 */
export interface Behaviour {
  /** HTTP status. With a status >= 400 (or `error`) the answer is an OpenAI-shaped error body. */
  status?: number;
  error?: ScriptedError;
  /** Sent verbatim as the body (status defaults to 200); wins over `error`. */
  rawBody?: string;
  /** Extra response headers, e.g. `retry-after`. */
  headers?: Record<string, string>;
  text?: string;
  /** How many text deltas the text is split into (default: one per word). */
  events?: number;
  usage?: ScriptedUsage;
  headersDelayMs?: number;
  eventDelayMs?: number;
  cutAfterEvents?: number;
  stall?: StallMode;
  malformed?: boolean;
  reset?: ResetMode;
  /**
   * A slow-loris upstream: after the headers the normal body (SSE frames or JSON, unchanged) goes out `bytes` at a
   * time, `everyMs` apart, so frames arrive split anywhere. Wins over the event-level faults and delays.
   */
  trickle?: Trickle;
  /** Responses streams end with `response.failed`; chat streams with an in-band `error` frame. */
  failed?: { code: string; message: string };
  responseId?: string;
}

/** Which requests a rule applies to; every given field must match. */
export interface RuleMatch {
  /** The key from `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** The request body's `model`. */
  model?: string;
  /** The request path, with or without the `/v1` prefix (`/v1/responses` also matches `/responses`). */
  path?: string;
}

/** A scripted behaviour with its selector; `times` bounds how many requests it answers (default: unlimited). */
export type ScriptRule = Behaviour & { match?: RuleMatch; times?: number };

/** One request as the fake received it (control requests are not recorded). */
export interface ReceivedRequest {
  method: string;
  path: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON, or the raw text when the body is not JSON, or null when there was no body. */
  body: unknown;
  apiKey: string | null;
  /** Epoch milliseconds at arrival. */
  receivedAt: number;
}

/** Request counters; `inFlight` is live, `maxInFlight` its high-water mark since start or `reset()`. */
export interface TrafficStats {
  inFlight: number;
  maxInFlight: number;
  total: number;
}

/** A running fake upstream. */
export interface FakeOpenAI extends Readonly<TrafficStats> {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`; the API lives under `${url}/v1`. */
  readonly url: string;
  readonly port: number;
  /** Recorded requests, oldest first. */
  readonly requests: ReceivedRequest[];
  /** Adds a rule after the existing ones. */
  script(rule: ScriptRule): void;
  /** Clears rules, recorded requests, `total` and `maxInFlight` (down to the live `inFlight`). */
  reset(): void;
  /** Resolves once exactly `n` requests are in flight; rejects after `timeoutMs`. */
  waitForInFlight(n: number, timeoutMs?: number): Promise<void>;
  /** Stops listening and destroys every open socket, stalled ones included. */
  close(): Promise<void>;
}

/** Options of `startFakeOpenAI`. */
export interface FakeOpenAIOptions {
  host?: string;
  port?: number;
  /** Keep a record of each request (default true); turn off for long benchmark runs. */
  recordRequests?: boolean;
}
