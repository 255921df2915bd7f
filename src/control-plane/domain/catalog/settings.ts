import type { EntityManager } from "@mikro-orm/postgresql";
import { SettingEntity } from "../../store/db/entities.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { intInRange, invalid } from "./validation.js";

/** Gateway behaviour settings as data planes receive them (the proto's GatewaySettings). */
export interface GatewaySettingsValues {
  waitPingIntervalMs: number;
  maxAccountSwitches: number;
  streamIdleTimeoutMs: number;
  streamKeepaliveIntervalMs: number;
  clientGoneDrainMs: number;
  clientGoneDrainIdleMs: number;
}

/** The settings row's key. */
export const GATEWAY_SETTINGS_KEY = "gateway";

/** Defaults (BEHAVIOUR.md): every field that is zero or unset takes these. */
export const DEFAULT_GATEWAY_SETTINGS: Readonly<GatewaySettingsValues> = {
  waitPingIntervalMs: 10_000,
  maxAccountSwitches: 3,
  streamIdleTimeoutMs: 180_000,
  streamKeepaliveIntervalMs: 10_000,
  clientGoneDrainMs: 60_000,
  clientGoneDrainIdleMs: 10_000,
};

type SettingName = keyof GatewaySettingsValues;

/** Accepted ranges for explicit (non-zero) values, with the proto field names used in errors. */
const RULES: Record<SettingName, { field: string; min: number; max: number }> = {
  waitPingIntervalMs: { field: "settings.wait_ping_interval_ms", min: 5_000, max: 30_000 },
  maxAccountSwitches: { field: "settings.max_account_switches", min: 1, max: 20 },
  streamIdleTimeoutMs: { field: "settings.stream_idle_timeout_ms", min: 10_000, max: 3_600_000 },
  streamKeepaliveIntervalMs: { field: "settings.stream_keepalive_interval_ms", min: 1_000, max: 120_000 },
  clientGoneDrainMs: { field: "settings.client_gone_drain_ms", min: 1_000, max: 600_000 },
  clientGoneDrainIdleMs: { field: "settings.client_gone_drain_idle_ms", min: 1_000, max: 600_000 },
};
const NAMES = Object.keys(RULES) as SettingName[];

/**
 * Only explicit values are stored (zero means "default"), so a later release that changes a default moves every
 * deployment that never chose a value. Anything unreadable in the row also falls back to its default.
 */
function withDefaults(stored: unknown): GatewaySettingsValues {
  const source = typeof stored === "object" && stored !== null ? (stored as Record<string, unknown>) : {};
  const out = { ...DEFAULT_GATEWAY_SETTINGS };
  for (const name of NAMES) {
    const v = source[name];
    const { min, max } = RULES[name];
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) out[name] = v;
  }
  return out;
}

/** The settings in force, defaults filled in: what the snapshot builder reads. */
export async function readGatewaySettings(em: EntityManager): Promise<GatewaySettingsValues> {
  const row = await em.fork().findOne(SettingEntity, { key: GATEWAY_SETTINGS_KEY });
  return withDefaults(row?.value);
}

/** Gateway settings, stored as JSON under one key. */
export class SettingsCatalog {
  constructor(private readonly deps: CatalogDeps) {}

  get(): Promise<GatewaySettingsValues> {
    return readGatewaySettings(this.deps.em);
  }

  /** Replaces the settings: zero fields take their defaults, others must be in range. */
  async update(input: Partial<GatewaySettingsValues>): Promise<GatewaySettingsValues> {
    const explicit: Partial<GatewaySettingsValues> = {};
    for (const name of NAMES) {
      const value = input[name] ?? 0;
      if (value === 0) continue;
      const { field, min, max } = RULES[name];
      explicit[name] = intInRange(value, field, min, max);
    }
    const resolved = withDefaults(explicit);
    if (resolved.streamKeepaliveIntervalMs >= resolved.streamIdleTimeoutMs) {
      throw invalid(RULES.streamKeepaliveIntervalMs.field, "must be shorter than stream_idle_timeout_ms");
    }
    await this.deps.em.fork().upsert(SettingEntity, {
      key: GATEWAY_SETTINGS_KEY,
      value: explicit,
      updatedAt: nowOf(this.deps),
    });
    recordMutation(
      this.deps,
      "settings.update",
      { kind: "settings", id: GATEWAY_SETTINGS_KEY },
      { ...resolved },
    );
    return resolved;
  }
}
