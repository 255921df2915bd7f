import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { GatewayService } from "../../gen/switchyard/v1/gateway_pb.js";
import type { ControlPlaneClientTls } from "../../shared/config.js";
import { type ControlPlaneEndpoint, endpointUrl } from "../../shared/control-plane-target.js";
import type { ReplicaConnection } from "./control-plane-pool.js";

/** How a data plane talks to one replica: gRPC over HTTP/2, its token, keepalive pings (DESIGN.md §3a). */
export interface ReplicaConnectionOptions {
  token: string;
  tls: ControlPlaneClientTls;
  /** The name a TLS replica's certificate must carry. */
  serverName: string;
}

/**
 * A GatewayService client of one replica over its own HTTP/2 session: pinged every second and dropped after 2 s
 * of silence, so a frozen or partitioned replica is noticed; no compression (inside a cluster it costs more than it
 * saves); TLS verified against the CA file and server name when the endpoint uses TLS.
 */
export function connectReplica(
  endpoint: ControlPlaneEndpoint,
  options: ReplicaConnectionOptions,
): ReplicaConnection {
  const url = endpointUrl(endpoint);
  const sessionManager = new Http2SessionManager(
    url,
    { pingIntervalMs: 1_000, pingTimeoutMs: 2_000, pingIdleConnection: true },
    endpoint.tls ? tlsOptions(options) : {},
  );
  const transport = createGrpcTransport({
    baseUrl: url,
    sessionManager,
    acceptCompression: [],
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${options.token}`);
        return next(req);
      },
    ],
  });
  return { client: createClient(GatewayService, transport), close: () => sessionManager.abort() };
}

function tlsOptions(options: ReplicaConnectionOptions): SecureClientSessionOptions {
  const { tls } = options;
  return {
    servername: options.serverName,
    ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
    ...(tls.certFile ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}),
  };
}
