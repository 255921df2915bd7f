import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Endpoint } from "../../src/gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../../src/shared/api-key.js";
import {
  ADMIN_TOKEN,
  DATA_PLANE_TOKEN,
  seedTenant,
  startTestControlPlane,
} from "../support/control-plane.js";
import { bearer, grpcBidiStream, grpcJsClient, grpcUnary } from "../support/grpc-clients.js";

type ControlPlane = Awaited<ReturnType<typeof startTestControlPlane>>;

/** The composed control plane (real services, PostgreSQL, Redis) as stock tools see it. */
describe("the control plane under stock gRPC tools", () => {
  let cp: ControlPlane;
  let address: string;

  beforeAll(async () => {
    cp = await startTestControlPlane("composed");
    address = new URL(cp.url).host;
  });
  afterAll(() => cp?.stop());

  it("creates and lists accounts with a grpc-js client built from proto/ alone", async () => {
    const admin = grpcJsClient("switchyard.v1.AdminService", address);
    const group = await grpcUnary<{ group: { id: string } }>(
      admin,
      "CreateGroup",
      { name: "grpcjs-group" },
      bearer(ADMIN_TOKEN),
    );
    expect(group.code).toBe(grpc.status.OK);
    const created = await grpcUnary<{ account: { id: string; name: string; has_credential: boolean } }>(
      admin,
      "CreateAccount",
      {
        name: "grpcjs-account",
        base_url: "https://api.openai.com",
        credential: "sk-grpcjs-secret",
        group_ids: [group.response?.group.id],
      },
      bearer(ADMIN_TOKEN),
    );
    expect(created.code).toBe(grpc.status.OK);
    expect(created.response?.account).toMatchObject({ name: "grpcjs-account", has_credential: true });
    expect(JSON.stringify(created.response)).not.toContain("sk-grpcjs-secret");
    const listed = await grpcUnary<{ accounts: Array<{ name: string }> }>(
      admin,
      "ListAccounts",
      {},
      bearer(ADMIN_TOKEN),
    );
    expect(listed.response?.accounts.map((a) => a.name)).toContain("grpcjs-account");
    const refused = await grpcUnary(admin, "ListAccounts", {}, bearer(DATA_PLANE_TOKEN));
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    admin.close();
  });

  it("answers SERVING on grpc.health.v1 once migrations are applied", async () => {
    const health = grpcJsClient("grpc.health.v1.Health", address);
    const check = await grpcUnary<{ status: string }>(health, "Check", { service: "" });
    expect(check.response?.status).toBe("SERVING");
    health.close();
  });

  it("lists both Switchyard services through grpc.reflection.v1", async () => {
    const reflection = grpcJsClient("grpc.reflection.v1.ServerReflection", address);
    const call = grpcBidiStream(reflection, "ServerReflectionInfo");
    const answer = new Promise<{ list_services_response: { service: Array<{ name: string }> } }>((resolve) =>
      call.once("data", resolve),
    );
    call.write({ list_services: "" });
    const names = (await answer).list_services_response.service.map((s) => s.name);
    call.end();
    expect(names).toEqual(
      expect.arrayContaining(["switchyard.v1.AdminService", "switchyard.v1.GatewayService"]),
    );
    reflection.close();
  });

  it("lists and clears sticky sessions an admit created", async () => {
    const tenant = await seedTenant(cp.admin, { accounts: [{}, {}] });
    const headers = { headers: { "x-switchyard-instance": "dp-sticky" } };
    const { lease } = await cp.gateway.admit(
      {
        requestId: "req_sticky_listing",
        keySha256: hashApiKey(tenant.key),
        model: "gpt-4o",
        endpoint: Endpoint.RESPONSES,
        sessionHash: "00000000000000aa",
      },
      headers,
    );
    await cp.gateway.release({ leaseId: lease?.leaseId ?? "" });
    const listed = await cp.admin.listStickySessions({ userId: tenant.user.id });
    expect(listed.sessions).toEqual([
      expect.objectContaining({
        userId: tenant.user.id,
        groupId: tenant.group.id,
        sessionHash: "00000000000000aa",
        accountId: lease?.target?.accountId,
      }),
    ]);
    await expect(cp.admin.clearStickySessions({})).rejects.toThrow(/at least one filter/);
    expect((await cp.admin.clearStickySessions({ userId: tenant.user.id })).cleared).toBe(1);
    expect((await cp.admin.listStickySessions({ userId: tenant.user.id })).sessions).toEqual([]);
  });
});
