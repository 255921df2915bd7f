import type { SnapshotPassthroughRule } from "../../gen/switchyard/v1/gateway_pb.js";

/** How much of an upstream body keywords are searched in. */
export const KEYWORD_SCAN_BYTES = 8 * 1024;

/** The upstream failure a rule is matched against. */
export interface UpstreamFailure {
  status: number;
  /** The upstream response body (only its first 8 KiB are searched). */
  body: string;
  /** The kind of upstream that answered, e.g. "openai". */
  platform: string;
}

/** A status and message for the client; the caller answers it as an `upstream_error`. */
export interface PassthroughAnswer {
  status: number;
  message: string;
}

/**
 * The first rule (rules arrive in priority order) that matches the failure, or null. A rule applies to its
 * platforms (all when empty); with `matchAll` it needs a listed status AND a keyword, otherwise either. A rule
 * without codes and keywords never matches, and neither does a `matchAll` rule missing one of the two (the
 * control plane refuses both; they are ignored here rather than matching everything). Keywords are
 * case-insensitive substrings of the body's first 8 KiB.
 */
export function matchPassthroughRule(
  rules: readonly SnapshotPassthroughRule[],
  upstream: UpstreamFailure,
): SnapshotPassthroughRule | null {
  let haystack: string | undefined;
  for (const rule of rules) {
    if (rule.platforms.length > 0 && !rule.platforms.includes(upstream.platform)) continue;
    const codeMatches = rule.errorCodes.includes(upstream.status);
    if (rule.matchAll && !codeMatches) continue;
    if (!rule.matchAll && codeMatches) return rule;
    if (rule.keywords.length === 0) continue;
    haystack ??= keywordHaystack(upstream.body);
    if (containsKeyword(haystack, rule.keywords)) return rule;
  }
  return null;
}

/**
 * The answer a matched rule gives: the upstream status unless the rule sets `response_code`, the upstream
 * message unless it sets `custom_message`. A rule missing the value it needs (refused by the control plane)
 * keeps the upstream's; a status outside 400–599 (e.g. a `response.failed` inside a 200 stream) becomes 502,
 * since the client is being told of an error.
 */
export function applyPassthroughRule(
  rule: SnapshotPassthroughRule,
  upstream: PassthroughAnswer,
): PassthroughAnswer {
  const status = !rule.passthroughCode && rule.responseCode !== 0 ? rule.responseCode : upstream.status;
  const message = !rule.passthroughBody && rule.customMessage !== "" ? rule.customMessage : upstream.message;
  return { status: status >= 400 && status <= 599 ? status : 502, message };
}

/** The first 8 KiB (bytes, not characters) of the body, lower-cased; a character cut at the end is dropped. */
function keywordHaystack(body: string): string {
  const head = body.length > KEYWORD_SCAN_BYTES ? body.slice(0, KEYWORD_SCAN_BYTES) : body;
  if (head.length * 3 <= KEYWORD_SCAN_BYTES) return head.toLowerCase();
  const bytes = Buffer.from(head, "utf8");
  if (bytes.length <= KEYWORD_SCAN_BYTES) return head.toLowerCase();
  return bytes.subarray(0, KEYWORD_SCAN_BYTES).toString("utf8").toLowerCase();
}

function containsKeyword(haystack: string, keywords: readonly string[]): boolean {
  for (const keyword of keywords) {
    if (keyword !== "" && haystack.includes(keyword.toLowerCase())) return true;
  }
  return false;
}
