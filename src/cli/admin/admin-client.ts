import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { AdminService } from "../../gen/switchyard/v1/admin_pb.js";
import type { ControlPlaneClientTls } from "../../shared/config.js";
import { resolveControlPlane, serverNameOf } from "../../shared/control-plane-resolver.js";
import { type ControlPlaneEndpoint, parseControlPlaneTarget } from "../../shared/control-plane-target.js";
import { type ControlPlaneConnection, connectControlPlane } from "../../shared/control-plane-transport.js";
import type { AdminClient } from "./command.js";

/** How long one RPC may take before the CLI gives up on it. */
const CALL_TIMEOUT_MS = 30_000;

/** How long one of several replicas has to answer a health check before the next one is tried. */
const PROBE_TIMEOUT_MS = 2_000;

/** Where the CLI finds the control plane and how it proves who it is; read once the command line is accepted. */
export interface AdminTarget {
  /** SWITCHYARD_CONTROL_PLANE_URL: a URL, a comma-separated list of them, or a dns: name. */
  url: string;
  adminToken: string;
  clientTls: ControlPlaneClientTls;
}

/** An AdminService client on one replica's HTTP/2 connection (unref'd while idle: it never keeps the CLI alive). */
export interface AdminConnection {
  client: AdminClient;
  /** The replica in use, as a URL. */
  url: string;
  close(): void;
}

/** No replica of a list or a dns: name answered; `cause` is the last replica's failure. */
export class NoReplicaAnswered extends Error {
  override readonly name = "NoReplicaAnswered";
}

/**
 * Opens an AdminService client over gRPC that sends the admin token on every call. One replica (a URL, or a dns:
 * name with one address) is used as it is: the call itself reports a failure to reach it. Of several, the first
 * whose health check answers within 2 s is used, preferring one that is SERVING; with none, NoReplicaAnswered.
 * Rejects when a dns: name cannot be resolved, and with a ConfigError for a bad TLS file.
 */
export async function openAdminConnection(target: AdminTarget): Promise<AdminConnection> {
  const parsed = parseControlPlaneTarget(target.url);
  const endpoints = await resolveControlPlane(parsed, target.clientTls.enabled);
  const open = (endpoint: ControlPlaneEndpoint): ControlPlaneConnection =>
    connectControlPlane(endpoint, {
      token: target.adminToken,
      tls: target.clientTls,
      serverName: serverNameOf(parsed, endpoint, target.clientTls.servername),
      defaultTimeoutMs: CALL_TIMEOUT_MS,
    });
  const [only, ...others] = endpoints;
  const connection =
    only !== undefined && others.length === 0 ? open(only) : await firstAnswering(endpoints, open);
  return {
    client: createClient(AdminService, connection.transport),
    url: connection.url,
    close: connection.close,
  };
}

/**
 * Tries the replicas in order with a health check (open to any caller, so a wrong token cannot hide a replica);
 * closes every connection but the one returned, which the command's calls then reuse.
 */
async function firstAnswering(
  endpoints: readonly ControlPlaneEndpoint[],
  open: (endpoint: ControlPlaneEndpoint) => ControlPlaneConnection,
): Promise<ControlPlaneConnection> {
  const answered: ControlPlaneConnection[] = [];
  let lastFailure: unknown;
  for (const endpoint of endpoints) {
    const candidate = open(endpoint);
    try {
      const health = createClient(Health, candidate.transport);
      const { status } = await health.check({}, { timeoutMs: PROBE_TIMEOUT_MS });
      if (status === HealthCheckResponse_ServingStatus.SERVING) {
        for (const other of answered) other.close();
        return candidate;
      }
      answered.push(candidate);
    } catch (err) {
      lastFailure = err;
      candidate.close();
    }
  }
  // Replicas that answered but are not ready: the first one's own answer to the command says why.
  const [first, ...rest] = answered;
  for (const other of rest) other.close();
  if (first !== undefined) return first;
  throw new NoReplicaAnswered(`no replica answered within ${PROBE_TIMEOUT_MS / 1000} s`, {
    cause: lastFailure,
  });
}
