import { StringDecoder } from "node:string_decoder";
import { createParser, type EventSourceParser } from "eventsource-parser";
import { isJsonObject, type JsonObject, parseJsonOrUndefined } from "../json-shape.js";

/** One Responses stream event: its type (the SSE `event:` name, else the data's `type`) and its data object. */
export interface CodexEvent {
  readonly type: string;
  readonly data: JsonObject;
}

/** Reads SSE bytes into Responses events; frames whose data is not a JSON object are skipped. */
export class CodexEventReader {
  readonly #decoder = new StringDecoder("utf8");
  readonly #parser: EventSourceParser;
  #pending: CodexEvent[] = [];

  constructor() {
    this.#parser = createParser({
      onEvent: (message) => {
        const data = parseJsonOrUndefined(message.data);
        if (!isJsonObject(data)) return;
        const type = message.event ?? (typeof data.type === "string" ? data.type : "");
        this.#pending.push({ type, data });
      },
    });
  }

  /** The events completed by this chunk. */
  feed(chunk: Buffer | string): CodexEvent[] {
    this.#parser.feed(typeof chunk === "string" ? chunk : this.#decoder.write(chunk));
    return this.#take();
  }

  /** The events completed by the end of the stream. */
  end(): CodexEvent[] {
    const rest = this.#decoder.end();
    if (rest !== "") this.#parser.feed(rest);
    this.#parser.feed("\n\n");
    return this.#take();
  }

  #take(): CodexEvent[] {
    const events = this.#pending;
    this.#pending = [];
    return events;
  }
}

/** Terminal Responses events and how they end a response. */
export const TERMINAL_EVENTS: ReadonlyMap<string, "completed" | "incomplete" | "failed"> = new Map([
  ["response.completed", "completed"],
  ["response.incomplete", "incomplete"],
  ["response.failed", "failed"],
]);

/**
 * What a Codex stream has said so far: the response object of its latest lifecycle event, the finished output items
 * in order, and how it ended. Enough to rebuild the final `response` for a client that did not stream.
 */
export class CodexResponseState {
  response: JsonObject | null = null;
  readonly items = new Map<number, JsonObject>();
  ended: "completed" | "incomplete" | "failed" | "error" | null = null;
  error: JsonObject | null = null;

  see(event: CodexEvent): void {
    const { type, data } = event;
    if (isJsonObject(data.response)) this.response = data.response;
    if (type === "response.output_item.done" && isJsonObject(data.item)) {
      const index = typeof data.output_index === "number" ? data.output_index : this.items.size;
      this.items.set(index, data.item);
    }
    const terminal = TERMINAL_EVENTS.get(type);
    if (terminal) this.ended = terminal;
    if (type === "error") {
      this.ended = "error";
      this.error = data;
    }
  }

  /** The final response with its output (the terminal event's own, else the items seen), named as the client did. */
  finalResponse(clientModel: string): JsonObject | null {
    if (this.response === null || this.ended === null || this.ended === "error") return null;
    const response: JsonObject = { ...this.response, model: clientModel };
    const output = response.output;
    if (!Array.isArray(output) || output.length === 0)
      response.output = [...this.items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
    return response;
  }
}
