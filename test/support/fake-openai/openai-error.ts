import type { ScriptedError } from "./types.js";

/** The body OpenAI sends with every non-2xx answer. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface ErrorDefaults {
  type: string;
  code: string | null;
  message: string;
}

/** What OpenAI answers for each status when a script does not say. */
function defaultsFor(status: number): ErrorDefaults {
  switch (status) {
    case 401:
      return {
        type: "invalid_request_error",
        code: "invalid_api_key",
        message: "Incorrect API key provided.",
      };
    case 403:
      return {
        type: "invalid_request_error",
        code: "unsupported_country_region_territory",
        message: "Forbidden.",
      };
    case 404:
      return { type: "invalid_request_error", code: "unknown_url", message: "Not found." };
    case 429:
      return {
        type: "requests",
        code: "rate_limit_exceeded",
        message: "Rate limit reached for requests. Please try again later.",
      };
    default:
      return status >= 500
        ? {
            type: "server_error",
            code: null,
            message: "The server had an error while processing your request.",
          }
        : { type: "invalid_request_error", code: null, message: "Invalid request." };
  }
}

/** Builds the OpenAI error body for a status, with the scripted fields taking precedence. */
export function openAIErrorBody(status: number, scripted?: ScriptedError): OpenAIErrorBody {
  const defaults = defaultsFor(status);
  return {
    error: {
      message: scripted?.message ?? defaults.message,
      type: scripted?.type ?? defaults.type,
      param: scripted?.param ?? null,
      code: scripted?.code === undefined ? defaults.code : scripted.code,
    },
  };
}
