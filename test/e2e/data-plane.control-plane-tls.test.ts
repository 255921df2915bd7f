import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedStackTenant, startStack } from "../support/stack.js";
import { createTestCertificates, SERVER_NAME, type TestCertificates } from "../support/test-certificates.js";

/** A data plane reaching its control plane over mTLS: the certificate checked against the Service name, not 127.0.0.1. */
describe("a data plane whose control plane requires TLS and client certificates", () => {
  let certs: TestCertificates;
  let stack: Awaited<ReturnType<typeof startStack>>;

  beforeAll(async () => {
    certs = await createTestCertificates();
    stack = await startStack({
      label: "dp_cp_tls",
      tls: {
        serverEnv: {
          SWITCHYARD_TLS_CERT_FILE: certs.serverCertFile,
          SWITCHYARD_TLS_KEY_FILE: certs.serverKeyFile,
          SWITCHYARD_TLS_CLIENT_CA_FILE: certs.caFile,
        },
        client: {
          enabled: true,
          caFile: certs.caFile,
          servername: SERVER_NAME,
          certFile: certs.clientCertFile,
          keyFile: certs.clientKeyFile,
        },
        clientEnv: {
          SWITCHYARD_CONTROL_PLANE_CA_FILE: certs.caFile,
          SWITCHYARD_CONTROL_PLANE_SERVERNAME: SERVER_NAME,
          SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE: certs.clientCertFile,
          SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE: certs.clientKeyFile,
        },
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await certs?.remove();
  });

  it("serves requests and bills them through a lease channel over mTLS", async () => {
    const tenant = await seedStackTenant(stack);
    const client = new OpenAI({ apiKey: tenant.key, baseURL: `${stack.dataPlane.url}/v1`, maxRetries: 0 });
    const response = await client.responses.create({ model: "gpt-4o", input: "hi" });
    expect(response.status).toBe("completed");
    await expect
      .poll(async () => (await stack.admin.listUsage({ userId: tenant.userId })).records.length)
      .toBe(1);
  });
});
