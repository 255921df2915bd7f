import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AdminService } from "../../gen/switchyard/v1/admin_pb.js";
import type { AdminClient } from "./command.js";

/** How long one RPC may take before the CLI gives up on it. */
const CALL_TIMEOUT_MS = 30_000;

/** An AdminService client and its HTTP/2 connection (unref'd while idle, so it never keeps the process alive). */
export interface AdminConnection {
  client: AdminClient;
  /**
   * Closes a healthy connection. Not for one whose call failed: aborting a session the peer broke (e.g. a server
   * that does not speak HTTP/2) makes Node emit an unhandled 'error' on it.
   */
  close(): void;
}

/** Opens an AdminService client over gRPC (HTTP/2, h2c for http:// URLs) that sends the admin token on every call. */
export function openAdminConnection(url: string, token: string): AdminConnection {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const sessionManager = new Http2SessionManager(url);
  const transport = createGrpcTransport({
    baseUrl: url,
    sessionManager,
    interceptors: [bearer],
    defaultTimeoutMs: CALL_TIMEOUT_MS,
  });
  return { client: createClient(AdminService, transport), close: () => sessionManager.abort() };
}
