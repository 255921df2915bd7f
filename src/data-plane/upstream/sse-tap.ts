import { StringDecoder } from "node:string_decoder";
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import { type Clock, systemClock } from "../../shared/clock.js";
import {
  eventRulesFor,
  type FrameVerdict,
  type SseRuleContext,
  type SseTapState,
  type SseTerminal,
} from "./sse-event-rules.js";
import { frameEnd, replaceFrameData } from "./sse-frames.js";
import type { UpstreamApi } from "./upstream-adapter.js";
import type { TokenUsage } from "./usage.js";

export type { SseTerminal, SseTerminalKind } from "./sse-event-rules.js";

/** How a tap treats one upstream SSE body. */
export interface SseTapOptions {
  readonly api: UpstreamApi;
  /**
   * Rename the model in events so the client sees its own name: `from` is the upstream model the gateway asked
   * for, `to` the client's. Every model value the upstream reports (it may name a dated snapshot of `from`)
   * becomes `to`. Only events that carry a model are re-serialised.
   */
  readonly rewriteModel?: { readonly from: string; readonly to: string };
  /** Drop the final `choices: []` usage chunk the gateway asked for on the client's behalf; its usage still counts. */
  readonly hideChatUsageChunk?: boolean;
  /** Stamps the first content token; defaults to the wall clock. */
  readonly clock?: Clock;
}

type Chunk = Buffer | string;

/**
 * Watches an upstream SSE body on its way to the client. `feed` returns the bytes to send: the chunk itself,
 * untouched, unless events must be dropped or renamed — then whole frames are held until complete and re-emitted
 * byte for byte except for the rewritten data. Meanwhile it records the first content token, the terminal event,
 * usage, the response id and whether any output was produced. Malformed data never throws: it is counted and
 * passed on.
 */
