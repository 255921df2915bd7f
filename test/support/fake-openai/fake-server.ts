import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { answerApi, resolveEndpoint, takesJsonBody } from "./api-routes.js";
import { answerControl } from "./control-routes.js";
import type { FakeState } from "./fake-state.js";
import { type Exchange, openExchange, sendJson } from "./http-reply.js";
import { openAIErrorBody } from "./openai-error.js";
import { bearerKey, flattenHeaders, isJsonObject, parseBody, pathOf, readBodyText } from "./request-body.js";
import { parseBehaviour, ScriptShapeError } from "./script-parse.js";
import type { Behaviour } from "./types.js";

const CONTROL_PREFIX = "/__fake/";

/** The behaviour from `x-fake-script` (which wins over rules), else from the first matching rule. */
function chooseBehaviour(
  state: FakeState,
  exchange: Exchange,
  apiKey: string | null,
  path: string,
  body: Record<string, unknown>,
): Behaviour | undefined {
  const header = exchange.req.headers["x-fake-script"];
  if (typeof header === "string") return parseBehaviour(JSON.parse(header));
  const model = typeof body.model === "string" ? body.model : undefined;
  return state.book.take({ apiKey, model, path });
}

async function answerRequest(
  state: FakeState,
  exchange: Exchange,
  path: string,
  text: string,
): Promise<void> {
  const { req } = exchange;
  const apiKey = bearerKey(req.headers.authorization);
  const body = parseBody(text);
  if (state.recordRequests) {
    const headers = flattenHeaders(req.headers);
    const method = req.method ?? "GET";
    state.traffic.record({ method, path, headers, body: body.value, apiKey, receivedAt: exchange.arrivedAt });
  }
  const endpoint = resolveEndpoint(req.method, path);
  if (endpoint === undefined) {
    const error = { message: `Invalid URL (${req.method} ${path})`, code: null };
    return sendJson(exchange, 404, openAIErrorBody(404, error));
  }
  const jsonBody = isJsonObject(body.value) ? body.value : undefined;
  if (takesJsonBody(endpoint) && jsonBody === undefined) {
    const message = "We could not parse the JSON body of your request. The OpenAI API expects a JSON object.";
    return sendJson(exchange, 400, openAIErrorBody(400, { message }));
  }
  let behaviour: Behaviour | undefined;
  try {
    behaviour = chooseBehaviour(state, exchange, apiKey, path, jsonBody ?? {});
  } catch (error) {
    if (!(error instanceof ScriptShapeError || error instanceof SyntaxError)) throw error;
    return sendJson(
      exchange,
      400,
      openAIErrorBody(400, { message: `invalid x-fake-script: ${error.message}` }),
    );
  }
  await answerApi(exchange, endpoint, jsonBody ?? {}, behaviour);
}

/** A bug in the fake must still produce an answer (or a closed socket), never a hung request. */
function failExchange(exchange: Exchange, error: unknown): void {
  if (exchange.closed) return;
  if (exchange.res.headersSent) {
    exchange.res.destroy();
    return;
  }
  const message = `fake upstream failure: ${error instanceof Error ? error.message : String(error)}`;
  sendJson(exchange, 500, openAIErrorBody(500, { message }));
}

function handle(state: FakeState, req: IncomingMessage, res: ServerResponse): void {
  const path = pathOf(req.url);
  if (path.startsWith(CONTROL_PREFIX)) {
    const exchange = openExchange(req, res);
    answerControl(state, exchange, path).catch((error: unknown) => failExchange(exchange, error));
    return;
  }
  state.traffic.begin();
  const exchange = openExchange(req, res, () => state.traffic.end());
  readBodyText(req)
    .then((text) => answerRequest(state, exchange, path, text))
    .catch((error: unknown) => failExchange(exchange, error));
}

/** An HTTP server answering as the fake upstream over `state`; not yet listening. */
export function createFakeServer(state: FakeState): Server {
  const server = createServer((req, res) => handle(state, req, res));
  // A stalled answer is meant to hang until the client gives up; Node's own timeouts must not end it first.
  server.requestTimeout = 0;
  return server;
}
