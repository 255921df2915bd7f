import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadConfig } from "../../src/shared/config.js";

describe("config from the environment", () => {
  it("applies every default when nothing is set", () => {
    const c = loadConfig({});
    expect(c.controlPlane.listen).toEqual({ host: "127.0.0.1", port: 50051 });
    expect(c.dataPlane.listen).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(c.controlPlane.url).toBe("http://127.0.0.1:50051");
    expect(c.controlPlane.leaseTtlMs).toBe(30_000);
    expect(c.controlPlane.databaseUrl).toBe("");
    expect(c.controlPlane.redisUrl).toBe("");
    expect(c.controlPlane.migrateOnStart).toBe(true);
    expect(c.controlPlane.billingTimezone).toBe("UTC");
    expect(c.dataPlane.upstreamHeadersTimeoutMs).toBe(600_000);
    expect(c.dataPlane.upstreamConnectTimeoutMs).toBe(10_000);
    expect(c.dataPlane.requestBodyLimitBytes).toBe(32 * 1024 * 1024);
    expect(c.logLevel).toBe("info");
  });

  it("reads set values and treats empty strings as unset", () => {
    const c = loadConfig({
      SWITCHYARD_LEASE_TTL_MS: "12000",
      SWITCHYARD_DATA_PLANE_LISTEN: "[::1]:9090",
      SWITCHYARD_CONTROL_PLANE_URL: "http://cp.internal:50051/",
      SWITCHYARD_MIGRATE_ON_START: "false",
      SWITCHYARD_REDIS_URL: "redis://127.0.0.1:6379/2",
      SWITCHYARD_SECRET_KEY: "ab".repeat(32),
      SWITCHYARD_BILLING_TIMEZONE: "Asia/Shanghai",
      SWITCHYARD_LOG_LEVEL: "",
    });
    expect(c.controlPlane.leaseTtlMs).toBe(12_000);
    expect(c.dataPlane.listen).toEqual({ host: "::1", port: 9090 });
    expect(c.controlPlane.url).toBe("http://cp.internal:50051");
    expect(c.controlPlane.migrateOnStart).toBe(false);
    expect(c.controlPlane.redisUrl).toBe("redis://127.0.0.1:6379/2");
    expect(c.controlPlane.secretKey?.length).toBe(32);
    expect(c.controlPlane.billingTimezone).toBe("Asia/Shanghai");
    expect(c.logLevel).toBe("info");
  });

  it.each([
    [
      "SWITCHYARD_LEASE_TTL_MS",
      "abc",
      /^invalid SWITCHYARD_LEASE_TTL_MS: expected an integer from 3000 to 600000 \(got "abc"\)$/,
    ],
    ["SWITCHYARD_LEASE_TTL_MS", "10.5", /^invalid SWITCHYARD_LEASE_TTL_MS: expected an integer/],
    ["SWITCHYARD_LEASE_TTL_MS", "100", /^invalid SWITCHYARD_LEASE_TTL_MS: expected an integer/],
    ["SWITCHYARD_DATA_PLANE_LISTEN", "8080", /^invalid SWITCHYARD_DATA_PLANE_LISTEN: expected host:port/],
    [
      "SWITCHYARD_DATA_PLANE_LISTEN",
      "127.0.0.1:70000",
      /^invalid SWITCHYARD_DATA_PLANE_LISTEN: port must be/,
    ],
    ["SWITCHYARD_CONTROL_PLANE_URL", "ftp://x", /^invalid SWITCHYARD_CONTROL_PLANE_URL: expected an http/],
    [
      "SWITCHYARD_CONTROL_PLANE_URL",
      "dns:///no-port",
      /^invalid SWITCHYARD_CONTROL_PLANE_URL: expected host:port/,
    ],
    [
      "SWITCHYARD_TLS_CERT_FILE",
      "/x/cert.pem",
      /^invalid SWITCHYARD_TLS_KEY_FILE: required with SWITCHYARD_TLS_CERT_FILE/,
    ],
    ["SWITCHYARD_MIGRATE_ON_START", "yes", /^invalid SWITCHYARD_MIGRATE_ON_START: expected true or false/],
    ["SWITCHYARD_BILLING_TIMEZONE", "Mars/Olympus", /^invalid SWITCHYARD_BILLING_TIMEZONE: expected an IANA/],
    ["SWITCHYARD_LOG_LEVEL", "loud", /^invalid SWITCHYARD_LOG_LEVEL: /],
  ])("rejects %s=%j with one line naming it", (name, value, pattern) => {
    const attempt = () => loadConfig({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(pattern);
    try {
      attempt();
    } catch (err) {
      expect(String((err as Error).message)).not.toContain("\n");
    }
  });

  it.each([
    ["SWITCHYARD_SECRET_KEY", "too-short-secret"],
    ["SWITCHYARD_DATABASE_URL", "mysql://root:hunter2@db/x"],
    ["SWITCHYARD_REDIS_URL", "http://user:hunter2@cache"],
  ])("names %s but never echoes its value", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^invalid ${name}: `));
    expect(() => loadConfig({ [name]: value })).not.toThrow(/hunter2|too-short-secret/);
  });

  it("lists every variable it reads under the SWITCHYARD_ prefix", () => {
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(10);
    for (const name of CONFIG_VARIABLES) expect(name).toMatch(/^SWITCHYARD_[A-Z_]+$/);
  });
});
