import { parseSseFrames, SseBodyReader, type SseFrame } from "../../support/e2e-sse.js";

/** Which OpenAI API a request uses. */
export type Api = "responses" | "chat";

/** A minimal request body for an API, streaming or not. */
export function requestBody(api: Api, stream: boolean, text = "hello"): Record<string, unknown> {
  return api === "responses"
    ? { model: "gpt-4o", input: text, stream }
    : { model: "gpt-4o", messages: [{ role: "user", content: text }], stream };
}

/** POSTs an API request to a data plane with an issued key. */
export function post(
  dataPlaneUrl: string,
  key: string,
  api: Api,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Response> {
  const path = api === "responses" ? "/v1/responses" : "/v1/chat/completions";
  return fetch(`${dataPlaneUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** A streaming request whose first output has reached the client. */
export interface OpenStream {
  requestId: string;
  reader: SseBodyReader;
  /** Drops the client connection. */
  abort(): void;
}

/** Starts a Responses stream and reads until its first text delta arrived; fails if the answer is not 200. */
export async function openStream(dataPlaneUrl: string, key: string): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await post(dataPlaneUrl, key, "responses", requestBody("responses", true), controller.signal);
  if (res.status !== 200) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
  const reader = new SseBodyReader(res);
  const started = await reader.readUntil((frames) =>
    frames.some((f) => f.event === "response.output_text.delta"),
  );
  if (!started) throw new Error(`stream ended before output:\n${reader.text}`);
  return { requestId: res.headers.get("x-request-id") ?? "", reader, abort: () => controller.abort() };
}

/** A whole answer as the client saw it. */
export interface Answer {
  status: number;
  headers: Headers;
  requestId: string;
  text: string;
  frames: SseFrame[];
}

/** Sends a request and reads its whole answer (frames are parsed when it is an event stream). */
export async function complete(
  dataPlaneUrl: string,
  key: string,
  api: Api,
  body: Record<string, unknown> = requestBody(api, true),
): Promise<Answer> {
  const res = await post(dataPlaneUrl, key, api, body);
  const text = await res.text();
  const sse = (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
  return {
    status: res.status,
    headers: res.headers,
    requestId: res.headers.get("x-request-id") ?? "",
    text,
    frames: sse ? parseSseFrames(text) : [],
  };
}
