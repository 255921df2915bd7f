import type { HeaderBag } from "./upstream-adapter.js";

/** The proto field is a uint32 of milliseconds (about 49 days); longer resets are clamped to it. */
const MAX_RESET_MS = 4_294_967_295;

const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000_001,
};

const DURATION = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;

function header(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  const text = typeof value === "string" ? value : value?.[0];
  return text === undefined ? undefined : text.trim();
}

/**
 * An OpenAI reset duration (Go duration syntax: "1s", "6m0s", "20ms", "1h2m3.5s") in milliseconds; a bare number
 * is read as seconds, as some OpenAI-compatible upstreams send it. Undefined for anything else.
 */
export function parseResetDurationMs(text: string): number | undefined {
  if (PLAIN_SECONDS.test(text)) return Number(text) * 1000;
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART))
    total += Number(amount) * (UNIT_MS[unit ?? ""] ?? 0);
  return total;
}

/** `Retry-After` (delay seconds or an HTTP date, RFC 9110 §10.2.3) in milliseconds from `nowMs`. */
export function parseRetryAfterMs(text: string, nowMs: number): number | undefined {
  if (PLAIN_SECONDS.test(text)) return Number(text) * 1000;
  // Date.parse accepts far more than HTTP dates; every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with
  // a day name, which keeps "5 s", "-1" and other garbage out.
  if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Whether a rate-limit dimension can have caused the 429: its remaining count is 0, or the upstream did not say. */
function exhausted(headers: HeaderBag, remainingHeader: string): boolean {
  const remaining = header(headers, remainingHeader);
  if (remaining === undefined) return true;
  const count = Number(remaining);
  return !Number.isFinite(count) || count <= 0;
}

/** `resets_in_seconds` at the top level or inside `error` (ChatGPT-style usage-limit answers). */
function bodyResetMs(body: unknown): number | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  const nested =
    typeof error === "object" && error !== null
      ? (error as { resets_in_seconds?: unknown }).resets_in_seconds
      : undefined;
  const seconds = nested ?? (body as { resets_in_seconds?: unknown }).resets_in_seconds;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * The shortest reset that explains a 429, in whole milliseconds, or 0 when the upstream gave none. Candidates:
 * `Retry-After`, `retry-after-ms`, `x-ratelimit-reset-requests` / `-tokens` (each only when its
 * `x-ratelimit-remaining-*` is 0 or absent — a dimension with budget left did not cause the refusal) and the
 * body's `resets_in_seconds`. The shortest wins because a longer one parks a usable account (sub2api #2258).
 */
export function rateLimitResetMs(headers: HeaderBag, body: unknown, nowMs: number): number {
  const candidates: Array<number | undefined> = [];
  const retryAfter = header(headers, "retry-after");
  if (retryAfter !== undefined) candidates.push(parseRetryAfterMs(retryAfter, nowMs));
  const retryAfterMs = header(headers, "retry-after-ms");
  if (retryAfterMs !== undefined && PLAIN_SECONDS.test(retryAfterMs)) candidates.push(Number(retryAfterMs));
  for (const dimension of ["requests", "tokens"]) {
    const reset = header(headers, `x-ratelimit-reset-${dimension}`);
    if (reset !== undefined && exhausted(headers, `x-ratelimit-remaining-${dimension}`))
      candidates.push(parseResetDurationMs(reset));
  }
  candidates.push(bodyResetMs(body));
  let shortest = Number.POSITIVE_INFINITY;
  for (const candidate of candidates)
    if (candidate !== undefined && candidate < shortest) shortest = candidate;
  return shortest === Number.POSITIVE_INFINITY ? 0 : Math.min(Math.ceil(shortest), MAX_RESET_MS);
}
