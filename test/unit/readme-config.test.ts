import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/shared/config.js";
import { REPO_ROOT } from "../support/repo-copy.js";

/** README's configuration table is the operator's reference: it must list exactly what the code reads. */
describe("README configuration table", () => {
  const readme = readFileSync(`${REPO_ROOT}/README.md`, "utf8");
  const rows = [...readme.matchAll(/^\| `(SWITCHYARD_[A-Z_]+)` \| (.+?) \|/gm)].map((m) => ({
    name: m[1] ?? "",
    shownDefault: m[2] ?? "",
  }));

  it("lists every variable the config reads, and no other", () => {
    expect(rows.map((r) => r.name).sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it("shows the defaults the config applies", () => {
    const env = loadConfig({});
    const defaults: Record<string, string> = {
      SWITCHYARD_LOG_LEVEL: env.logLevel,
      SWITCHYARD_DATA_DIR: env.dataDir,
      SWITCHYARD_CONTROL_PLANE_URL: env.controlPlane.url,
      SWITCHYARD_LEASE_TTL_MS: String(env.controlPlane.leaseTtlMs),
      SWITCHYARD_UPSTREAM_CONNECT_TIMEOUT_MS: String(env.dataPlane.upstreamConnectTimeoutMs),
      SWITCHYARD_UPSTREAM_HEADERS_TIMEOUT_MS: String(env.dataPlane.upstreamHeadersTimeoutMs),
      SWITCHYARD_REQUEST_BODY_LIMIT_BYTES: String(env.dataPlane.requestBodyLimitBytes),
      SWITCHYARD_SHUTDOWN_DELAY_MS: String(env.dataPlane.shutdownDelayMs),
      SWITCHYARD_SHUTDOWN_GRACE_MS: String(env.dataPlane.shutdownGraceMs),
      SWITCHYARD_BILLING_TIMEZONE: env.controlPlane.billingTimezone,
      SWITCHYARD_CHATGPT_TOKEN_URL: env.controlPlane.chatgptTokenUrl,
      SWITCHYARD_CHATGPT_CODEX_BASE_URL: env.controlPlane.chatgptCodexBaseUrl,
      SWITCHYARD_REDIS_PREFIX: env.controlPlane.redisPrefix,
      SWITCHYARD_CONTROL_PLANE_RESOLVE_INTERVAL_MS: String(env.controlPlane.resolveIntervalMs),
      SWITCHYARD_CONTROL_PLANE_TLS: String(env.controlPlane.clientTls.enabled),
      SWITCHYARD_CONTROL_PLANE_WAIT_MS: String(env.dataPlane.controlPlaneWaitMs),
      SWITCHYARD_ADMIT_TIMEOUT_MS: String(env.dataPlane.admitTimeoutMs),
      SWITCHYARD_CLIENT_HEADERS_TIMEOUT_MS: String(env.dataPlane.clientHeadersTimeoutMs),
      SWITCHYARD_CLIENT_BODY_TIMEOUT_MS: String(env.dataPlane.clientBodyTimeoutMs),
      SWITCHYARD_MIGRATE_ON_START: String(env.controlPlane.migrateOnStart),
      SWITCHYARD_CONTROL_PLANE_LISTEN: `${env.controlPlane.listen.host}:${env.controlPlane.listen.port}`,
      SWITCHYARD_DATA_PLANE_LISTEN: `${env.dataPlane.listen.host}:${env.dataPlane.listen.port}`,
    };
    for (const [name, value] of Object.entries(defaults)) {
      expect(rows.find((r) => r.name === name)?.shownDefault, name).toBe(`\`${value}\``);
    }
  });
});
