import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ChannelRegistry } from "../../src/control-plane/services/channel-registry.js";
import { createChannelHandler } from "../../src/control-plane/services/gateway-channel.js";
import type { GatewayHandlers } from "../../src/control-plane/services/gateway-handlers.js";
import {
  AdmitCancelResultSchema,
  AdmitResponseSchema,
  AuthenticateResponseSchema,
  GatewayService,
  ReleaseResponseSchema,
  RenewResponseSchema,
  ReportUsageResponseSchema,
  RerouteResponseSchema,
} from "../../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../../src/shared/logger.js";

/**
 * The baseline for the lease benchmark: the same channel server and transport, with handlers that answer at once
 * from memory. What the real control plane adds on top of this is the cost of the lease logic itself.
 */
const lease = {
  leaseId: "lse_echo",
  ttlMs: 30_000,
  attempt: 1,
  target: { accountId: "a", baseUrl: "http://x" },
};
const handlers: GatewayHandlers = {
  authenticate: async () => create(AuthenticateResponseSchema, {}),
  admit: async () => create(AdmitResponseSchema, { lease }),
  cancelAdmit: async () => create(AdmitCancelResultSchema, {}),
  reroute: async () => create(RerouteResponseSchema, { lease }),
  renew: async () => create(RenewResponseSchema, {}),
  reassert: async (request) => request.leases.length,
  release: async () => create(ReleaseResponseSchema, { released: true }),
  reportUsage: async () => create(ReportUsageResponseSchema, {}),
};
const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });
const channel = createChannelHandler(handlers, {
  serverId: "echo",
  leaseTtlMs: 30_000,
  maxOutstanding: 100_000,
  registry: new ChannelRegistry(),
  log,
});
const server = http2.createServer(
  connectNodeAdapter({ routes: (router) => router.service(GatewayService, { channel }) }),
);
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
