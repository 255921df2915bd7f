import { displayPrefix, generateApiKey, hashApiKey } from "../../../shared/api-key.js";
import { newEntityId } from "../../../shared/ids.js";
import { ipRangeProblem } from "../../../shared/ip-ranges.js";
import { fromNumeric, type PicoUsd, toNumeric } from "../../../shared/money.js";
import { type ApiKey, ApiKeyEntity, GroupEntity, UserEntity } from "../../store/db/entities.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { type GroupRecord, toGroupRecord } from "./groups.js";
import { decodeCursor, type Page, type PageRequest, resolvePageSize, toPage } from "./pagination.js";
import { onUniqueViolation } from "./unique-violation.js";
import { toUserRecord, type UserRecord } from "./users.js";
import {
  alreadyExists,
  boundedText,
  invalid,
  lookupId,
  notFound,
  optionalId,
  optionalMoneyField,
  validDate,
} from "./validation.js";

/** Whether a key works; `revoked` is final. */
export type ApiKeyStatus = "active" | "disabled" | "revoked";

/** An API key's metadata (the key itself exists only as its SHA-256). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The first characters of the key, to recognise it. */
  prefix: string;
  userId: string;
  groupId: string;
  status: ApiKeyStatus;
  expiresAt: Date | null;
  /** Null for unlimited. */
  quotaUsd: PicoUsd | null;
  quotaUsedUsd: PicoUsd;
  /** Client addresses (IPs, CIDRs) allowed; empty allows all not denied. */
  ipAllow: string[];
  /** Client addresses refused (checked first). */
  ipDeny: string[];
  /** Rolling spend limits; null for none. */
  spendLimitsUsd: SpendLimits;
  lastUsedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A key's rolling spend windows: 5 hours, 1 day, 7 days. */
export interface SpendLimits {
  h5: PicoUsd | null;
  d1: PicoUsd | null;
  d7: PicoUsd | null;
}

/** The access controls a key can be given at creation or import (proto fields, as strings). */
export interface KeyControlsInput {
  ipAllow?: readonly string[];
  ipDeny?: readonly string[];
  /** "" or absent for none. */
  spendLimit5hUsd?: string;
  spendLimit1dUsd?: string;
  spendLimit7dUsd?: string;
}

/** A key with the user and group it belongs to: what authentication and billing eligibility read. */
export interface ApiKeyWithOwner {
  key: ApiKeyRecord;
  user: UserRecord;
  group: GroupRecord;
}

/** CreateApiKey's fields. */
export interface CreateApiKeyInput extends KeyControlsInput {
  userId: string;
  groupId: string;
  name?: string;
  expiresAt?: Date;
  /** "" or absent for unlimited. */
  quotaUsd?: string;
}

/** UpdateApiKey's fields; absent ones are left as they are (lists only change with their replace flag). */
export interface UpdateApiKeyInput extends KeyControlsInput {
  replaceIpAllow?: boolean;
  replaceIpDeny?: boolean;
  id: string;
  name?: string;
  status?: ApiKeyStatus;
  expiresAt?: Date;
  clearExpiresAt?: boolean;
  /** "" for unlimited. */
  quotaUsd?: string;
}

/** ImportApiKey's fields: an existing key, known by its hash only. */
export interface ImportApiKeyInput extends KeyControlsInput {
  keySha256: Uint8Array;
  prefix: string;
  userId: string;
  groupId: string;
  name?: string;
  /** Absent: active. */
  status?: ApiKeyStatus;
  /** May be past: an expired key stays refused. */
  expiresAt?: Date;
  /** "" or absent for unlimited. */
  quotaUsd?: string;
  /** "" or absent for 0. */
  quotaUsedUsd?: string;
}

const NAME_MAX = 128;
const PREFIX_MAX = 12;
const SHA256_BYTES = 32;

/** The key row as a record. */
export function toApiKeyRecord(row: ApiKey): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    userId: row.userId,
    groupId: row.groupId,
    status: row.status === "revoked" || row.status === "disabled" ? row.status : "active",
    expiresAt: row.expiresAt ?? null,
    quotaUsd: row.quotaUsd === null || row.quotaUsd === undefined ? null : fromNumeric(row.quotaUsd),
    quotaUsedUsd: fromNumeric(row.quotaUsedUsd),
    ipAllow: row.ipAllow ?? [],
    ipDeny: row.ipDeny ?? [],
    spendLimitsUsd: {
      h5: optionalPico(row.spendLimit5hUsd),
      d1: optionalPico(row.spendLimit1dUsd),
      d7: optionalPico(row.spendLimit7dUsd),
    },
    lastUsedAt: row.lastUsedAt ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Most entries in one IP list. */
const IP_LIST_MAX = 256;

