import type { Behaviour, ResetMode, RuleMatch, ScriptRule, StallMode } from "./types.js";

/** Thrown when a rule sent over HTTP (control endpoint or `x-fake-script`) has the wrong shape. */
export class ScriptShapeError extends Error {}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(field: string, expected: string): never {
  throw new ScriptShapeError(`${field} must be ${expected}`);
}

function optionalString(obj: Json, field: string): string | undefined {
  const value = obj[field];
  if (value === undefined || typeof value === "string") return value;
  return fail(field, "a string");
}

function optionalNullableString(obj: Json, field: string): string | null | undefined {
  const value = obj[field];
  if (value === null) return null;
  return optionalString(obj, field);
}

function optionalCount(obj: Json, field: string): number | undefined {
  const value = obj[field];
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  return fail(field, "a non-negative number");
}

function afterEvents(value: unknown, field: string): { afterEvents: number } {
  if (!isObject(value)) return fail(field, 'a mode string or { "afterEvents": n }');
  const count = optionalCount(value, "afterEvents");
  if (count === undefined) return fail(`${field}.afterEvents`, "a non-negative number");
  return { afterEvents: count };
}

function parseStall(value: unknown): StallMode | undefined {
  if (value === undefined || value === "before-headers" || value === "after-headers") return value;
  return afterEvents(value, "stall");
}

function parseReset(value: unknown): ResetMode | undefined {
  if (value === undefined || value === "before-headers") return value;
  return afterEvents(value, "reset");
}

function parseHeaders(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return fail("headers", "an object of strings");
  for (const [name, headerValue] of Object.entries(value)) {
    if (typeof headerValue !== "string") fail(`headers.${name}`, "a string");
  }
  return value as Record<string, string>;
}

function parseTrickle(value: unknown): Behaviour["trickle"] {
  if (value === undefined) return undefined;
  if (!isObject(value)) return fail("trickle", "an object");
  const bytes = optionalCount(value, "bytes");
  const everyMs = optionalCount(value, "everyMs");
  if (bytes === undefined || bytes < 1 || everyMs === undefined)
    return fail("trickle", "{ bytes >= 1, everyMs }");
  return { bytes, everyMs };
}

function parseFailed(value: unknown): Behaviour["failed"] {
  if (value === undefined) return undefined;
  if (!isObject(value)) return fail("failed", "an object");
  const code = optionalString(value, "code");
  const message = optionalString(value, "message");
  if (code === undefined || message === undefined) return fail("failed", "{ code, message }");
  return { code, message };
}

function parseError(value: unknown): Behaviour["error"] {
  if (value === undefined) return undefined;
  if (!isObject(value)) return fail("error", "an object");
  return {
    type: optionalString(value, "type"),
    code: optionalNullableString(value, "code"),
    message: optionalString(value, "message"),
    param: optionalNullableString(value, "param"),
  };
}

function parseUsage(value: unknown): Behaviour["usage"] {
  if (value === undefined) return undefined;
  if (!isObject(value)) return fail("usage", "an object");
  return {
    input_tokens: optionalCount(value, "input_tokens"),
    cached_tokens: optionalCount(value, "cached_tokens"),
    output_tokens: optionalCount(value, "output_tokens"),
    reasoning_tokens: optionalCount(value, "reasoning_tokens"),
  };
}

function parseMatch(value: unknown): RuleMatch | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return fail("match", "an object");
  return {
    apiKey: optionalString(value, "apiKey"),
    model: optionalString(value, "model"),
    path: optionalString(value, "path"),
  };
}

function optionalBoolean(obj: Json, field: string): boolean | undefined {
  const value = obj[field];
  if (value === undefined || typeof value === "boolean") return value;
  return fail(field, "a boolean");
}

/** Checks a behaviour that arrived as JSON; unknown fields are ignored, wrong types throw `ScriptShapeError`. */
export function parseBehaviour(value: unknown): Behaviour {
  if (!isObject(value)) return fail("script", "a JSON object");
  return {
    status: optionalCount(value, "status"),
    error: parseError(value.error),
    rawBody: optionalString(value, "rawBody"),
    headers: parseHeaders(value.headers),
    text: optionalString(value, "text"),
    events: optionalCount(value, "events"),
    usage: parseUsage(value.usage),
    headersDelayMs: optionalCount(value, "headersDelayMs"),
    eventDelayMs: optionalCount(value, "eventDelayMs"),
    cutAfterEvents: optionalCount(value, "cutAfterEvents"),
    stall: parseStall(value.stall),
    malformed: optionalBoolean(value, "malformed"),
    reset: parseReset(value.reset),
    trickle: parseTrickle(value.trickle),
    failed: parseFailed(value.failed),
    responseId: optionalString(value, "responseId"),
  };
}

/** Checks a whole rule that arrived as JSON (see `parseBehaviour`). */
export function parseScriptRule(value: unknown): ScriptRule {
  const behaviour = parseBehaviour(value);
  const rule = value as Json;
  return { ...behaviour, match: parseMatch(rule.match), times: optionalCount(rule, "times") };
}
