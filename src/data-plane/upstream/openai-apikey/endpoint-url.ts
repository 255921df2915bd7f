import type { UpstreamApi } from "../upstream-adapter.js";

/** Where an account without a base URL sends its requests (BEHAVIOUR.md "Forwarding"). */
export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com";

const API_PATHS: Readonly<Record<UpstreamApi, string>> = {
  responses: "/responses",
  chat: "/chat/completions",
};

/**
 * `{base}/v1/responses`, or `{base}/responses` when the base already ends in `/v1` (admins paste both forms).
 * Trailing slashes are tolerated; an empty base means api.openai.com.
 */
export function openAIEndpointUrl(baseUrl: string, api: UpstreamApi): string {
  let base = baseUrl.trim() || DEFAULT_OPENAI_BASE_URL;
  let end = base.length;
  while (end > 0 && base.charCodeAt(end - 1) === 0x2f) end--;
  base = base.slice(0, end);
  const prefix = base.endsWith("/v1") ? base : `${base}/v1`;
  return prefix + API_PATHS[api];
}
