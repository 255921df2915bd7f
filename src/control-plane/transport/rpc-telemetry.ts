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
 * Records every RPC: a counter by procedure and status code, a latency histogram for unary calls, and one line per
 * failed call (procedure, code, duration, message; never headers, so never tokens) — at warn for the server's own
 * faults, at debug for the caller's (a bad token, a bad request, a cancelled stream). Errors leave as ConnectErrors
 * with the Failure detail (`toConnectError`), so an implementation may simply throw a SwitchyardError.
 */
export function createRpcTelemetry(options: RpcTelemetryOptions): RpcTelemetry {
  const { calls, latency } = rpcMetrics(options.registry);
  const record = (
    procedure: string,
    stream: boolean,
    started: number,
    err: unknown,
  ): ConnectError | undefined => {
    const wire = err === undefined ? undefined : toConnectError(err);
    const code = wire === undefined ? "OK" : Code[wire.code];
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    calls.inc({ procedure, code });
    if (!stream) latency.observe({ procedure, code }, durationMs / 1000);
    if (wire !== undefined) {
      // The caller's own faults (bad token, bad request, not found, shutting down…) are counted, not logged at warn:
      // a flood of unauthenticated calls must not flood the log.
      const level = SERVER_FAULTS.has(wire.code) ? "warn" : "debug";
      // The original message, not the client-facing one: an INTERNAL error's cause is what an operator needs.
      const error = err instanceof Error ? err.message : String(err);
      options.log[level]({ procedure, code, durationMs, error }, "rpc failed");
    }
    return wire;
  };
  const interceptor: Interceptor = (next) => async (req) => {
    const started = performance.now();
    const procedure = `/${req.service.typeName}/${req.method.name}`;
    const finish = (err: unknown) => record(procedure, req.stream, started, err);
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
      record(
        `/${method.parent.typeName}/${method.name}`,
        method.methodKind !== "unary",
        performance.now(),
        error,
      );
    },
  };
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

/** The RPC metrics, registered once per registry (a second server on the same registry shares them). */
function rpcMetrics(registry: Registry): {
  calls: Counter<"procedure" | "code">;
  latency: Histogram<"procedure" | "code">;
} {
  const callsName = "switchyard_control_plane_rpcs_total";
  const latencyName = "switchyard_control_plane_rpc_duration_seconds";
  const calls =
    (registry.getSingleMetric(callsName) as Counter<"procedure" | "code"> | undefined) ??
    new Counter({
      name: callsName,
      help: "RPCs handled by the control plane, by procedure and final status code.",
      labelNames: ["procedure", "code"],
      registers: [registry],
    });
  const latency =
    (registry.getSingleMetric(latencyName) as Histogram<"procedure" | "code"> | undefined) ??
    new Histogram({
      name: latencyName,
      help: "Latency of unary control-plane RPCs.",
      labelNames: ["procedure", "code"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  return { calls, latency };
}
