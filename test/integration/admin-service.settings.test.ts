import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_GATEWAY_SETTINGS,
  readGatewaySettings,
} from "../../src/control-plane/domain/catalog/index.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  startAdminHarness,
} from "../support/admin-fixtures.js";

describe("AdminService settings", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_settings");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("answers the defaults before anything is stored", async () => {
    const { settings } = await h.client.getSettings({});
    expect(settings).toMatchObject({
      waitPingIntervalMs: 10_000,
      maxAccountSwitches: 3,
      streamIdleTimeoutMs: 180_000,
      streamKeepaliveIntervalMs: 10_000,
      clientGoneDrainMs: 60_000,
      clientGoneDrainIdleMs: 10_000,
    });
    expect(await readGatewaySettings(h.orm.em)).toEqual(DEFAULT_GATEWAY_SETTINGS);
  });

  it("stores explicit values, fills zeros with defaults, and announces the change", async () => {
    const { settings } = await h.client.updateSettings({
      settings: { waitPingIntervalMs: 5_000, maxAccountSwitches: 5, clientGoneDrainMs: 0 },
    });
    expect(settings).toMatchObject({
      waitPingIntervalMs: 5_000,
      maxAccountSwitches: 5,
      clientGoneDrainMs: 60_000,
    });
    expect((await h.client.getSettings({})).settings).toEqual(settings);
    expect(await readGatewaySettings(h.orm.em)).toEqual({
      ...DEFAULT_GATEWAY_SETTINGS,
      waitPingIntervalMs: 5_000,
      maxAccountSwitches: 5,
    });
    const [row] = await h.sql<{ value: unknown }>("select value from settings where key = 'gateway'");
    expect(row?.value).toEqual({ waitPingIntervalMs: 5_000, maxAccountSwitches: 5 });
    expect(h.changes).toContainEqual({ kind: "settings", id: "gateway" });
    expect(auditLines(h, "settings.update")).toContainEqual(
      expect.objectContaining({ id: "gateway", waitPingIntervalMs: 5_000 }),
    );
  });

  it("replaces the whole settings: an empty update restores every default", async () => {
    await h.client.updateSettings({ settings: { streamIdleTimeoutMs: 60_000 } });
    const { settings } = await h.client.updateSettings({});
    expect(settings).toMatchObject({ ...DEFAULT_GATEWAY_SETTINGS });
  });

  it("refuses values out of range, naming the field, and keeps what was stored", async () => {
    await h.client.updateSettings({ settings: { maxAccountSwitches: 2 } });
    const c = h.client;
    await expectRpcError(
      c.updateSettings({ settings: { waitPingIntervalMs: 4_999 } }),
      Code.InvalidArgument,
      "settings.wait_ping_interval_ms",
    );
    await expectRpcError(
      c.updateSettings({ settings: { waitPingIntervalMs: 30_001 } }),
      Code.InvalidArgument,
      "settings.wait_ping_interval_ms",
    );
    await expectRpcError(
      c.updateSettings({ settings: { maxAccountSwitches: 21 } }),
      Code.InvalidArgument,
      "settings.max_account_switches",
    );
    await expectRpcError(
      c.updateSettings({ settings: { streamIdleTimeoutMs: 500 } }),
      Code.InvalidArgument,
      "settings.stream_idle_timeout_ms",
    );
    await expectRpcError(
      c.updateSettings({ settings: { streamIdleTimeoutMs: 20_000, streamKeepaliveIntervalMs: 30_000 } }),
      Code.InvalidArgument,
      "settings.stream_keepalive_interval_ms",
    );
    await expectRpcError(
      c.updateSettings({ settings: { clientGoneDrainMs: 900_000 } }),
      Code.InvalidArgument,
      "settings.client_gone_drain_ms",
    );
    expect((await c.getSettings({})).settings?.maxAccountSwitches).toBe(2);
  });

  it("falls back to defaults for unreadable stored values", async () => {
    await h.sql(
      `update settings set value = '{"waitPingIntervalMs": "fast", "maxAccountSwitches": 4}' where key = 'gateway'`,
    );
    expect(await readGatewaySettings(h.orm.em)).toEqual({
      ...DEFAULT_GATEWAY_SETTINGS,
      maxAccountSwitches: 4,
    });
  });
});
