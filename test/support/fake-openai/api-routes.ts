import { chatCompletionBody, chatCompletionStream, wantsStreamUsage } from "./chat-wire.js";
import { planCompletion } from "./completion-plan.js";
import {
  type Exchange,
  JSON_TYPE,
  pause,
  replyHeaders,
  resetConnection,
  sendBody,
  sendJson,
  trickleBody,
} from "./http-reply.js";
import { openAIErrorBody } from "./openai-error.js";
import { responseBody, responseStream } from "./responses-wire.js";
import { playStream } from "./sse-playback.js";
import type { Behaviour } from "./types.js";

type Json = Record<string, unknown>;

/** The OpenAI endpoints the fake serves. */
export type Endpoint =
  | { kind: "responses" }
  | { kind: "chat-completions" }
  | { kind: "models" }
  | { kind: "model"; id: string };

const MODEL_IDS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o4-mini", "gpt-5"];
const MODEL_CREATED = 1_715_367_049;

function modelObject(id: string): Json {
  return { id, object: "model", created: MODEL_CREATED, owned_by: "system" };
}

/** Maps a method and path (with or without `/v1`) to an endpoint; undefined answers 404. */
export function resolveEndpoint(method: string | undefined, path: string): Endpoint | undefined {
  const route = path.startsWith("/v1/") ? path.slice(3) : path;
  if (method === "POST") {
    if (route === "/responses") return { kind: "responses" };
    if (route === "/chat/completions") return { kind: "chat-completions" };
  } else if (method === "GET") {
    if (route === "/models") return { kind: "models" };
    if (route.startsWith("/models/") && route.length > 8) return { kind: "model", id: route.slice(8) };
  }
  return undefined;
}

/** Endpoints that refuse a body which is not a JSON object. */
export function takesJsonBody(endpoint: Endpoint): boolean {
  return endpoint.kind === "responses" || endpoint.kind === "chat-completions";
}

/**
 * Sends a non-stream success body (trickled when scripted), unless the script stalls or resets the connection
 * after the headers.
 */
function sendSuccess(exchange: Exchange, body: Json, behaviour: Behaviour | undefined): Promise<void> | void {
  if (behaviour?.trickle !== undefined && !exchange.closed) {
    exchange.res.writeHead(200, replyHeaders(exchange, JSON_TYPE, behaviour.headers)).flushHeaders();
    return trickleBody(exchange, JSON.stringify(body), behaviour.trickle);
  }
  const stall = behaviour?.stall;
  const resetAfterHeaders = typeof behaviour?.reset === "object";
  if (stall === undefined && !resetAfterHeaders) {
    sendJson(exchange, 200, body, behaviour?.headers);
    return;
  }
  if (exchange.closed) return;
  exchange.res.writeHead(200, replyHeaders(exchange, JSON_TYPE, behaviour?.headers)).flushHeaders();
  if (resetAfterHeaders && stall === undefined) resetConnection(exchange);
}

/** Sends the scripted error, if the behaviour is one; returns whether it did. */
function sendScriptedError(exchange: Exchange, behaviour: Behaviour): boolean {
  if (behaviour.rawBody !== undefined) {
    const type = behaviour.headers?.["content-type"] ?? JSON_TYPE;
    sendBody(exchange, behaviour.status ?? 200, behaviour.rawBody, type, behaviour.headers);
    return true;
  }
  if (behaviour.error === undefined && (behaviour.status === undefined || behaviour.status < 400))
    return false;
  const status = behaviour.status ?? 400;
  sendJson(exchange, status, openAIErrorBody(status, behaviour.error), behaviour.headers);
  return true;
}

function answerResponses(
  exchange: Exchange,
  body: Json,
  behaviour: Behaviour | undefined,
): Promise<void> | void {
  const model = typeof body.model === "string" ? body.model : "gpt-4o-mini";
  const plan = planCompletion(behaviour);
  if (body.stream === true) return playStream(exchange, responseStream(model, plan, behaviour), behaviour);
  return sendSuccess(exchange, responseBody(model, plan, behaviour), behaviour);
}

function answerChat(exchange: Exchange, body: Json, behaviour: Behaviour | undefined): Promise<void> | void {
  const model = typeof body.model === "string" ? body.model : "gpt-4o-mini";
  const plan = planCompletion(behaviour);
  if (body.stream === true) {
    const script = chatCompletionStream(model, plan, behaviour, wantsStreamUsage(body));
    return playStream(exchange, script, behaviour);
  }
  if (behaviour?.failed !== undefined) {
    const error = { type: "server_error", code: behaviour.failed.code, message: behaviour.failed.message };
    return sendJson(exchange, 500, openAIErrorBody(500, error), behaviour.headers);
  }
  return sendSuccess(exchange, chatCompletionBody(model, plan), behaviour);
}

function answerModels(exchange: Exchange, endpoint: Endpoint, behaviour: Behaviour | undefined): void {
  if (endpoint.kind !== "model") {
    sendSuccess(exchange, { object: "list", data: MODEL_IDS.map(modelObject) }, behaviour);
  } else if (MODEL_IDS.includes(endpoint.id)) {
    sendSuccess(exchange, modelObject(endpoint.id), behaviour);
  } else {
    const error = { message: `The model '${endpoint.id}' does not exist`, code: "model_not_found" };
    sendJson(exchange, 404, openAIErrorBody(404, error), behaviour?.headers);
  }
}

/**
 * Answers an API request as the behaviour says: headers delay, then a before-headers fault, a scripted error, or
 * the endpoint's normal answer (which may still be stalled, cut or reset later).
 */
export async function answerApi(
  exchange: Exchange,
  endpoint: Endpoint,
  body: Json,
  behaviour: Behaviour | undefined,
): Promise<void> {
  if (behaviour !== undefined) {
    if (!(await pause(exchange, behaviour.headersDelayMs ?? 0))) return;
    if (behaviour.reset === "before-headers") return resetConnection(exchange);
    if (behaviour.stall === "before-headers") return;
    if (sendScriptedError(exchange, behaviour)) return;
  }
  switch (endpoint.kind) {
    case "responses":
      return answerResponses(exchange, body, behaviour);
    case "chat-completions":
      return answerChat(exchange, body, behaviour);
    default:
      return answerModels(exchange, endpoint, behaviour);
  }
}