/** The key controls as columns, each checked (IP lists as IPs or CIDRs, limits as positive USD). */
function keyControls(input: KeyControlsInput) {
  const limit = (value: string | undefined, field: string) => {
    const usd = optionalMoneyField(value ?? "", field);
    if (usd !== null && usd <= 0n) throw invalid(field, "must be positive, or empty for no limit");
    return usd === null ? null : toNumeric(usd);
  };
  return {
    ipAllow: ipList(input.ipAllow ?? [], "ip_allow"),
    ipDeny: ipList(input.ipDeny ?? [], "ip_deny"),
    spendLimit5hUsd: limit(input.spendLimit5hUsd, "spend_limit_5h_usd"),
    spendLimit1dUsd: limit(input.spendLimit1dUsd, "spend_limit_1d_usd"),
    spendLimit7dUsd: limit(input.spendLimit7dUsd, "spend_limit_7d_usd"),
  };
}

function ipList(entries: readonly string[], field: string): string[] {
  if (entries.length > IP_LIST_MAX) throw invalid(field, `at most ${IP_LIST_MAX} entries`);
  const list = [...new Set(entries.map((e) => e.trim()))];
  for (const entry of list) {
    const problem = ipRangeProblem(entry);
    if (problem) throw invalid(field, problem);
  }
  return list;
}

function optionalPico(value: string | null | undefined): PicoUsd | null {
  return value === null || value === undefined ? null : fromNumeric(value);
}

/** API keys issued to users. The plaintext exists only in CreateApiKey's answer. */
export class ApiKeyCatalog {
  constructor(private readonly deps: CatalogDeps) {}

