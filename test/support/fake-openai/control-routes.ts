import type { FakeState } from "./fake-state.js";
import { resetFakeState } from "./fake-state.js";
import { type Exchange, sendJson } from "./http-reply.js";
import { openAIErrorBody } from "./openai-error.js";
import { readBodyText } from "./request-body.js";
import { parseScriptRule, ScriptShapeError } from "./script-parse.js";

/** Adds the rule (or array of rules) in the body, all or none. */
async function addScripts(state: FakeState, exchange: Exchange): Promise<void> {
  const text = await readBodyText(exchange.req);
  try {
    const value: unknown = JSON.parse(text);
    const rules = Array.isArray(value) ? value.map(parseScriptRule) : [parseScriptRule(value)];
    for (const rule of rules) state.book.add(rule);
    sendJson(exchange, 201, { rules: state.book.size });
  } catch (error) {
    if (!(error instanceof ScriptShapeError || error instanceof SyntaxError)) throw error;
    sendJson(exchange, 400, openAIErrorBody(400, { message: `invalid script: ${error.message}` }));
  }
}

/**
 * Serves the `/__fake/*` endpoints through which another process scripts and inspects the fake:
 * `POST scripts`, `POST reset`, `GET requests`, `GET stats`.
 */
export async function answerControl(state: FakeState, exchange: Exchange, path: string): Promise<void> {
  const route = `${exchange.req.method} ${path}`;
  switch (route) {
    case "POST /__fake/scripts":
      return addScripts(state, exchange);
    case "POST /__fake/reset":
      resetFakeState(state);
      return sendJson(exchange, 200, { ok: true });
    case "GET /__fake/requests":
      return sendJson(exchange, 200, state.traffic.requests);
    case "GET /__fake/stats":
      return sendJson(exchange, 200, state.traffic.stats());
    default:
      return sendJson(exchange, 404, openAIErrorBody(404, { message: `no control endpoint ${route}` }));
  }
}
