import { Writable } from "node:stream";
import { isJsonObject } from "../json-shape.js";
import type { ClientWants, HeaderBag, ResponseTranslation } from "../upstream-adapter.js";
import { ChatChunkWriter, chatCompletionOf } from "./chat-response.js";
import { type CodexEvent, CodexEventReader, CodexResponseState } from "./codex-events.js";

/** Text to send on for each event, and once more when the upstream stream ends. */
interface EventTranslator {
  event(event: CodexEvent): string;
  end(): string;
  /**
   * True for one buffered body: a stream cut before its terminal event then has no answer at all, and the attempt
   * fails (before anything reached the client, so it fails over). Streams are judged by the relay instead.
   */
  readonly buffered: boolean;
}

/** Responses events for a streaming Responses client: as they came, with the client's model name. */
function responsesStream(model: string): EventTranslator {
  return {
    event({ type, data }) {
      const out = isJsonObject(data.response) ? { ...data, response: { ...data.response, model } } : data;
      return `event: ${type}\ndata: ${JSON.stringify(out)}\n\n`;
    },
    end: () => "",
    buffered: false,
  };
}

/** The final `response` object for a Responses client that did not stream (nothing when the stream was cut). */
function responsesJson(state: CodexResponseState, model: string): EventTranslator {
  return {
    event: () => "",
    end() {
      const response = state.finalResponse(model);
      if (response !== null) return JSON.stringify(response);
      return state.error ? JSON.stringify({ error: state.error }) : "";
    },
    buffered: true,
  };
}

function chatStream(state: CodexResponseState, model: string): EventTranslator {
  const writer = new ChatChunkWriter(state, model);
  return { event: (e) => writer.write(e), end: () => "", buffered: false };
}

function chatJson(state: CodexResponseState, model: string): EventTranslator {
  return {
    event: () => "",
    end() {
      const completion = chatCompletionOf(state, model);
      return completion === null ? "" : JSON.stringify(completion);
    },
    buffered: true,
  };
}

/**
 * Writes a Codex SSE body into `sink` as the client's wire format. Backpressure is the sink's: each chunk is done
 * when the sink has taken its translation; the end waits for the sink to finish; destroying this destroys the sink
 * (quietly: the error is this stream's, which the pool listens to).
 */
class TranslatingWritable extends Writable {
  readonly #sink: Writable;
  readonly #reader = new CodexEventReader();
  readonly #state: CodexResponseState;
  readonly #translator: EventTranslator;

  constructor(sink: Writable, state: CodexResponseState, translator: EventTranslator) {
    super();
    this.#sink = sink;
    this.#state = state;
    this.#translator = translator;
  }

  #translate(events: CodexEvent[]): string {
    let out = "";
    for (const event of events) {
      this.#state.see(event);
      out += this.#translator.event(event);
    }
    return out;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const out = this.#translate(this.#reader.feed(chunk));
    if (out === "") done();
    else this.#sink.write(Buffer.from(out), (err) => done(err ?? null));
  }

  override _final(done: (error?: Error | null) => void): void {
    const out = this.#translate(this.#reader.end()) + this.#translator.end();
    if (out === "" && this.#translator.buffered) {
      done(new Error("upstream stream ended before a response"));
      return;
    }
    if (out !== "") this.#sink.write(Buffer.from(out));
    this.#sink.end(() => done());
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // Without the error: the caller learns it from this stream; an 'error' on the sink would have no listener.
    if (!this.#sink.destroyed && !this.#sink.writableFinished) this.#sink.destroy();
    done(error);
  }
}

/**
 * The Codex backend always streams Responses events: a streaming Responses client gets them as they are, a chat
 * client gets chat chunks, and a client that did not stream gets one JSON body (the final response, or a
 * `chat.completion`) once the stream has ended.
 */
export function codexResponseTranslation(
  head: { status: number; headers: HeaderBag },
  wants: ClientWants,
): ResponseTranslation {
  const state = new CodexResponseState();
  const translator =
    wants.api === "chat"
      ? wants.stream
        ? chatStream(state, wants.model)
        : chatJson(state, wants.model)
      : wants.stream
        ? responsesStream(wants.model)
        : responsesJson(state, wants.model);
  const contentType = wants.stream ? "text/event-stream; charset=utf-8" : "application/json";
  return {
    head: { status: head.status, headers: { ...head.headers, "content-type": contentType } },
    wrap: (sink) => new TranslatingWritable(sink, state, translator),
  };
}
