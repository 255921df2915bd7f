import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  createAsyncIterable,
  encodeEnvelope,
  readAllBytes,
  type UniversalHandler,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

/**
 * What connect-es 2.1 reports as INTERNAL while decoding a request message: protobuf that does not parse, a
 * compressed message without an encoding, compressed bytes that do not decompress. All three are the caller's
 * bytes, so the caller's fault: INVALID_ARGUMENT, as connect-go answers. (JSON that does not parse, bad frames and
 * messages over the read limit already get INVALID_ARGUMENT or RESOURCE_EXHAUSTED.)
 */
const UNDECODABLE =
  /^(parse binary: |received compressed envelope, but do not know how to decompress$|decompression failed$)/;

/** Whether `err` is connect-es's INTERNAL for a request message it could not decode. */
export function isUndecodableRequest(err: unknown): err is ConnectError {
  return err instanceof ConnectError && isUndecodable(err.code, err.rawMessage);
}

function isUndecodable(code: Code, message: string): boolean {
  return code === Code.Internal && UNDECODABLE.test(message);
}

function asInvalidArgument(err: ConnectError): ConnectError {
  return new ConnectError(err.rawMessage, Code.InvalidArgument, err.metadata, undefined, err);
}

/**
 * For streaming calls, whose request messages are decoded while the implementation reads them: an undecodable
 * message reaches the implementation (and telemetry) as INVALID_ARGUMENT.
 */
export function createDecodeFailureInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) return await next(req);
    return await next({ ...req, message: invalidWhenUndecodable(req.message) });
  };
}

async function* invalidWhenUndecodable<T>(messages: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (err) {
    throw isUndecodableRequest(err) ? asInvalidArgument(err) : err;
  }
}

/**
 * For unary calls, whose request message connect-es decodes before any interceptor runs, so the INTERNAL is
 * already in the answer: rewrites that answer's status as INVALID_ARGUMENT, in the protocol's own format (gRPC
 * trailer, gRPC-Web trailer frame, Connect JSON error). Streaming handlers are returned as they are.
 */
export function answerUndecodableAsInvalid(handler: UniversalHandler): UniversalHandler {
  if (handler.method.methodKind !== "unary") return handler;
  const rewriting = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    const type = res.header?.get("content-type") ?? "";
    if (type.startsWith("application/grpc-web")) return { ...res, body: grpcWebBody(res.body) };
    if (type.startsWith("application/grpc")) return { ...res, body: grpcBody(res) };
    if (res.status !== 200 && type.startsWith("application/json")) return await connectUnary(res);
    return res;
  };
  return Object.assign(rewriting, { ...handler });
}

/** gRPC: the status is in the trailers, which the adapter writes after the body. */
async function* grpcBody(res: UniversalServerResponse): AsyncGenerator<Uint8Array> {
  if (res.body !== undefined) yield* res.body;
  const trailer = res.trailer;
  const status = Number(trailer?.get("grpc-status"));
  if (trailer && isUndecodable(status, decodeURIComponent(trailer.get("grpc-message") ?? ""))) {
    trailer.set("grpc-status", String(Code.InvalidArgument));
  }
}

/** gRPC-Web: the status is in the last frame of the body (uncompressed: it is far below the compression size). */
async function* grpcWebBody(body: UniversalServerResponse["body"]): AsyncGenerator<Uint8Array> {
  for await (const chunk of body ?? []) {
    if (chunk[0] !== trailerFlag) {
      yield chunk;
      continue;
    }
    const trailer = trailerParse(chunk.subarray(5));
    const status = Number(trailer.get("grpc-status"));
    if (!isUndecodable(status, decodeURIComponent(trailer.get("grpc-message") ?? ""))) {
      yield chunk;
      continue;
    }
    trailer.set("grpc-status", String(Code.InvalidArgument));
    yield encodeEnvelope(trailerFlag, trailerSerialize(trailer));
  }
}

/** Connect unary: the status is the HTTP status and the JSON error body. */
async function connectUnary(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (res.body === undefined || res.header?.has("content-encoding")) return res;
  const bytes = await readAllBytes(res.body, Number.MAX_SAFE_INTEGER);
  const error = errorFromJsonBytes(bytes, undefined, new ConnectError("", Code.Unknown));
  if (!isUndecodable(error.code, error.rawMessage)) return { ...res, body: createAsyncIterable([bytes]) };
  const body = errorToJsonBytes(asInvalidArgument(error), {});
  const header = new Headers(res.header);
  header.set("content-length", String(body.byteLength));
  return {
    ...res,
    status: codeToHttpStatus(Code.InvalidArgument),
    header,
    body: createAsyncIterable([body]),
  };
}
