import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  createEndStreamSerialization,
  endStreamFlag,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { NodeHandler } from "./preface-sniffer.js";
import { dropRequestBody } from "./unread-body.js";

/** A request of either HTTP version, as node's servers hand it to a request listener. */
export type NodeRequest = Parameters<NodeHandler>[0];
/** A response of either HTTP version. */
export type NodeResponse = Parameters<NodeHandler>[1];

/** The RPC protocols a request's content-type names; anything unrecognised is answered as a Connect unary call. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect-stream" | "connect-unary";

/** The path without the query string: what Connect matches procedures on. */
export function requestPath(req: NodeRequest): string {
  return (req.url ?? "").split("?", 1)[0] ?? "";
}

/** Which protocol a request speaks, from its content-type (as Connect's own protocol negotiation reads it). */
export function protocolOf(contentType: string | undefined): RpcProtocol {
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  if (type.startsWith("application/connect+")) return "connect-stream";
  return "connect-unary";
}

/**
 * Answers a call with `error`, in the wire format of the request's protocol, without reading the request body:
 * gRPC and gRPC-Web get a trailers-only answer (HTTP 200, grpc-status in the headers), a Connect stream its
 * end-stream message, a Connect unary call the HTTP status and JSON error body. Each client library then surfaces
 * the error's code as if the router had answered.
 *
 * The unread body must not pile up: over HTTP/1.1 the answer says `Connection: close`, and node's server closes
 * the connection once it is written; over HTTP/2 what the client still sends is read and dropped, and the
 * connection closed past a bound (unread-body.ts).
 */
export function answerWithError(req: NodeRequest, res: NodeResponse, error: ConnectError): void {
  const contentType = req.headers["content-type"] ?? "";
  const answer = errorAnswer(protocolOf(contentType), contentType, error);
  const { status, headers } = answer;
  // An answer to HEAD has no body, whatever its length says.
  const body = req.method === "HEAD" ? new Uint8Array(0) : answer.body;
  if ("stream" in req) {
    // The client may have reset the stream already; answering it then would throw out of the request listener.
    if (req.stream.destroyed || req.stream.closed || req.stream.headersSent) return;
    dropRequestBody(req);
    // The stream API, not the compatibility one: a gRPC trailers-only answer must be one HEADERS frame that ends
    // the stream, and the compatibility API sends an empty DATA frame after it.
    req.stream.respond({ ":status": status, ...headers }, { endStream: body.byteLength === 0 });
    if (body.byteLength > 0) req.stream.end(body);
    return;
  }
  // node's server ends and destroys a `Connection: close` connection once the answer is written, discarding
  // whatever of the body it reads meanwhile.
  res.writeHead(status, {
    ...headers,
    "content-length": String(answer.body.byteLength),
    connection: "close",
  });
  res.end(body);
}

interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

const endStream = createEndStreamSerialization({});

function errorAnswer(protocol: RpcProtocol, contentType: string, error: ConnectError): ErrorAnswer {
  // A client checks that the answer uses the codec it asked for.
  const codec = contentType.toLowerCase().endsWith("+json") ? "json" : "proto";
  switch (protocol) {
    case "grpc":
    case "grpc-web": {
      const headers: Record<string, string> = { "content-type": `application/${protocol}+${codec}` };
      setTrailerStatus(new Headers(), error).forEach((value, name) => {
        headers[name] = value;
      });
      return { status: 200, headers, body: new Uint8Array(0) };
    }
    case "connect-stream":
      return {
        status: 200,
        headers: { "content-type": `application/connect+${codec}` },
        body: encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: new Headers(), error })),
      };
    case "connect-unary":
      return {
        status: codeToHttpStatus(error.code),
        headers: { "content-type": "application/json" },
        body: errorToJsonBytes(error, {}),
      };
  }
}
