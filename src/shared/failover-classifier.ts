/**
 * Which upstream HTTP answers make the gateway try another account (BEHAVIOUR.md "Failover"). Transport errors,
 * first-byte timeouts and empty streams always fail over; they carry no status and are not classified here.
 */

/** Statuses that always fail over, besides every 5xx. */
const FAILOVER_STATUSES: ReadonlySet<number> = new Set([401, 402, 403, 405, 429, 529]);

/** A too-long prompt fails on every account alike, so switching would only multiply the cost. */
const CONTEXT_LENGTH =
  /context[_ ]length|context[_ ]window|maximum context|prompt is too long|too many tokens/i;

/** A 400 that really means "busy": some upstreams and proxies answer capacity problems with 400. */
const OVERLOADED = /overloaded|slow[_ ]down|at capacity/i;

/** Whether an error's code or message says the upstream is overloaded (busy, not broken). */
export function isOverloadedError(text: string): boolean {
  return OVERLOADED.test(text);
}

/** Whether the error text is about the request exceeding the model's context length. */
export function isContextLengthError(bodyExcerpt: string): boolean {
  return CONTEXT_LENGTH.test(bodyExcerpt);
}

/**
 * Whether an upstream error answer is worth another account: 401, 402, 403, 405, 429, 529, every 5xx, a 413 not
 * about context length, a 400 that says overloaded / slow_down / at capacity and is not about context length.
 * Never a context-length error or any other 400 or 4xx: those pass through to the client. `bodyExcerpt` is the
 * start of the upstream body (the passthrough rules read 8 KiB); matching is case-insensitive.
 */
export function isFailoverWorthy(status: number, bodyExcerpt: string): boolean {
  if (FAILOVER_STATUSES.has(status)) return true;
  if (status >= 500 && status <= 599) return true;
  if (status === 413) return !isContextLengthError(bodyExcerpt);
  if (status === 400) return !isContextLengthError(bodyExcerpt) && OVERLOADED.test(bodyExcerpt);
  return false;
}