  /** Issues a key; the plaintext is returned here once and stored nowhere (only its SHA-256 and a prefix). */
  async create(input: CreateApiKeyInput): Promise<{ apiKey: ApiKeyRecord; key: string }> {
    const name = boundedText(input.name ?? "", "name", NAME_MAX);
    const quota = optionalMoneyField(input.quotaUsd ?? "", "quota_usd");
    const expiresAt = this.#futureExpiry(input.expiresAt);
    const em = this.deps.em.fork();
    const userId = lookupId(input.userId, "user", "user_id");
    const groupId = lookupId(input.groupId, "group", "group_id");
    if (!(await em.findOne(UserEntity, { id: userId }))) throw notFound("user", input.userId);
    if (!(await em.findOne(GroupEntity, { id: groupId }))) throw notFound("group", input.groupId);
    const key = generateApiKey();
    const now = nowOf(this.deps);
    const row = em.create(ApiKeyEntity, {
      id: newEntityId(),
      keySha256: hashApiKey(key),
      prefix: displayPrefix(key),
      name,
      userId,
      groupId,
      status: "active",
      expiresAt,
      quotaUsd: quota === null ? null : toNumeric(quota),
      quotaUsedUsd: "0",
      ...keyControls(input),
      lastUsedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    await em.flush();
    recordMutation(this.deps, "api_key.create", { kind: "api_key", id: row.id }, { userId, groupId });
    return { apiKey: toApiKeyRecord(row), key };
  }

  /**
   * Adds an existing key by its SHA-256 (keys of another gateway keep working; only the hash is stored). A hash
   * already known is ALREADY_EXISTS, so importing twice changes nothing.
   */
  async importKey(input: ImportApiKeyInput): Promise<ApiKeyRecord> {
    if (input.keySha256.length !== SHA256_BYTES) throw invalid("key_sha256", "must be 32 bytes (a SHA-256)");
    const prefix = boundedText(input.prefix, "prefix", PREFIX_MAX);
    const name = boundedText(input.name ?? "", "name", NAME_MAX);
    const quota = optionalMoneyField(input.quotaUsd ?? "", "quota_usd");
    const used = optionalMoneyField(input.quotaUsedUsd ?? "", "quota_used_usd") ?? 0n;
    if (input.status === "revoked") throw invalid("status", "must be active or disabled");
    if (input.expiresAt !== undefined) validDate(input.expiresAt, "expire_time");
    const em = this.deps.em.fork();
    const userId = lookupId(input.userId, "user", "user_id");
    const groupId = lookupId(input.groupId, "group", "group_id");
    if (!(await em.findOne(UserEntity, { id: userId }))) throw notFound("user", input.userId);
    if (!(await em.findOne(GroupEntity, { id: groupId }))) throw notFound("group", input.groupId);
    const now = nowOf(this.deps);
    const row = em.create(ApiKeyEntity, {
      id: newEntityId(),
      keySha256: Buffer.from(input.keySha256),
      prefix,
      name,
      userId,
      groupId,
      status: input.status ?? "active",
      expiresAt: input.expiresAt ?? null,
      quotaUsd: quota === null ? null : toNumeric(quota),
      quotaUsedUsd: toNumeric(used),
      ...keyControls(input),
      lastUsedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("API key with this hash", prefix),
    );
    recordMutation(this.deps, "api_key.import", { kind: "api_key", id: row.id }, { userId, groupId });
    return toApiKeyRecord(row);
  }

  /** By hash; `id` must then be empty (give exactly one). NOT_FOUND when no key has that hash. */
  async getByHash(by: { id: string; keySha256: Uint8Array }): Promise<ApiKeyRecord> {
    if (by.id !== "") throw invalid("id", "give exactly one of id or key_sha256");
    if (by.keySha256.length !== SHA256_BYTES) throw invalid("key_sha256", "must be 32 bytes (a SHA-256)");
    const row = await this.deps.em.fork().findOne(ApiKeyEntity, { keySha256: Buffer.from(by.keySha256) });
    if (!row) throw notFound("API key", "with this hash");
    return toApiKeyRecord(row);
  }

  async get(id: string): Promise<ApiKeyRecord> {
    return toApiKeyRecord(await this.#find(this.deps.em.fork(), id));
  }

  /** Oldest first, optionally of one user. */
  async list(filter: { userId?: string } & PageRequest): Promise<Page<ApiKeyRecord>> {
    const size = resolvePageSize(filter.pageSize);
    const cursor = decodeCursor(filter.pageToken, ["instant", "uuid"] as const);
    const userId = optionalId(filter.userId, "user_id");
    const rows = await this.deps.em.fork().find(
      ApiKeyEntity,
      {
        ...(userId === undefined ? {} : { userId }),
        ...(cursor
          ? { $or: [{ createdAt: { $gt: cursor[0] } }, { createdAt: cursor[0], id: { $gt: cursor[1] } }] }
          : {}),
      },
      { orderBy: { createdAt: "asc", id: "asc" }, limit: size + 1 },
    );
    return toPage(rows, size, (r) => [r.createdAt, r.id], toApiKeyRecord);
  }

  async update(input: UpdateApiKeyInput): Promise<ApiKeyRecord> {
    if (input.expiresAt !== undefined && input.clearExpiresAt) {
      throw invalid("expire_time", "give either expire_time or clear_expire_time, not both");
    }
    const em = this.deps.em.fork();
    const row = await this.#find(em, input.id);
    if (row.status === "revoked") throw invalid("id", "the key is revoked; a revoked key cannot be changed");
    if (input.name !== undefined) row.name = boundedText(input.name, "name", NAME_MAX);
    if (input.status !== undefined) row.status = input.status;
    if (input.expiresAt !== undefined) row.expiresAt = this.#futureExpiry(input.expiresAt);
    if (input.clearExpiresAt) row.expiresAt = null;
    if (input.quotaUsd !== undefined) {
      const quota = optionalMoneyField(input.quotaUsd, "quota_usd");
      row.quotaUsd = quota === null ? null : toNumeric(quota);
    }
    const controls = keyControls(input);
    if (input.replaceIpAllow) row.ipAllow = controls.ipAllow;
    if (input.replaceIpDeny) row.ipDeny = controls.ipDeny;
    if (input.spendLimit5hUsd !== undefined) row.spendLimit5hUsd = controls.spendLimit5hUsd;
    if (input.spendLimit1dUsd !== undefined) row.spendLimit1dUsd = controls.spendLimit1dUsd;
    if (input.spendLimit7dUsd !== undefined) row.spendLimit7dUsd = controls.spendLimit7dUsd;
    row.updatedAt = nowOf(this.deps);
    await em.flush();
    recordMutation(this.deps, "api_key.update", { kind: "api_key", id: row.id }, { status: row.status });
    return toApiKeyRecord(row);
  }

  /** Revokes a key for good; revoking a revoked key changes nothing and still succeeds. */
  async revoke(id: string): Promise<ApiKeyRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, id);
    if (row.status !== "revoked") {
      row.status = "revoked";
      row.updatedAt = nowOf(this.deps);
      await em.flush();
    }
    recordMutation(this.deps, "api_key.revoke", { kind: "api_key", id: row.id }, { userId: row.userId });
    return toApiKeyRecord(row);
  }

  /**
   * The key whose SHA-256 this is, with its user and group; null when no key has that hash or its user or group is
   * gone. Status, expiry and quota are not judged here: the caller decides what each means.
   */
  async findByHash(keySha256: Uint8Array): Promise<ApiKeyWithOwner | null> {
    const em = this.deps.em.fork();
    const key = await em.findOne(ApiKeyEntity, { keySha256: Buffer.from(keySha256) });
    if (!key) return null;
    const user = await em.findOne(UserEntity, { id: key.userId });
    const group = await em.findOne(GroupEntity, { id: key.groupId });
    if (!user || !group) return null;
    return { key: toApiKeyRecord(key), user: toUserRecord(user), group: toGroupRecord(group) };
  }

  #futureExpiry(at: Date | undefined): Date | null {
    if (at === undefined) return null;
    validDate(at, "expire_time");
    if (at.getTime() <= this.deps.clock.now()) throw invalid("expire_time", "must be in the future");
    return at;
  }

  async #find(em: CatalogDeps["em"], id: string): Promise<ApiKey> {
    const row = await em.findOne(ApiKeyEntity, { id: lookupId(id, "API key") });
    if (!row) throw notFound("API key", id);
    return row;
  }
}
