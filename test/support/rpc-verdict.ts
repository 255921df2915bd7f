import { gunzipSync } from "node:zlib";
import type { RawAnswer } from "./raw-rpc-client.js";

/** The status a raw answer carries, read the way each protocol's client would read it. */
export interface RpcVerdict {
  /** How the answer was framed (from its content-type). */
  framing: "grpc" | "grpc-web" | "connect-stream" | "connect-unary" | "plain" | "none";
  httpStatus: number;
  /** grpc-status, from trailers, headers or a gRPC-Web trailer frame. */
  grpcStatus?: number;
  /** The Connect error code, from a unary JSON error or an end-stream message. */
  connectCode?: string;
}

/** Whether a verdict means the server failed rather than refused: HTTP 5xx, gRPC UNKNOWN/INTERNAL, Connect the same. */
export function isServerFailure(v: RpcVerdict): boolean {
  return (
    v.httpStatus >= 500 ||
    v.grpcStatus === 2 ||
    v.grpcStatus === 13 ||
    v.connectCode === "unknown" ||
    v.connectCode === "internal"
  );
}

/** Reads the status out of an answer. */
export function readVerdict(answer: RawAnswer): RpcVerdict {
  const type = answer.headers["content-type"] ?? "";
  const httpStatus = answer.status;
  if (httpStatus === 0) return { framing: "none", httpStatus };
  const body = decoded(answer);
  if (type.startsWith("application/grpc-web")) {
    const fromHeader = answer.headers["grpc-status"];
    const trailer = envelopes(body).find((e) => (e.flags & 0x80) !== 0);
    const fromTrailer = trailer && /grpc-status:\s*(\d+)/i.exec(trailer.data.toString("latin1"))?.[1];
    return { framing: "grpc-web", httpStatus, ...grpcStatusOf(fromHeader ?? fromTrailer) };
  }
  if (type.startsWith("application/grpc")) {
    const status = answer.trailers["grpc-status"] ?? answer.headers["grpc-status"];
    return { framing: "grpc", httpStatus, ...grpcStatusOf(status) };
  }
  if (type.startsWith("application/connect+")) {
    const end = envelopes(body).find((e) => (e.flags & 0x02) !== 0);
    const data = end && (end.flags & 0x01) !== 0 ? gunzipOrEmpty(end.data) : end?.data;
    return { framing: "connect-stream", httpStatus, ...connectCodeOf(data) };
  }
  if (type.startsWith("application/json") && httpStatus !== 200) {
    return { framing: "connect-unary", httpStatus, ...connectCodeOf(body) };
  }
  return { framing: "plain", httpStatus };
}

function grpcStatusOf(value: string | undefined): { grpcStatus?: number } {
  return value === undefined ? {} : { grpcStatus: Number(value) };
}

/** The `code` of a Connect error JSON (`{"code": …}` or an end-stream `{"error": {"code": …}}`). */
function connectCodeOf(json: Buffer | undefined): { connectCode?: string } {
  if (json === undefined || json.length === 0) return {};
  try {
    const parsed = JSON.parse(json.toString("utf8")) as { code?: unknown; error?: { code?: unknown } };
    const code = parsed.error?.code ?? parsed.code;
    return typeof code === "string" ? { connectCode: code } : {};
  } catch {
    return { connectCode: "unparsable" };
  }
}

/** The body, gunzipped when the answer says so (error bodies are only compressed when large). */
function decoded(answer: RawAnswer): Buffer {
  const encoding = answer.headers["content-encoding"];
  return encoding === "gzip" ? gunzipOrEmpty(answer.body) : answer.body;
}

function gunzipOrEmpty(data: Buffer): Buffer {
  try {
    return gunzipSync(data);
  } catch {
    return Buffer.alloc(0);
  }
}

/** The length-prefixed messages of a streaming body; stops at the first frame that does not fit. */
function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const flags = body.readUInt8(at);
    const length = body.readUInt32BE(at + 1);
    if (at + 5 + length > body.length) break;
    out.push({ flags, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}
