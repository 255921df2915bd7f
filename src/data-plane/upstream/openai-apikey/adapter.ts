import { classifyErrorResponse } from "../failure.js";
import type { UpstreamAdapter } from "../upstream-adapter.js";
import { openAIEndpointUrl } from "./endpoint-url.js";
import { openAIRequestHeaders, openAIResponseHeaders } from "./header-allowlist.js";
import { openAIRequestBody } from "./request-body.js";

/** OpenAI (or an OpenAI-compatible endpoint) called with an API key as a bearer token. */
export const openAIApiKeyAdapter: UpstreamAdapter = {
  kind: "openai-apikey",
  endpointUrl: openAIEndpointUrl,
  requestHeaders: openAIRequestHeaders,
  requestBody: openAIRequestBody,
  responseHeaders: openAIResponseHeaders,
  classifyErrorResponse,
};
