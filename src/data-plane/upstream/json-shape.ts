/** A JSON object (not null, not an array), as found in upstream bodies and events. */
export type JsonObject = Record<string, unknown>;

/** Narrows an unknown JSON value to an object. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON.parse that answers undefined instead of throwing: upstream bytes are not trusted to be JSON. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
