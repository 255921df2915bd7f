import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";
import { toConnectError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";

/** Options for {@link createRpcTelemetry}. */
export interface RpcTelemetryOptions {
  log: Logger;
  registry: Registry;
}

/** Where RPC outcomes are recorded: the router's calls through the interceptor, the gate's refusals directly. */
export interface RpcTelemetry {
  interceptor: Interceptor;
  /** Records a call refused before it reached the router (by the token gate), as the interceptor would have. */
  recordRefused(method: DescMethod, error: ConnectError): void;
}

/** Codes that say the server failed, not the caller: worth a warning line each. */
const SERVER_FAULTS: ReadonlySet<Code> = new Set([
  Code.Internal,
  Code.Unknown,
  Code.DataLoss,
  Code.Unimplemented,
]);

/**
 * Records every RPC with the grpc-ecosystem metrics stock gRPC dashboards read (go-grpc-prometheus /
 * grpc-ecosystem/go-grpc-middleware): `grpc_server_started_total`, `grpc_server_handled_total` by service, method,
 * type and code, and `grpc_server_handling_seconds` for unary calls — plus one line per failed call (procedure,
 * code, duration, message; never headers, so never tokens) at warn for the server's own faults, at debug for the
 * caller's (a bad token, a bad request, a cancelled stream). Errors leave as ConnectErrors with the Failure detail
 * (`toConnectError`), so an implementation may simply throw a SwitchyardError.
 */
export function createRpcTelemetry(options: RpcTelemetryOptions): RpcTelemetry {
  const metrics = rpcMetrics(options.registry);
  const record = (method: DescMethod, started: number, err: unknown): ConnectError | undefined => {
    const wire = err === undefined ? undefined : toConnectError(err);
    const code = wire === undefined ? "OK" : GRPC_CODE_NAMES[wire.code];
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    const labels = labelsOf(method);
    metrics.handled.inc({ ...labels, grpc_code: code });
    if (method.methodKind === "unary") metrics.handling.observe(labels, durationMs / 1000);
    if (wire !== undefined) {
      // The caller's own faults (bad token, bad request, not found, shutting down…) are counted, not logged at warn:
      // a flood of unauthenticated calls must not flood the log.
      const level = SERVER_FAULTS.has(wire.code) ? "warn" : "debug";
      // The original message, not the client-facing one: an INTERNAL error's cause is what an operator needs.
      const error = err instanceof Error ? err.message : String(err);
      const procedure = `/${labels.grpc_service}/${labels.grpc_method}`;
      options.log[level]({ procedure, code, durationMs, error }, "rpc failed");
    }
    return wire;
  };
  const interceptor: Interceptor = (next) => async (req) => {
    const started = performance.now();
    metrics.started.inc(labelsOf(req.method));
    const finish = (err: unknown) => record(req.method, started, err);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      throw finish(err);
    }
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    return { ...res, message: observeStream(res.message, finish) };
  };
  return {
    interceptor,
    recordRefused(method, error) {
      metrics.started.inc(labelsOf(method));
      record(method, performance.now(), error);
    },
  };
}

/** gRPC status code names as grpc-ecosystem spells them (`OK`, `InvalidArgument`, …: Connect's enum keys). */
const GRPC_CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Code)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v, k]),
);

const GRPC_TYPES = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
} as const;

type RpcLabels = { grpc_type: string; grpc_service: string; grpc_method: string };

/** Labels per method, built once (methods are a closed set of descriptors). */
const LABELS = new WeakMap<DescMethod, RpcLabels>();

function labelsOf(method: DescMethod): RpcLabels {
  let labels = LABELS.get(method);
  if (labels === undefined) {
    labels = {
      grpc_type: GRPC_TYPES[method.methodKind],
      grpc_service: method.parent.typeName,
      grpc_method: method.name,
    };
    LABELS.set(method, labels);
  }
  return labels;
}

async function* observeStream<T>(
  source: AsyncIterable<T>,
  finish: (err: unknown) => ConnectError | undefined,
): AsyncGenerator<T> {
  let failed = false;
  try {
    yield* source;
  } catch (err) {
    failed = true;
    throw finish(err);
  } finally {
    if (!failed) finish(undefined);
  }
}

type RpcLabelName = keyof RpcLabels;

/** The RPC metrics, registered once per registry (a second server on the same registry shares them). */
function rpcMetrics(registry: Registry): {
  started: Counter<RpcLabelName>;
  handled: Counter<RpcLabelName | "grpc_code">;
  handling: Histogram<RpcLabelName>;
} {
  const labelNames: RpcLabelName[] = ["grpc_type", "grpc_service", "grpc_method"];
  const started =
    (registry.getSingleMetric("grpc_server_started_total") as Counter<RpcLabelName> | undefined) ??
    new Counter({
      name: "grpc_server_started_total",
      help: "Total number of RPCs started on the server.",
      labelNames,
      registers: [registry],
    });
  const handled =
    (registry.getSingleMetric("grpc_server_handled_total") as
      | Counter<RpcLabelName | "grpc_code">
      | undefined) ??
    new Counter({
      name: "grpc_server_handled_total",
      help: "Total number of RPCs completed on the server, regardless of success or failure.",
      labelNames: [...labelNames, "grpc_code"],
      registers: [registry],
    });
  const handling =
    (registry.getSingleMetric("grpc_server_handling_seconds") as Histogram<RpcLabelName> | undefined) ??
    new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Histogram of response latency (seconds) of unary RPCs handled by the server.",
      labelNames,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  return { started, handled, handling };
}
