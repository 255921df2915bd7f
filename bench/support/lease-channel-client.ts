import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { LeaseChannel } from "../../src/data-plane/control/lease-channel.js";
import { GatewayService } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../../src/shared/logger.js";

const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });

/** The data plane's lease channel (batched operations on one gRPC stream) to `url`, started. */
export function leaseChannelTo(url: string, token: string): LeaseChannel {
  const transport = createGrpcTransport({
    baseUrl: url,
    acceptCompression: [],
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  const channel = new LeaseChannel({
    client: createClient(GatewayService, transport),
    instanceId: `bench-${randomBytes(3).toString("hex")}`,
    version: "bench",
    log,
  });
  channel.start();
  return channel;
}
