/**
 * Building blocks of the data-plane fuzz: a seeded random source and a raw HTTP/1.1 request builder that can
 * get every part wrong on purpose.
 */

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  /** `n` characters drawn from `alphabet`. */
  text(n: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"): string {
    let out = "";
    for (let i = 0; i < n; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }
}

/** What the fuzz client does once its bytes are written. */
export type Finish =
  /** half-close (FIN) and read until the server ends: every request, complete or not, gets its outcome */
  | "end"
  /** keep the connection open and read the first answer (an incomplete request meets the client timeouts) */
  | "wait"
  /** close at once (FIN) without reading */
  | "abort"
  /** close at once with a reset */
  | "reset";

/**
 * One fuzzed exchange. `expect` says what a correct data plane answers: `error` (only OpenAI-shaped 4xx),
 * `success` (a valid request, answered 200), or `none` (the client leaves; the answer is not looked at).
 */
export interface FuzzCase {
  category: string;
  bytes: Buffer;
  finish: Finish;
  expect: "error" | "success" | "none";
  /** A HEAD request: its answers carry no body. */
  head?: boolean;
}

/** A request with every part under control; what is not given is what a well-behaved client sends. */
export interface RawRequestParts {
  method?: string;
  target?: string;
  version?: string;
  /** Header lines, sent as given (no Host is added when one is present, in any case). */
  headers?: string[];
  body?: Buffer | string;
  /** `false` sends no content-length; a string sends that value; default: the body's length when there is one. */
  contentLength?: false | string;
  /** Line ending of the head (CRLF unless told). */
  eol?: string;
}

/** The bytes of a request built from `parts`. */
export function rawRequest(parts: RawRequestParts): Buffer {
  const eol = parts.eol ?? "\r\n";
  const body = parts.body === undefined ? undefined : Buffer.from(parts.body);
  const headers = [...(parts.headers ?? [])];
  if (!headers.some((h) => h.toLowerCase().startsWith("host:"))) headers.unshift("host: switchyard");
  if (parts.contentLength !== false && (body !== undefined || parts.contentLength !== undefined)) {
    headers.push(`content-length: ${parts.contentLength ?? body?.length ?? 0}`);
  }
  const line = `${parts.method ?? "POST"} ${parts.target ?? "/v1/responses"} ${parts.version ?? "HTTP/1.1"}`;
  const head = Buffer.from(`${[line, ...headers].join(eol)}${eol}${eol}`, "latin1");
  return body === undefined ? head : Buffer.concat([head, body]);
}

/** A chunked body made of `pieces`, terminated unless `terminated` is false. */
export function chunked(pieces: Array<Buffer | string>, terminated = true): Buffer {
  const parts = pieces.map((p) => {
    const b = Buffer.from(p);
    return Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]);
  });
  if (terminated) parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}

/** The routes that read a body, and the GET route that authenticates. */
export const PROXY_PATHS = ["/v1/responses", "/responses", "/openai/v1/responses", "/v1/chat/completions"];
export const MODELS_PATHS = ["/v1/models", "/models"];
