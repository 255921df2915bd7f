import { Writable } from "node:stream";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withErrorTranslation } from "../../src/control-plane/services/handle-errors.js";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { createLogger } from "../../src/shared/logger.js";
import { type AdminHarness, expectRpcError, startAdminHarness } from "../support/admin-fixtures.js";

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, log: createLogger({ destination }) };
}

describe("the AdminService error boundary", () => {
  it("keeps a SwitchyardError's code and message, and turns anything else into a logged, generic INTERNAL", async () => {
    const { lines, log } = capturedLogger();
    const impl = withErrorTranslation(
      {
        async getUser() {
          throw new SwitchyardError(ErrorCode.NOT_FOUND, { message: "user x not found" });
        },
        async getGroup() {
          throw new Error("connection to 10.0.0.5 refused with password hunter2");
        },
        listUsers() {
          throw new TypeError("synchronous bug");
        },
      },
      log,
    );
    const client = createClient(
      AdminService,
      createRouterTransport(({ service }) => service(AdminService, impl)),
    );
    const notFound = await expectRpcError(client.getUser({ id: "x" }), Code.NotFound);
    expect(notFound.rawMessage).toBe("user x not found");
    const internal = await expectRpcError(client.getGroup({ id: "x" }), Code.Internal);
    expect(internal.rawMessage).toBe("Internal server error");
    expect(internal.rawMessage).not.toContain("hunter2");
    await expectRpcError(client.listUsers({}), Code.Internal);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: "error", rpc: "getGroup", msg: "rpc failed unexpectedly" }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ level: "error", rpc: "listUsers" }));
    await expectRpcError(client.deleteUser({ id: "x" }), Code.Unimplemented);
  });

  it("passes a ConnectError through", async () => {
    const { log } = capturedLogger();
    const impl = withErrorTranslation(
      {
        async getUser(): Promise<never> {
          throw new ConnectError("slow down", Code.ResourceExhausted);
        },
      },
      log,
    );
    const client = createClient(
      AdminService,
      createRouterTransport(({ service }) => service(AdminService, impl)),
    );
    await expectRpcError(client.getUser({}), Code.ResourceExhausted);
  });
});

describe("the AdminService when the database fails", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_errors");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("answers INTERNAL without leaking SQL, and logs the failure without statement parameters", async () => {
    const { user } = await h.client.createUser({ name: "victim" });
    await h.sql("alter table api_keys rename to api_keys_gone");
    const { group } = await h.client.createGroup({ name: "g" });
    const err = await expectRpcError(
      h.client.createApiKey({ userId: user?.id ?? "", groupId: group?.id ?? "" }),
      Code.Internal,
    );
    expect(err.rawMessage).toBe("Internal server error");
    const failure = h.logLines.find((l) => l.msg === "rpc failed unexpectedly");
    expect(failure).toMatchObject({
      rpc: "createApiKey",
      err: { type: "TableNotFoundException", sqlState: "42P01" },
    });
    expect(h.logText()).not.toContain("insert into");
    expect(h.logText()).not.toMatch(/sk-sy-/);
    await h.sql("alter table api_keys_gone rename to api_keys");
  });

  it("lists the lease-backed RPCs as unimplemented", async () => {
    await expectRpcError(h.client.listLeases({}), Code.Unimplemented);
    await expectRpcError(h.client.listStickySessions({}), Code.Unimplemented);
    await expectRpcError(h.client.clearStickySessions({}), Code.Unimplemented);
  });
});