export class SseTap {
  readonly #state: SseTapState = {
    firstTokenAt: undefined,
    terminal: undefined,
    usage: undefined,
    responseId: undefined,
    outputProduced: false,
    events: 0,
    malformed: 0,
  };
  readonly #parser: EventSourceParser;
  readonly #decoder = new StringDecoder("utf8");
  /** Whether frames are held and re-emitted (a rewrite or a hidden chunk) or bytes pass straight through. */
  readonly #reframing: boolean;
  /** Text of the incomplete frame being held (reframing only). */
  #pending = "";
  /**
   * Text with no line break yet, held back from the parser: it re-scans its whole unfinished line on every feed,
   * which makes a multi-megabyte data line (a base64 image) quadratic. Joined once when the line ends.
   */
  #unbroken: string[] = [];
  /** True while everything fed so far has been emitted exactly (no held bytes), so a chunk may be reused. */
  #aligned = true;
  #verdict: FrameVerdict = "keep";

  constructor(options: SseTapOptions) {
    const clock = options.clock ?? systemClock;
    const context: SseRuleContext = {
      state: this.#state,
      rewriteModelTo: options.rewriteModel?.to,
      hideChatUsageChunk: options.api === "chat" && options.hideChatUsageChunk === true,
      now: () => clock.now(),
    };
    const inspect = eventRulesFor(options.api);
    this.#reframing = context.rewriteModelTo !== undefined || context.hideChatUsageChunk;
    this.#parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        this.#state.events++;
        this.#verdict = inspect(message, context);
      },
      onError: () => {
        this.#state.malformed++;
      },
    });
  }

  /** Takes the next upstream chunk; returns what to write to the client (possibly empty, never throws). */
  feed(chunk: Chunk): Chunk {
    const decoded = typeof chunk === "string" ? chunk : this.#decoder.write(chunk);
    if (!hasLineBreak(decoded)) {
      this.#unbroken.push(decoded);
      if (!this.#reframing) return chunk;
      this.#aligned = false;
      return "";
    }
    const text = this.#takeUnbroken(decoded);
    if (!this.#reframing) {
      this.#parser.feed(text);
      return chunk;
    }
    const wasAligned = this.#aligned;
    const buffer = this.#pending + text;
    const hasCr = buffer.includes("\r");
    let out = "";
    let changed = false;
    let pos = 0;
    for (let end = frameEnd(buffer, pos, hasCr); end >= 0; end = frameEnd(buffer, pos, hasCr)) {
      const frame = buffer.slice(pos, end);
      const emitted = this.#emit(frame);
      if (emitted !== frame) changed = true;
      out += emitted;
      pos = end;
    }
    this.#pending = buffer.slice(pos);
    this.#aligned = this.#pending === "" && endsOnCharBoundary(chunk);
    return wasAligned && this.#aligned && !changed ? chunk : out;
  }

  /**
   * The upstream body ended: returns the bytes still held for the client. An event without its closing blank line
   * is not read — SSE clients (the openai SDK included) discard it too, so a stream cut there is not complete.
   */
  end(): string {
    const rest = this.#pending + this.#takeUnbroken(this.#decoder.end());
    this.#pending = "";
    return this.#reframing ? rest : "";
  }

  /** The frame as the client gets it: itself, nothing, or with its data replaced. */
  #emit(frame: string): string {
    // A frame ending in a bare CR is complete (frameEnd saw the next byte), but the parser would wait for a
    // possible LF before dispatching; the LF it gets instead means the same line break.
    this.#parser.feed(frame.charCodeAt(frame.length - 1) === 0x0d ? `${frame}\n` : frame);
    const verdict = this.#takeVerdict();
    if (verdict === "keep") return frame;
    return verdict === "drop" ? "" : replaceFrameData(frame, verdict.data);
  }

  /** The held unbroken text followed by `text`. */
  #takeUnbroken(text: string): string {
    if (this.#unbroken.length === 0) return text;
    this.#unbroken.push(text);
    const joined = this.#unbroken.join("");
    this.#unbroken = [];
    return joined;
  }

  /** The verdict the parser's callback left for the frame just fed ("keep" when it held no event). */
  #takeVerdict(): FrameVerdict {
    const verdict = this.#verdict;
    this.#verdict = "keep";
    return verdict;
  }

  /** Clock time of the first content token (text, tool call, reasoning or refusal delta); undefined before it. */
  get firstTokenAt(): number | undefined {
    return this.#state.firstTokenAt;
  }

  /** The terminal event, if one arrived. */
  get terminal(): SseTerminal | undefined {
    return this.#state.terminal;
  }

  /** Usage from the terminal event (Responses) or the usage chunk (Chat). */
  get usage(): TokenUsage | undefined {
    return this.#state.usage;
  }

  /** `response.id` (Responses) or the chunk `id` (Chat). */
  get responseId(): string | undefined {
    return this.#state.responseId;
  }

  /** Whether any output (a content delta or a finished output item) came through. */
  get outputProduced(): boolean {
    return this.#state.outputProduced;
  }

  /** Whether the stream ended as a finished answer: `response.completed|incomplete`, or `[DONE]` without error. */
  get complete(): boolean {
    const kind = this.#state.terminal?.kind;
    return kind === "completed" || kind === "incomplete" || kind === "done";
  }

  /** Events seen so far. */
  get events(): number {
    return this.#state.events;
  }

  /**
   * Data that was not JSON or lines that were not SSE; passed through all the same. Text deltas after the first
   * token are not parsed (that would double the tap's cost per event), so junk there goes uncounted.
   */
  get malformed(): number {
    return this.#state.malformed;
  }
}

function hasLineBreak(text: string): boolean {
  return text.includes("\n") || text.includes("\r");
}

/** A Buffer ending in an ASCII byte leaves nothing in the UTF-8 decoder, so its text and bytes match exactly. */
function endsOnCharBoundary(chunk: Chunk): boolean {
  if (typeof chunk === "string") return true;
  const last = chunk.at(-1);
  return last === undefined || last < 0x80;
}
