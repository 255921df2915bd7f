import type { EventSourceMessage } from "eventsource-parser";
import { isJsonObject, type JsonObject, parseJsonOrUndefined } from "./json-shape.js";
import type { UpstreamApi } from "./upstream-adapter.js";
import { type TokenUsage, tokenUsageOf } from "./usage.js";

/** How an upstream stream ended, when it said so. */
export type SseTerminalKind = "completed" | "incomplete" | "failed" | "error" | "done";

/** The terminal event: Responses `response.completed|incomplete|failed` or `error`; Chat `[DONE]` or an error. */
export interface SseTerminal {
  readonly kind: SseTerminalKind;
  /** For `failed` and `error`: what the upstream said went wrong. */
  readonly error?: { readonly code: string | null; readonly message: string };
}

/** What a tap has learnt so far; filled in by the rules below as events pass. */
export interface SseTapState {
  firstTokenAt: number | undefined;
  terminal: SseTerminal | undefined;
  usage: TokenUsage | undefined;
  responseId: string | undefined;
  outputProduced: boolean;
  events: number;
  malformed: number;
}

/** What to do with the frame that carried an event: keep its bytes, drop it, or send it with this data instead. */
export type FrameVerdict = "keep" | "drop" | { readonly data: string };

/** The per-stream inputs of the rules. */
export interface SseRuleContext {
  readonly state: SseTapState;
  /** The client's model name, when events must carry it instead of the upstream's. */
  readonly rewriteModelTo: string | undefined;
  readonly hideChatUsageChunk: boolean;
  readonly now: () => number;
}

const RESPONSES_TERMINALS: ReadonlyMap<string, SseTerminalKind> = new Map([
  ["response.completed", "completed"],
  ["response.incomplete", "incomplete"],
  ["response.failed", "failed"],
  ["error", "error"],
]);

/** Events whose `response` object carries the id (and the model, which a rewrite must replace). */
const RESPONSE_CARRIERS: ReadonlySet<string> = new Set([
  "response.created",
  "response.in_progress",
  "response.queued",
  "response.completed",
  "response.incomplete",
  "response.failed",
]);

