import type { ServerResponse } from "node:http";
import { Writable } from "node:stream";
import type { SseTap, SseTerminal } from "../upstream/sse-tap.js";
import { startEventStream } from "./client-response.js";

/** Settings of a {@link StreamRelay}. */
export interface StreamRelayOptions {
  res: ServerResponse;
  tap: SseTap;
  /** Headers for the client when the relay commits the response (if a wait ping did not already). */
  headers: () => Record<string, string>;
  /** Upstream silence after which an SSE comment keeps the client connection alive. */
  keepaliveMs: number;
  /** True once the client left: bytes are still read (for usage) but no longer written. */
  clientGone: () => boolean;
  /** Called when the first bytes of this attempt go to the client. */
  onCommit: () => void;
  /** Upstream silence after which the stream is given up (in-band `stream_timeout`). */
  idleTimeoutMs: number;
  /** Called once when the upstream stayed silent for `idleTimeoutMs`. */
  onIdle: () => void;
}

/**
 * Carries an upstream SSE body to the client through the tap. Nothing is sent until the first output event or a
 * terminal event arrives: until then the attempt can still fail over without the client ever seeing it (events
 * before output — created, in_progress — are held and sent together with the first output). After that bytes go
 * through as they come, with backpressure; a keepalive comment is written after `keepaliveMs` of upstream silence,
 * only between whole events.
 */
export class StreamRelay extends Writable {
  readonly #o: StreamRelayOptions;
  #held: Array<Buffer | string> = [];
  #committed = false;
  #atFrameEnd = true;
  #keepalive: NodeJS.Timeout | null = null;
  #idle: NodeJS.Timeout | null = null;
  #idledOut = false;

  constructor(options: StreamRelayOptions) {
    super({ decodeStrings: false });
    this.#o = options;
    this.#armIdle();
  }

  /** Whether the relay gave the upstream up for silence. */
  get idledOut(): boolean {
    return this.#idledOut;
  }

  /** The tap watching this stream (usage, terminal event, first token). */
  get tap(): SseTap {
    return this.#o.tap;
  }

  /** Whether anything from this attempt reached the client (after that, errors go in-band). */
  get committed(): boolean {
    return this.#committed;
  }

  /** When the upstream last sent something (performance.now()). */
  lastWriteAt = 0;

  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.lastWriteAt = performance.now();
    this.#armIdle();
    const out = this.#o.tap.feed(chunk);
    if (!this.#committed) {
      this.#held.push(out);
      // A failure before any output is held too: the attempt may still fail over, or answer it in its own words.
      const terminal = this.#o.tap.terminal;
      if (this.#o.tap.outputProduced || (terminal && !isFailure(terminal))) this.#commit();
      done();
      return;
    }
    this.#send(out, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#stopKeepalive();
    this.#stopIdle();
    const rest = this.#o.tap.end();
    if (this.#committed && rest.length > 0) this.#send(rest, () => done());
    else done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#stopKeepalive();
    this.#stopIdle();
    done(error);
  }

  /** Sends what was held: the stream ended (or failed) before any output but with something worth showing. */
  commitHeld(): void {
    if (!this.#committed) this.#commit();
  }

  /** Commits with `text` instead of what was held (an upstream failure before output, answered in other words). */
  commitReplacing(text: string): void {
    if (this.#committed) return;
    this.#held = [text];
    this.#commit();
  }

  #commit(): void {
    this.#committed = true;
    this.#o.onCommit();
    startEventStream(this.#o.res, this.#o.headers());
    const held = this.#held;
    this.#held = [];
    for (const part of held) this.#send(part, () => {});
  }

  #send(data: Buffer | string, done: () => void): void {
    if (data.length === 0 || this.#o.clientGone() || this.#o.res.writableEnded) {
      done();
      return;
    }
    this.#atFrameEnd = endsFrame(data);
    this.#armKeepalive();
    if (this.#o.res.write(data)) done();
    else {
      const resume = () => {
        this.#o.res.off("close", resume);
        this.#o.res.off("drain", resume);
        done();
      };
      this.#o.res.once("drain", resume);
      this.#o.res.once("close", resume);
    }
  }

  #armKeepalive(): void {
    this.#stopKeepalive();
    this.#keepalive = setTimeout(() => {
      if (this.#atFrameEnd && !this.#o.clientGone() && !this.#o.res.writableEnded) {
        this.#o.res.write(": keepalive\n\n");
        this.#armKeepalive();
      }
    }, this.#o.keepaliveMs);
    this.#keepalive.unref();
  }

  #armIdle(): void {
    this.#stopIdle();
    this.#idle = setTimeout(() => {
      this.#idledOut = true;
      this.#o.onIdle();
    }, this.#o.idleTimeoutMs);
    this.#idle.unref();
  }

  #stopIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
  }

  #stopKeepalive(): void {
    if (this.#keepalive) clearTimeout(this.#keepalive);
    this.#keepalive = null;
  }
}

/** A `response.failed` or an in-band `error`: an ending that is not an answer. */
export function isFailure(terminal: SseTerminal): boolean {
  return terminal.kind === "failed" || terminal.kind === "error";
}

/** Whether a chunk ends exactly at an event boundary (a blank line), so a comment may follow. */
function endsFrame(data: Buffer | string): boolean {
  const n = data.length;
  if (typeof data === "string") return data.endsWith("\n\n") || data.endsWith("\r\n\r\n");
  return n >= 2 && data[n - 1] === 0x0a && (data[n - 2] === 0x0a || (n >= 4 && data[n - 3] === 0x0a));
}

/** Collects a body up to `limit` bytes (an upstream error, or a non-stream answer); the rest is read and dropped. */
export class BodyCollector extends Writable {
  readonly #chunks: Buffer[] = [];
  #size = 0;

  constructor(private readonly limit: number) {
    super();
  }

  /** When the upstream last sent something (performance.now()). */
  lastWriteAt = 0;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lastWriteAt = performance.now();
    if (this.#size < this.limit) {
      const part = chunk.subarray(0, this.limit - this.#size);
      this.#chunks.push(part);
      this.#size += part.length;
    }
    done();
  }

  get body(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }
}
