import * as http from "node:http";
import * as https from "node:https";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The repository's proto/ folder: stock clients read the contract from here, not from generated code. */
const PROTO_ROOT = fileURLToPath(new URL("../../proto/", import.meta.url));

const PROTO_FILES = [
  "switchyard/v1/admin.proto",
  "switchyard/v1/gateway.proto",
  "grpc/health/v1/health.proto",
  "grpc/reflection/v1/reflection.proto",
];

let definition: grpc.GrpcObject | undefined;

/** The contract as a stock grpc-js client sees it: proto-loader, snake_case fields, enums as names. */
function grpcPackage(): grpc.GrpcObject {
  definition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(PROTO_FILES, {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  );
  return definition;
}

/**
 * A grpc-js client for a fully-qualified service name, e.g. "grpc.health.v1.Health", on "127.0.0.1:port";
 * plaintext unless `credentials` say otherwise (with `options` such as grpc.ssl_target_name_override).
 */
export function grpcJsClient(
  service: string,
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): grpc.Client {
  let node: unknown = grpcPackage();
  for (const part of service.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== "function") throw new Error(`no service ${service} in proto/`);
  const Ctor = node as grpc.ServiceClientConstructor;
  return new Ctor(address, credentials, options);
}

/** Metadata carrying `authorization: Bearer <token>`, or none. */
export function bearer(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("authorization", `Bearer ${token}`);
  return md;
}

/** How a grpc-js unary call ended: the status code (0 for OK), its details, and the response on success. */
export interface GrpcOutcome<T> {
  code: grpc.status;
  details: string;
  response: T | undefined;
}

type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

/** Calls a unary method by its proto name (e.g. "GetSettings") and settles with the outcome, never throwing. */
export function grpcUnary<T = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  request: object,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<GrpcOutcome<T>> {
  const fn = methodOf<UnaryMethod>(client, method);
  return new Promise((resolve) => {
    fn.call(client, request, metadata, { deadline: Date.now() + 5_000 }, (err, response) => {
      if (err) resolve({ code: err.code, details: err.details, response: undefined });
      else resolve({ code: grpc.status.OK, details: "", response: response as T });
    });
  });
}

/** Opens a server-streaming call by its proto name (e.g. "Watch"). */
export function grpcServerStream(
  client: grpc.Client,
  method: string,
  request: object,
  metadata: grpc.Metadata = new grpc.Metadata(),
): grpc.ClientReadableStream<unknown> {
  type Method = (req: object, md: grpc.Metadata) => grpc.ClientReadableStream<unknown>;
  return methodOf<Method>(client, method).call(client, request, metadata);
}

/** Opens a bidirectional call by its proto name (e.g. "Channel"). */
export function grpcBidiStream(
  client: grpc.Client,
  method: string,
  metadata: grpc.Metadata = new grpc.Metadata(),
): grpc.ClientDuplexStream<object, unknown> {
  type Method = (md: grpc.Metadata) => grpc.ClientDuplexStream<object, unknown>;
  return methodOf<Method>(client, method).call(client, metadata);
}

/** A generated grpc-js client method, looked up by name (proto-loader clients are untyped). */
function methodOf<F>(client: grpc.Client, method: string): F {
  const fn = (client as unknown as Record<string, F | undefined>)[method];
  if (fn === undefined) throw new Error(`no method ${method}`);
  return fn;
}

/** The status a grpc-js stream ends with, and the messages it delivered before. */
export function streamOutcome<T>(call: grpc.ClientReadableStream<unknown>): Promise<{
  code: grpc.status;
  details: string;
  messages: T[];
}> {
  const messages: T[] = [];
  call.on("data", (m: T) => messages.push(m));
  return new Promise((resolve) => {
    call.on("error", (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details, messages }));
    call.on("status", (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve({ code: s.code, details: s.details, messages });
    });
  });
}

/** The RPC protocols a Connect client can speak. */
export type ConnectProtocol = "grpc" | "connect" | "grpc-web";

/** A Connect client plus the means to close its connections. */
export interface ConnectClientHandle<T extends DescService> {
  client: Client<T>;
  close(): void;
}

/** TLS for a Connect client of an https:// URL: the CA to trust, the name to expect, a client certificate. */
export interface ClientTls {
  ca: Buffer;
  servername?: string;
  cert?: Buffer;
  key?: Buffer;
}

/** A Connect client for `service` at `baseUrl`, sending `authorization: Bearer <token>` when a token is given. */
export function connectClient<T extends DescService>(
  service: T,
  baseUrl: string,
  options: { protocol: ConnectProtocol; httpVersion?: "1.1" | "2"; token?: string; tls?: ClientTls },
): ConnectClientHandle<T> {
  const auth: Interceptor = (next) => async (req) => {
    if (options.token !== undefined) req.header.set("authorization", `Bearer ${options.token}`);
    return await next(req);
  };
  const interceptors = [auth];
  if (options.protocol === "grpc" || options.httpVersion !== "1.1") {
    const sessionManager = new Http2SessionManager(baseUrl, {}, options.tls ?? {});
    const transport =
      options.protocol === "grpc"
        ? createGrpcTransport({ baseUrl, interceptors, sessionManager })
        : options.protocol === "connect"
          ? createConnectTransport({ baseUrl, interceptors, httpVersion: "2", sessionManager })
          : createGrpcWebTransport({ baseUrl, interceptors, httpVersion: "2", sessionManager });
    return { client: createClient(service, transport), close: () => sessionManager.abort() };
  }
  const agent = options.tls
    ? new https.Agent({ keepAlive: true, ...options.tls })
    : new http.Agent({ keepAlive: true });
  const nodeOptions = { agent };
  const transport =
    options.protocol === "connect"
      ? createConnectTransport({ baseUrl, interceptors, httpVersion: "1.1", nodeOptions })
      : createGrpcWebTransport({ baseUrl, interceptors, httpVersion: "1.1", nodeOptions });
  return { client: createClient(service, transport), close: () => agent.destroy() };
}