/** A chat chunk that might carry usage (`"usage":{`, not the `"usage":null` every chunk has with include_usage). */
const CHAT_USAGE_OBJECT = /"usage"\s*:\s*\{/;
/** A chat data object with an `error` key: the in-band error shape. Escaped quotes inside strings cannot match. */
const CHAT_ERROR_KEY = /"error"\s*:/;

function markOutput(context: SseRuleContext): void {
  const { state } = context;
  state.outputProduced = true;
  state.firstTokenAt ??= context.now();
}

function nonEmpty(value: unknown): boolean {
  if (typeof value === "string") return value !== "";
  if (Array.isArray(value)) return value.length > 0;
  return isJsonObject(value);
}

function errorOf(value: unknown): SseTerminal["error"] {
  if (!isJsonObject(value)) return { code: null, message: "" };
  // Chat errors often leave `code` null and say it in `type`; a Responses `error` event's type is just "error".
  const type = typeof value.type === "string" && value.type !== "error" ? value.type : null;
  const code = typeof value.code === "string" ? value.code : type;
  return { code, message: typeof value.message === "string" ? value.message : "" };
}

/** Records a terminal; an error ending sticks, so a `[DONE]` after an in-band error cannot make it look clean. */
function recordTerminal(state: SseTapState, terminal: SseTerminal): void {
  const current = state.terminal?.kind;
  if (current === "failed" || current === "error") return;
  state.terminal = terminal;
}

/** Sets `model` on `target` to the client's name; true when that changed anything. */
function rewriteModel(target: JsonObject | undefined, to: string | undefined): boolean {
  if (to === undefined || target === undefined || typeof target.model !== "string" || target.model === to)
    return false;
  target.model = to;
  return true;
}

function responsesNeedsParse(type: string | undefined, data: string, context: SseRuleContext): boolean {
  if (type === undefined || RESPONSES_TERMINALS.has(type)) return true;
  const { state } = context;
  if (state.responseId === undefined && RESPONSE_CARRIERS.has(type)) return true;
  if (state.firstTokenAt === undefined && type.endsWith(".delta")) return true;
  return context.rewriteModelTo !== undefined && data.includes('"model"');
}

/**
 * A Responses event: first content delta, output items, the response id, the terminal event with its usage and
 * error, and the model rewrite. Only events that can change something are JSON-parsed: once the first token is
 * seen, text deltas pass on the event name alone.
 */
export function inspectResponsesEvent(message: EventSourceMessage, context: SseRuleContext): FrameVerdict {
  const { state } = context;
  if (message.event === "response.output_item.done") state.outputProduced = true;
  if (!responsesNeedsParse(message.event, message.data, context)) return "keep";
  const event = parseJsonOrUndefined(message.data);
  if (!isJsonObject(event)) {
    state.malformed++;
    return "keep";
  }
  const type = message.event ?? (typeof event.type === "string" ? event.type : "");
  const response = isJsonObject(event.response) ? event.response : undefined;
  if (response !== undefined && typeof response.id === "string") state.responseId ??= response.id;
  if (type === "response.output_item.done") state.outputProduced = true;
  if (type.endsWith(".delta") && nonEmpty(event.delta)) markOutput(context);
  const terminal = RESPONSES_TERMINALS.get(type);
  if (terminal !== undefined) {
    const usage = tokenUsageOf(response?.usage);
    if (usage !== undefined) state.usage = usage;
    if (terminal === "failed") recordTerminal(state, { kind: terminal, error: errorOf(response?.error) });
    else if (terminal === "error")
      recordTerminal(state, { kind: terminal, error: errorOf(event.error ?? event) });
    else recordTerminal(state, { kind: terminal });
  }
  const rewritten = rewriteModel(response, context.rewriteModelTo);
  return rewriteModel(event, context.rewriteModelTo) || rewritten ? { data: JSON.stringify(event) } : "keep";
}

function chatNeedsParse(data: string, context: SseRuleContext): boolean {
  const { state } = context;
  if (context.rewriteModelTo !== undefined || state.firstTokenAt === undefined) return true;
  if (state.responseId === undefined) return true;
  return CHAT_USAGE_OBJECT.test(data) || CHAT_ERROR_KEY.test(data);
}

function chatDeltaHasOutput(choice: unknown): boolean {
  if (!isJsonObject(choice) || !isJsonObject(choice.delta)) return false;
  const { delta } = choice;
  return (
    nonEmpty(delta.content) ||
    nonEmpty(delta.tool_calls) ||
    nonEmpty(delta.function_call) ||
    nonEmpty(delta.refusal) ||
    nonEmpty(delta.reasoning_content)
  );
}

/**
 * A Chat Completions chunk: first content or tool-call delta, the completion id, the usage chunk (dropped when the
 * gateway asked for it on the client's behalf), `[DONE]`, in-band errors, and the model rewrite. After the first
 * token only chunks that can carry usage or an error are JSON-parsed (unless every chunk needs its model renamed).
 */
export function inspectChatEvent(message: EventSourceMessage, context: SseRuleContext): FrameVerdict {
  const { state } = context;
  const { data } = message;
  if (data === "[DONE]") {
    recordTerminal(state, { kind: "done" });
    return "keep";
  }
  if (!chatNeedsParse(data, context)) return "keep";
  const chunk = parseJsonOrUndefined(data);
  if (!isJsonObject(chunk)) {
    state.malformed++;
    return "keep";
  }
  if (chunk.error !== undefined && chunk.error !== null) {
    recordTerminal(state, { kind: "error", error: errorOf(chunk.error) });
    return "keep";
  }
  if (typeof chunk.id === "string") state.responseId ??= chunk.id;
  const usage = tokenUsageOf(chunk.usage);
  if (usage !== undefined) state.usage = usage;
  const { choices } = chunk;
  if (Array.isArray(choices)) {
    if (state.firstTokenAt === undefined && choices.some(chatDeltaHasOutput)) markOutput(context);
    if (context.hideChatUsageChunk && usage !== undefined && choices.length === 0) return "drop";
  }
  return rewriteModel(chunk, context.rewriteModelTo) ? { data: JSON.stringify(chunk) } : "keep";
}

/** The rules for an API's streams. */
export function eventRulesFor(api: UpstreamApi): typeof inspectChatEvent {
  return api === "chat" ? inspectChatEvent : inspectResponsesEvent;
}
