import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import { GatewayService } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { type ConnectClientHandle, connectClient } from "../support/grpc-clients.js";
import { waitFor } from "./support/conditions.js";
import { sized } from "./support/fault-mode.js";
import { FaultStack } from "./support/fault-stack.js";
import { recordFigures } from "./support/figures.js";
import { describeFindings, scanLogsForSecrets } from "./support/log-scan.js";
import { registerSecrets } from "./support/run-folder.js";
import type { SwitchyardProcess } from "./support/switchyard-process.js";
import { type Admin, seedTenant } from "./support/tenants.js";
import { complete, requestBody } from "./support/traffic.js";

const SCENARIO = "security";
/** Keys revoked through replica A while a data plane uses replica B. */
const REVOCATIONS = sized({ reduced: 3, full: 20 });
const REVOCATION_BUDGET_MS = 1_000;
/** Everything at debug level: the scan is only worth as much as what the processes say. */
const DEBUG = { SWITCHYARD_LOG_LEVEL: "debug" };

/** The gRPC code a call ends with (OK when it succeeds). */
async function codeOf(call: () => Promise<unknown>): Promise<Code | "OK"> {
  try {
    await call();
    return "OK";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

describe("security across processes", () => {
  let stack: FaultStack;
  let adminA: Admin;
  let replicaB: SwitchyardProcess;
  let dataPlane: SwitchyardProcess;
  const clients: Array<ConnectClientHandle<DescService>> = [];

  beforeAll(async () => {
    stack = await FaultStack.start({ label: "security", controlPlanes: 2, controlPlaneEnv: DEBUG });
    adminA = stack.adminOf(stack.controlPlane);
    replicaB = stack.controlPlanes[1] as SwitchyardProcess;
    dataPlane = await stack.startDataPlane({ controlPlane: replicaB, env: DEBUG });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await stack?.stop();
  });

  function client<T extends DescService>(service: T, token?: string) {
    const handle = connectClient(service, stack.controlPlane.url, {
      protocol: "grpc",
      ...(token === undefined ? {} : { token }),
    });
    clients.push(handle as unknown as ConnectClientHandle<DescService>);
    return handle.client;
  }

  it("refuses each token on the other plane's service, unary and streaming alike", async () => {
    const { admin: adminToken, dataPlane: dataPlaneToken } = stack.tokens;
    const gatewayAsAdmin = client(GatewayService, adminToken);
    const adminAsDataPlane = client(AdminService, dataPlaneToken);
    const gatewayAnonymous = client(GatewayService);
    const adminWrongToken = client(AdminService, "not-the-admin-token");
    const drain = async (stream: AsyncIterable<unknown>) => {
      for await (const _ of stream) return;
    };
    async function* openChannel() {
      yield { open: { instanceId: "intruder", version: "test" } };
    }

    expect({
      gatewayAuthenticateAsAdmin: await codeOf(() => gatewayAsAdmin.authenticate({})),
      gatewayChannelAsAdmin: await codeOf(() => drain(gatewayAsAdmin.channel(openChannel()))),
      gatewayWatchAsAdmin: await codeOf(() => drain(gatewayAsAdmin.watchSnapshot({}))),
      adminListUsersAsDataPlane: await codeOf(() => adminAsDataPlane.listUsers({})),
      adminSettingsAsDataPlane: await codeOf(() => adminAsDataPlane.updateSettings({ settings: {} })),
      gatewayWithoutToken: await codeOf(() => gatewayAnonymous.authenticate({})),
      adminWithWrongToken: await codeOf(() => adminWrongToken.listUsers({})),
      healthWithoutToken: await codeOf(() => client(Health).check({ service: "" })),
    }).toEqual({
      gatewayAuthenticateAsAdmin: Code.PermissionDenied,
      gatewayChannelAsAdmin: Code.PermissionDenied,
      gatewayWatchAsAdmin: Code.PermissionDenied,
      adminListUsersAsDataPlane: Code.PermissionDenied,
      adminSettingsAsDataPlane: Code.PermissionDenied,
      gatewayWithoutToken: Code.Unauthenticated,
      adminWithWrongToken: Code.Unauthenticated,
      healthWithoutToken: "OK",
    });
  });

  it("makes a key revoked through replica A refused within 1 s by a data plane on replica B", async () => {
    const fake = await stack.startFake();
    const times: number[] = [];
    for (let i = 0; i < REVOCATIONS; i++) {
      const tenant = await seedTenant(adminA, { fake });
      // Served once first, so replica B holds the key in its cache when the revocation lands.
      expect((await complete(dataPlane.url, tenant.key, "responses")).status).toBe(200);
      await adminA.revokeApiKey({ id: tenant.keyId });
      const revokedAt = Date.now();
      const refused = await waitFor(
        async () => {
          const answer = await complete(
            dataPlane.url,
            tenant.key,
            "responses",
            requestBody("responses", false),
          );
          return answer.status === 200 ? undefined : answer;
        },
        { timeoutMs: 10_000, intervalMs: 20, what: "the revoked key to be refused" },
      );
      times.push(Date.now() - revokedAt);
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.text)).toMatchObject({ error: { type: "authentication_error" } });
      for (let again = 0; again < 3; again++) {
        expect((await complete(dataPlane.url, tenant.key, "responses")).status).toBe(401);
      }
    }
    const worst = Math.max(...times);
    recordFigures(SCENARIO, {
      "keys revoked on replica A, used through replica B": REVOCATIONS,
      "revocation → first refusal, worst (ms)": worst,
      "revocation → first refusal, median (ms)":
        [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? 0,
    });
    expect(worst).toBeLessThanOrEqual(REVOCATION_BUDGET_MS);
  });

  it("never prints a secret: every log line of every process of the run is clean", async () => {
    // Provoke the paths that handle secrets: a key in the URL, a well-formed unknown key, an upstream that refuses
    // its credential and echoes it back.
    const fake = await stack.startFake();
    const tenant = await seedTenant(adminA, { fake });
    const echoed = tenant.accounts[0]?.credential ?? "";
    fake.script({ status: 401, error: { message: `Incorrect API key provided: ${echoed}.` } });
    const unknownKey = `sk-sy-${"A".repeat(43)}`;
    registerSecrets({ "unknown well-formed key": unknownKey });
    expect((await complete(dataPlane.url, tenant.key, "responses")).status).toBe(502);
    expect((await complete(dataPlane.url, unknownKey, "responses")).status).toBe(401);
    const inQuery = await fetch(`${dataPlane.url}/v1/responses?api_key=${tenant.key}`, { method: "POST" });
    expect(inQuery.status).toBe(400);
    // Stopped first, so every line the processes of this file had to say is in the files.
    await stack.stop();
    const scan = scanLogsForSecrets();
    recordFigures(SCENARIO, {
      "processes whose logs were scanned": scan.files,
      "log lines scanned": scan.lines,
      "secrets looked for": scan.secrets,
      "secrets found in logs": scan.findings.length,
    });
    expect(scan.lines).toBeGreaterThan(0);
    expect(scan.findings, describeFindings(scan.findings)).toEqual([]);
  });
});
