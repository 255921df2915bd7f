import { once } from "node:events";
import * as http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, type ControlPlaneServer } from "../../src/control-plane/server.js";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { AdminService, GetSettingsResponseSchema } from "../../src/gen/switchyard/v1/admin_pb.js";
import type { ControlPlaneClientTls } from "../../src/shared/config.js";
import { connectControlPlane } from "../../src/shared/control-plane-transport.js";
import { createLogger } from "../../src/shared/logger.js";

/** The shared client factory on plaintext endpoints (h2c), as data planes and the CLI use it without TLS. */

const ADMIN_TOKEN = "admin-token-for-client-tests";
const NO_TLS: ControlPlaneClientTls = {
  enabled: false,
  caFile: "",
  servername: "",
  certFile: "",
  keyFile: "",
};

let server: ControlPlaneServer;
let port: number;
beforeAll(async () => {
  server = build({
    admin: { getSettings: () => create(GetSettingsResponseSchema, { settings: { maxAccountSwitches: 4 } }) },
    tokens: { admin: ADMIN_TOKEN, dataPlane: "data-plane-token-for-client-tests" },
    readiness: () => true,
    registry: new Registry(),
    log: createLogger({ level: "silent" }),
    listen: { host: "127.0.0.1", port: 0 },
  });
  ({ port } = await server.listen());
});
afterAll(() => server?.close());

describe("connectControlPlane on an http:// endpoint", () => {
  it("speaks h2c, sends the token on every call, then runs the caller's interceptors", async () => {
    const seen: (string | null)[] = [];
    const recorder: Interceptor = (next) => (req) => {
      seen.push(req.header.get("authorization"));
      return next(req);
    };
    const connection = connectControlPlane(
      { host: "127.0.0.1", port, tls: false },
      { token: ADMIN_TOKEN, tls: NO_TLS, serverName: "127.0.0.1", interceptors: [recorder] },
    );
    try {
      expect(connection.url).toBe(`http://127.0.0.1:${port}`);
      const admin = createClient(AdminService, connection.transport);
      expect((await admin.getSettings({})).settings?.maxAccountSwitches).toBe(4);
      expect((await admin.getSettings({})).settings?.maxAccountSwitches).toBe(4);
      expect(seen).toEqual([`Bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}`]);
    } finally {
      connection.close();
    }
  });

  it("can be closed right after the peer broke the connection, leaving no unhandled error", async () => {
    // A server that answers HTTP/1.1 only: the HTTP/2 session fails as soon as it reads the answer.
    const h1 = http.createServer((_req, res) => res.end("not http/2\n"));
    h1.listen(0, "127.0.0.1");
    await once(h1, "listening");
    const h1Port = (h1.address() as { port: number }).port;
    let socketsClosed = 0;
    h1.on("connection", (socket) => socket.once("close", () => socketsClosed++));
    try {
      for (let i = 0; i < 3; i++) {
        const connection = connectControlPlane(
          { host: "127.0.0.1", port: h1Port, tls: false },
          { token: ADMIN_TOKEN, tls: NO_TLS, serverName: "127.0.0.1", defaultTimeoutMs: 5_000 },
        );
        const failed = await createClient(Health, connection.transport)
          .check({})
          .catch((e: unknown) => ConnectError.from(e));
        expect(failed).toMatchObject({ code: Code.Internal });
        connection.close();
      }
      await expect.poll(() => socketsClosed).toBe(3);
      // The broken session's own 'error' comes a few event-loop turns after its socket closed; vitest fails the
      // run on an unhandled one, so give it those turns.
      await sleep(50);
    } finally {
      h1.close();
    }
  });
});
