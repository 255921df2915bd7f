import type { Client } from "@connectrpc/connect";
import type { AdminService, UsageRecord } from "../../src/gen/switchyard/v1/admin_pb.js";

/** One SSE frame as a client sees it: a comment (`: ping`), or an event with its name and data. */
export interface SseFrame {
  comment?: string;
  event?: string;
  data?: string;
}

/** Splits SSE text into frames (blank-line separated); an unfinished last frame is left out. */
export function parseSseFrames(text: string): SseFrame[] {
  const blocks = text.replace(/\r\n?/g, "\n").split("\n\n");
  blocks.pop();
  return blocks
    .filter((block) => block !== "")
    .map((block) => {
      const frame: SseFrame = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) frame.comment = line.slice(1).trim();
        else if (line.startsWith("event:")) frame.event = line.slice(6).trim();
        else if (line.startsWith("data:")) {
          const value = line.slice(line.startsWith("data: ") ? 6 : 5);
          frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
        }
      }
      return frame;
    });
}

/** POSTs a JSON body to a data-plane route with the API key, as a raw HTTP client would. */
export function postJson(
  url: string,
  apiKey: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Reads a response body as it arrives, so a test can stop after some frames or note when bytes came. */
export class SseBodyReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  /** Everything received so far. */
  text = "";
  /** `Date.now()` when the first body bytes arrived; undefined before. */
  firstBytesAt: number | undefined;

  constructor(res: Response) {
    if (!res.body) throw new Error("response has no body");
    this.#reader = res.body.getReader();
  }

  /** Complete frames received so far. */
  get frames(): SseFrame[] {
    return parseSseFrames(this.text);
  }

  /** Reads until `done(frames)` holds (true) or the body ends (false). */
  async readUntil(done: (frames: SseFrame[]) => boolean): Promise<boolean> {
    while (!done(this.frames)) {
      const { value, done: ended } = await this.#reader.read();
      if (ended) return false;
      this.firstBytesAt ??= Date.now();
      this.text += this.#decoder.decode(value, { stream: true });
    }
    return true;
  }

  /** Reads to the end of the body and returns every frame. */
  async readToEnd(): Promise<SseFrame[]> {
    await this.readUntil(() => false);
    return this.frames;
  }
}

/** The text of a Responses stream: its `response.output_text.delta` deltas joined. */
export function responsesText(frames: SseFrame[]): string {
  return frames
    .filter((f) => f.event === "response.output_text.delta" && f.data !== undefined)
    .map((f) => (JSON.parse(f.data ?? "{}") as { delta: string }).delta)
    .join("");
}

/** Polls the control plane until the user's usage records satisfy `ready`; returns them (newest first). */
export async function waitForUsage(
  admin: Client<typeof AdminService>,
  userId: string,
  ready: (records: UsageRecord[]) => boolean,
  timeoutMs = 10_000,
): Promise<UsageRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { records } = await admin.listUsage({ userId, pageSize: 500 });
    if (ready(records) || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
