import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

/** A request body as received: the parsed JSON when it is JSON, the raw text otherwise, null when empty. */
export interface ReadBody {
  value: unknown;
  isJson: boolean;
}

/** Reads the whole request body as UTF-8 text. */
export function readBodyText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.once("error", reject);
  });
}

/** Parses a body that should be JSON, keeping the text when it is not. */
export function parseBody(text: string): ReadBody {
  if (text === "") return { value: null, isJson: false };
  try {
    return { value: JSON.parse(text), isJson: true };
  } catch {
    return { value: text, isJson: false };
  }
}

/** True for a plain JSON object (the only body shape the API endpoints accept). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The key of an `Authorization: Bearer <key>` header, or null. */
export function bearerKey(authorization: string | undefined): string | null {
  if (authorization === undefined || !/^bearer /i.test(authorization)) return null;
  return authorization.slice(7).trim();
}

/** The path of a request URL, without the query string. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

/** Node's already lower-cased headers, with repeated ones joined the way HTTP folds them. */
export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}
