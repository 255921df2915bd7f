import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type ApiKey,
  ApiKeySchema,
  ApiKeyStatus,
  BillingMode,
  type Group,
  GroupSchema,
  type ModelPrice,
  ModelPriceSchema,
  type User,
  UserSchema,
  UserStatus,
} from "../../gen/switchyard/v1/admin_pb.js";
import { type GatewaySettings, GatewaySettingsSchema } from "../../gen/switchyard/v1/types_pb.js";
import { formatUsd, type PicoUsd } from "../../shared/money.js";
import type {
  ApiKeyRecord,
  ApiKeyStatus as DomainApiKeyStatus,
  BillingMode as DomainBillingMode,
  UserStatus as DomainUserStatus,
  GatewaySettingsValues,
  GroupRecord,
  ModelPriceRecord,
  UserRecord,
} from "../domain/catalog/index.js";
import { invalid } from "../domain/catalog/validation.js";

/**
 * Proto ⇄ catalog translation for users, groups, API keys, prices and settings. Nothing here validates beyond what
 * translation needs: an enum value with no domain meaning is INVALID_ARGUMENT naming the field.
 */

/** A Date as a Timestamp; null stays unset. */
export function toTimestamp(date: Date | null): Timestamp | undefined {
  return date === null ? undefined : timestampFromDate(date);
}

/** A Timestamp as a Date; unset stays undefined (validity is the catalog's call). */
export function fromTimestamp(ts: Timestamp | undefined): Date | undefined {
  return ts === undefined ? undefined : timestampDate(ts);
}

/** A money amount as the API's decimal string; null ("none") as "". */
export function usdString(amount: PicoUsd | null): string {
  return amount === null ? "" : formatUsd(amount);
}

/** The two directions of one enum: proto value ⇄ domain name. */
export class EnumMapping<P extends number, D extends string> {
  readonly #toDomain: Map<number, D>;
  readonly #toProto: Map<D, P>;

  constructor(pairs: readonly (readonly [P, D])[]) {
    this.#toDomain = new Map(pairs);
    this.#toProto = new Map(pairs.map(([p, d]) => [d, p]));
  }

  /** For a create request: UNSPECIFIED (0) means "default" (undefined); an unknown value is invalid. */
  orDefault(value: P, field: string): D | undefined {
    return value === 0 ? undefined : this.#known(value, field);
  }

  /** For an update's optional field: absent means "leave"; present must name a real value (not UNSPECIFIED). */
  ifPresent(value: P | undefined, field: string): D | undefined {
    return value === undefined ? undefined : this.#known(value, field);
  }

  proto(value: D): P {
    const p = this.#toProto.get(value);
    if (p === undefined) throw new RangeError(`no proto value for ${value}`);
    return p;
  }

  #known(value: number, field: string): D {
    const d = this.#toDomain.get(value);
    if (d === undefined) throw invalid(field, `unknown or unspecified value ${value}`);
    return d;
  }
}

/** UserStatus ⇄ the catalog's user status. */
export const userStatuses = new EnumMapping<UserStatus, DomainUserStatus>([
  [UserStatus.ACTIVE, "active"],
  [UserStatus.DISABLED, "disabled"],
]);

/** BillingMode ⇄ the catalog's billing mode. */
export const billingModes = new EnumMapping<BillingMode, DomainBillingMode>([
  [BillingMode.BALANCE, "balance"],
  [BillingMode.SUBSCRIPTION, "subscription"],
]);

/** ApiKeyStatus ⇄ the catalog's key status. */
export const apiKeyStatuses = new EnumMapping<ApiKeyStatus, DomainApiKeyStatus>([
  [ApiKeyStatus.ACTIVE, "active"],
  [ApiKeyStatus.DISABLED, "disabled"],
  [ApiKeyStatus.REVOKED, "revoked"],
]);

/** A user record as the proto User. */
export function userToProto(u: UserRecord): User {
  return create(UserSchema, {
    id: u.id,
    name: u.name,
    status: userStatuses.proto(u.status),
    balanceUsd: formatUsd(u.balanceUsd),
    concurrency: u.concurrency,
    rpmLimit: u.rpmLimit,
    createTime: toTimestamp(u.createdAt),
    updateTime: toTimestamp(u.updatedAt),
  });
}

/** A group record as the proto Group; absent limits are "". */
export function groupToProto(g: GroupRecord): Group {
  return create(GroupSchema, {
    id: g.id,
    name: g.name,
    description: g.description,
    rateMultiplier: g.rateMultiplier,
    billingMode: billingModes.proto(g.billingMode),
    dailyLimitUsd: usdString(g.dailyLimitUsd),
    weeklyLimitUsd: usdString(g.weeklyLimitUsd),
    monthlyLimitUsd: usdString(g.monthlyLimitUsd),
    createTime: toTimestamp(g.createdAt),
    updateTime: toTimestamp(g.updatedAt),
  });
}

/** A key's metadata as the proto ApiKey (there is no plaintext or hash to leak here). */
export function apiKeyToProto(k: ApiKeyRecord): ApiKey {
  return create(ApiKeySchema, {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    userId: k.userId,
    groupId: k.groupId,
    status: apiKeyStatuses.proto(k.status),
    expireTime: toTimestamp(k.expiresAt),
    quotaUsd: usdString(k.quotaUsd),
    quotaUsedUsd: formatUsd(k.quotaUsedUsd),
    lastUsedTime: toTimestamp(k.lastUsedAt),
    createTime: toTimestamp(k.createdAt),
    ipAllow: k.ipAllow,
    ipDeny: k.ipDeny,
    spendLimit5hUsd: usdString(k.spendLimitsUsd.h5),
    spendLimit1dUsd: usdString(k.spendLimitsUsd.d1),
    spendLimit7dUsd: usdString(k.spendLimitsUsd.d7),
  });
}

/** A price record as the proto ModelPrice. */
export function modelPriceToProto(p: ModelPriceRecord): ModelPrice {
  return create(ModelPriceSchema, {
    model: p.model,
    inputUsdPerMtok: formatUsd(p.inputUsdPerMtok),
    cachedInputUsdPerMtok: formatUsd(p.cachedInputUsdPerMtok),
    outputUsdPerMtok: formatUsd(p.outputUsdPerMtok),
    updateTime: toTimestamp(p.updatedAt),
  });
}

/** The settings in force as the proto GatewaySettings. */
export function settingsToProto(s: GatewaySettingsValues): GatewaySettings {
  return create(GatewaySettingsSchema, { ...s });
}

/** Settings from the proto: every field as given (zero = default is the catalog's rule). */
export function settingsFromProto(s: GatewaySettings | undefined): Partial<GatewaySettingsValues> {
  if (s === undefined) return {};
  return {
    waitPingIntervalMs: s.waitPingIntervalMs,
    maxAccountSwitches: s.maxAccountSwitches,
    streamIdleTimeoutMs: s.streamIdleTimeoutMs,
    streamKeepaliveIntervalMs: s.streamKeepaliveIntervalMs,
    clientGoneDrainMs: s.clientGoneDrainMs,
    clientGoneDrainIdleMs: s.clientGoneDrainIdleMs,
  };
}
