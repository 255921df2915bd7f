import { connect } from "node:net";

/**
 * Small raw-HTTP helpers for end-to-end tests that need exact statuses, headers and bodies (the openai SDK hides
 * them behind exceptions and retries).
 */

/** One HTTP answer, fully read. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** What a request sends; a string body is sent verbatim, anything else as JSON. */
export interface HttpSend {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: unknown;
}

/** Sends one request to `baseUrl + path` and reads the whole answer. */
export async function http(baseUrl: string, path: string, send: HttpSend = {}): Promise<HttpAnswer> {
  const method = send.method ?? (send.body === undefined ? "GET" : "POST");
  const headers: Record<string, string> = { ...send.headers };
  let body: string | undefined;
  if (send.body !== undefined) {
    body = typeof send.body === "string" ? send.body : JSON.stringify(send.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The OpenAI error body (`{"error":{type,message,code,param}}`) every refusal before streaming uses. */
export interface OpenAIError {
  type: string;
  message: string;
  code: string | null;
  param: string | null;
}

/** The exact body of an OpenAI-shaped error, for `toEqual`. */
export function openAIError(
  type: string,
  message: string,
  code: string | null = null,
  param: string | null = null,
): { error: OpenAIError } {
  return { error: { type, message, code, param } };
}

/** `Authorization: Bearer <key>`. */
export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What {@link rawPost} saw. */
export interface RawAnswer {
  /** The status line, e.g. "HTTP/1.1 413 Payload Too Large". */
  statusLine: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  /** Body bytes the socket had accepted when the first byte of the answer arrived. */
  bodyBytesSentBeforeAnswer: number;
}

/**
 * A POST over a plain socket, for what fetch cannot do: declare a content-length it never sends, or keep
 * streaming a chunked body while watching for an early answer. `head` holds the header lines (no request line,
 * no blank line). `nextChunk` is asked for body bytes one write at a time, and only when the socket accepted the
 * previous one (backpressure), until it returns null or an answer starts. Resolves once the answer's
 * content-length bytes arrived or the server closed; write errors after an answer (the server closing on an
 * unread body) are expected and ignored.
 */
export function rawPost(
  baseUrl: string,
  path: string,
  head: string[],
  nextChunk: (sent: number) => Buffer | null,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  return new Promise<RawAnswer>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let sent = 0;
    let sentAtAnswer = -1;
    let done = false;
    const timer = setTimeout(() => finish(new Error(`no complete answer in ${timeoutMs} ms`)), timeoutMs);
    const finish = (error: Error | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) {
        reject(error);
        return;
      }
      const text = received.toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, end === -1 ? text.length : end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        statusLine,
        headers,
        body: end === -1 ? "" : text.slice(end + 4),
        bodyBytesSentBeforeAnswer: sentAtAnswer,
      });
    };
    const complete = (): boolean => {
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return false;
      const length = /\r\ncontent-length: *(\d+)/i.exec(received.subarray(0, end).toString("latin1"))?.[1];
      return length !== undefined && received.length >= end + 4 + Number(length);
    };
    socket.on("data", (chunk: Buffer) => {
      if (sentAtAnswer === -1) sentAtAnswer = sent;
      received = Buffer.concat([received, chunk]);
      if (complete()) finish(null);
    });
    socket.on("end", () => finish(null));
    socket.on("close", () => finish(null));
    socket.on("error", (err) => finish(sentAtAnswer === -1 ? err : null));
    const pump = (): void => {
      while (!done && sentAtAnswer === -1) {
        const chunk = nextChunk(sent);
        if (chunk === null) return;
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.write(`POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\n${head.join("\r\n")}\r\n\r\n`);
    pump();
  });
}
