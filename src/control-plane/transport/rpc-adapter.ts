import type { Http2ServerRequest } from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  type Interceptor,
} from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { Logger } from "../../shared/logger.js";
import { answerUndecodableAsInvalid } from "./decode-failures.js";
import type { NodeHandler } from "./preface-sniffer.js";
import {
  answerWithError,
  type NodeRequest,
  type NodeResponse,
  protocolOf,
  requestPath,
} from "./rpc-refusal.js";
import { dropRequestBody } from "./unread-body.js";

/** Options for {@link createRpcAdapter}. */
export interface RpcAdapterOptions {
  routes: (router: ConnectRouter) => void;
  /** Outermost first. */
  interceptors: Interceptor[];
  /** Serves every path that is not an RPC. */
  fallback: NodeHandler;
  log: Logger;
}

/**
 * connect-node's `connectNodeAdapter`, built from the same public pieces, with what a port anyone can reach needs
 * besides: a request without an authority (HTTP/1.0 without Host) is answered INVALID_ARGUMENT instead of throwing
 * out of the request listener (which ended the process); an undecodable unary request is answered
 * INVALID_ARGUMENT, not INTERNAL (decode-failures.ts); a failed answer is logged through the logger, not
 * console.error.
 */
export function createRpcAdapter(options: RpcAdapterOptions): NodeHandler {
  const router = createConnectRouter({
    interceptors: options.interceptors,
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, answerUndecodableAsInvalid(h)]));
  return (req, res) => {
    const handler = handlers.get(requestPath(req));
    if (handler === undefined) {
      if ("stream" in req) dropRequestBody(req);
      options.fallback(req, res);
      return;
    }
    if (authorityOf(req) === undefined) {
      answerWithError(req, res, new ConnectError("missing Host header", Code.InvalidArgument));
      return;
    }
    if (handler.method.methodKind === "bidi_streaming" && req.httpVersion.startsWith("1.")) {
      answerBidiOverHttp1(req, res);
      return;
    }
    handler(universalRequestFromNodeRequest(req, res, undefined, undefined))
      .then((answer) => universalResponseToNodeResponse(dropRestOfRequest(answer, req), res))
      .catch((reason: unknown) => {
        const err = ConnectError.from(reason);
        // Aborted: the client went away or the stream was reset; there is nobody left to answer.
        if (err.code === Code.Aborted) return;
        options.log.warn({ procedure: handler.requestPath, error: err.message }, "rpc answer failed");
      });
  };
}

/**
 * A bidirectional stream needs HTTP/2. Connect answers HTTP 505, which its own clients read as UNKNOWN; this
 * answers UNIMPLEMENTED in the call's protocol instead (still closing the connection, so a client that expected
 * full duplex does not hang), and 415 to a content type no streaming protocol uses, as Connect would.
 */
function answerBidiOverHttp1(req: NodeRequest, res: NodeResponse): void {
  if (protocolOf(req.headers["content-type"]) !== "connect-unary") {
    answerWithError(req, res, new ConnectError("bidirectional streaming needs HTTP/2", Code.Unimplemented));
    return;
  }
  res.writeHead(415, { connection: "close" });
  res.end();
}

/**
 * The answer, dropping (over HTTP/2) whatever is left of the request once the answer's body is complete: the call
 * is over then, and Connect may have stopped reading early (unread-body.ts). Over HTTP/1.1 node does it.
 */
function dropRestOfRequest(answer: UniversalServerResponse, req: NodeRequest): UniversalServerResponse {
  if (!("stream" in req)) return answer;
  if (answer.body === undefined) {
    dropRequestBody(req);
    return answer;
  }
  return { ...answer, body: thenDrop(answer.body, req) };
}

async function* thenDrop(
  body: AsyncIterable<Uint8Array>,
  req: Http2ServerRequest,
): AsyncGenerator<Uint8Array> {
  yield* body;
  dropRequestBody(req);
}

/** Where the request was sent, exactly as connect-node derives it (which throws when it is undefined). */
function authorityOf(req: NodeRequest): string | undefined {
  return "authority" in req ? req.authority : req.headers.host;
}
