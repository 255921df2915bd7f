import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.js";
import { ErrorCode, SwitchyardError, toConnectError } from "../../shared/errors.js";

/** Whether the control plane can serve (stores reachable, migrations done); may be async. */
export type Readiness = () => boolean | Promise<boolean>;

/** Options for {@link createHealthService}. */
export interface HealthOptions {
  readiness: Readiness;
  /** Service names a probe may ask about besides "" (the whole server). */
  services: readonly string[];
  /** How often a Watch re-evaluates readiness. */
  watchIntervalMs: number;
  /** Aborted when the server starts shutting down: from then on every service reports NOT_SERVING. */
  shutdownSignal: AbortSignal;
}

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus;

/**
 * grpc.health.v1.Health for Kubernetes probes and load balancers. Every known service shares the server's
 * readiness; a readiness callback that throws counts as not ready.
 */
export function createHealthService(options: HealthOptions): ServiceImpl<typeof Health> {
  const known = new Set(["", ...options.services]);
  const status = async (service: string): Promise<HealthCheckResponse_ServingStatus> => {
    if (!known.has(service)) return SERVICE_UNKNOWN;
    if (options.shutdownSignal.aborted) return NOT_SERVING;
    try {
      return (await options.readiness()) ? SERVING : NOT_SERVING;
    } catch {
      return NOT_SERVING;
    }
  };
  return {
    async check(req): Promise<HealthCheckResponse> {
      const current = await status(req.service);
      if (current === SERVICE_UNKNOWN) {
        throw toConnectError(
          new SwitchyardError(ErrorCode.NOT_FOUND, {
            message: `unknown service "${shortened(req.service)}"`,
          }),
        );
      }
      return create(HealthCheckResponseSchema, { status: current });
    },
    // Sends the current status, then each change; ends (OK) when the call is cancelled or the server closes.
    async *watch(req, ctx) {
      let last: HealthCheckResponse_ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const current = await status(req.service);
        if (current !== last) {
          last = current;
          yield create(HealthCheckResponseSchema, { status: current });
        }
        await sleep(options.watchIntervalMs, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    },
  };
}

/**
 * A name as quoted back in an error: the message travels in a header (grpc-message), and a client may send a name
 * up to the read limit (1 MiB), which no client accepts as a header.
 */
function shortened(name: string): string {
  return name.length <= 200 ? name : `${name.slice(0, 200)}…`;
}
