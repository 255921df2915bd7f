import { newEntityId } from "../../../shared/ids.js";
import { formatUsd, fromNumeric, type PicoUsd, parseUsd, toNumeric } from "../../../shared/money.js";
import { ApiKeyEntity, type Group, GroupEntity, SubscriptionEntity } from "../../store/db/entities.js";
import { accountsOfGroupQuery } from "./accounts-of-group.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { decodeCursor, type Page, type PageRequest, resolvePageSize, toPage } from "./pagination.js";
import { onUniqueViolation } from "./unique-violation.js";
import {
  alreadyExists,
  boundedText,
  invalid,
  lookupId,
  moneyField,
  notFound,
  optionalMoneyField,
  requiredName,
} from "./validation.js";

/** How a group's requests are paid for. */
export type BillingMode = "balance" | "subscription";

/** A group as the catalog hands it out. */
export interface GroupRecord {
  id: string;
  name: string;
  description: string;
  /** Decimal string without trailing zeros ("1", "1.5"). */
  rateMultiplier: string;
  billingMode: BillingMode;
  dailyLimitUsd: PicoUsd | null;
  weeklyLimitUsd: PicoUsd | null;
  monthlyLimitUsd: PicoUsd | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The limit fields as the API has them: "" for none. */
interface LimitInputs {
  dailyLimitUsd?: string;
  weeklyLimitUsd?: string;
  monthlyLimitUsd?: string;
}

/** CreateGroup's fields. */
export interface CreateGroupInput extends LimitInputs {
  name: string;
  description?: string;
  rateMultiplier?: string;
  billingMode?: BillingMode;
}

/** UpdateGroup's fields; absent ones are left as they are, a "" limit removes it. */
export interface UpdateGroupInput extends LimitInputs {
  id: string;
  name?: string;
  description?: string;
  rateMultiplier?: string;
  billingMode?: BillingMode;
}

const NAME_MAX = 64;
const DESCRIPTION_MAX = 1024;
/** numeric(12,6): six integer digits. */
const MULTIPLIER_LIMIT = parseUsd("1000000");
const LIMIT_FIELDS = [
  ["dailyLimitUsd", "daily_limit_usd"],
  ["weeklyLimitUsd", "weekly_limit_usd"],
  ["monthlyLimitUsd", "monthly_limit_usd"],
] as const;

/** The group row as a record. */
export function toGroupRecord(row: Group): GroupRecord {
  const limit = (v: string | null | undefined) => (v === null || v === undefined ? null : fromNumeric(v));
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    rateMultiplier: formatUsd(fromNumeric(row.rateMultiplier)),
    billingMode: row.billingMode === "subscription" ? "subscription" : "balance",
    dailyLimitUsd: limit(row.dailyLimitUsd),
    weeklyLimitUsd: limit(row.weeklyLimitUsd),
    monthlyLimitUsd: limit(row.monthlyLimitUsd),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function rateMultiplier(value: string): string {
  const pico = moneyField(value, "rate_multiplier", { positive: true });
  if (pico >= MULTIPLIER_LIMIT) throw invalid("rate_multiplier", "must be below 1000000");
  return toNumeric(pico);
}

/** Applies the limit inputs that are present; "" clears one. */
function applyLimits(row: Group, input: LimitInputs): void {
  for (const [prop, field] of LIMIT_FIELDS) {
    const value = input[prop];
    if (value === undefined) continue;
    const amount = optionalMoneyField(value, field);
    row[prop] = amount === null ? null : toNumeric(amount);
  }
}

/** Limits only mean something to subscription billing; refuse them elsewhere so nobody thinks they apply. */
function checkLimitsFitMode(row: Group): void {
  if (row.billingMode === "subscription") return;
  for (const [prop, field] of LIMIT_FIELDS) {
    if (row[prop] !== null && row[prop] !== undefined) {
      throw invalid(field, "only applies to SUBSCRIPTION billing mode");
    }
  }
}

/** Groups: pools of accounts that API keys route through, with their billing terms. */
export class GroupCatalog {
  constructor(private readonly deps: CatalogDeps) {}

  async create(input: CreateGroupInput): Promise<GroupRecord> {
    const em = this.deps.em.fork();
    const now = nowOf(this.deps);
    const row = em.create(GroupEntity, {
      id: newEntityId(),
      name: requiredName(input.name, "name", NAME_MAX),
      description: boundedText(input.description ?? "", "description", DESCRIPTION_MAX),
      rateMultiplier: rateMultiplier(input.rateMultiplier || "1"),
      billingMode: input.billingMode ?? "balance",
      dailyLimitUsd: null,
      weeklyLimitUsd: null,
      monthlyLimitUsd: null,
      createdAt: now,
      updatedAt: now,
    });
    applyLimits(row, input);
    checkLimitsFitMode(row);
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("group", row.name),
    );
    recordMutation(this.deps, "group.create", { kind: "group", id: row.id }, { name: row.name });
    return toGroupRecord(row);
  }

  /** By exactly one of id or name. */
  async get(by: { id?: string; name?: string }): Promise<GroupRecord> {
    const id = by.id ?? "";
    const name = by.name ?? "";
    if ((id === "") === (name === "")) throw invalid("id", "give exactly one of id or name");
    const em = this.deps.em.fork();
    if (id !== "") return toGroupRecord(await this.#find(em, id));
    const row = await em.findOne(GroupEntity, { name });
    if (!row) throw notFound("group", name);
    return toGroupRecord(row);
  }

  /** By name. */
  async list(page: PageRequest): Promise<Page<GroupRecord>> {
    const size = resolvePageSize(page.pageSize);
    const cursor = decodeCursor(page.pageToken, ["text"] as const);
    const rows = await this.deps.em.fork().find(GroupEntity, cursor ? { name: { $gt: cursor[0] } } : {}, {
      orderBy: { name: "asc" },
      limit: size + 1,
    });
    return toPage(rows, size, (r) => [r.name], toGroupRecord);
  }

  async update(input: UpdateGroupInput): Promise<GroupRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, input.id);
    if (input.name !== undefined) row.name = requiredName(input.name, "name", NAME_MAX);
    if (input.description !== undefined) {
      row.description = boundedText(input.description, "description", DESCRIPTION_MAX);
    }
    if (input.rateMultiplier !== undefined) row.rateMultiplier = rateMultiplier(input.rateMultiplier);
    if (input.billingMode !== undefined && input.billingMode !== row.billingMode) {
      if (input.billingMode === "balance" && (await this.#activeSubscriptions(em, row.id)) > 0) {
        throw invalid("billing_mode", "the group has active subscriptions; cancel them first");
      }
      row.billingMode = input.billingMode;
    }
    applyLimits(row, input);
    checkLimitsFitMode(row);
    row.updatedAt = nowOf(this.deps);
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("group", row.name),
    );
    recordMutation(this.deps, "group.update", { kind: "group", id: row.id }, { name: row.name });
    return toGroupRecord(row);
  }

  /**
   * Deletes a group no live API key (not revoked) or active subscription uses; accounts that served it stop
   * listing it, in the same transaction.
   */
  async delete(id: string): Promise<void> {
    const now = nowOf(this.deps);
    const detached = await this.deps.em.fork().transactional(async (em) => {
      const row = await this.#find(em, id);
      const keys = await em.count(ApiKeyEntity, { groupId: row.id, status: { $ne: "revoked" } });
      if (keys > 0) throw invalid("id", `group is used by ${keys} API key(s); revoke or move them first`);
      const subs = await this.#activeSubscriptions(em, row.id);
      if (subs > 0) throw invalid("id", `group is used by ${subs} active subscription(s); cancel them first`);
      const accounts = await accountsOfGroupQuery(em, row.id).getResult();
      for (const account of accounts) {
        account.groupIds = account.groupIds.filter((g) => g !== row.id);
        account.updatedAt = now;
      }
      em.remove(row);
      return accounts.map((a) => a.id);
    });
    const groupId = id.toLowerCase();
    for (const accountId of detached) {
      recordMutation(this.deps, "account.detach_group", { kind: "account", id: accountId }, { groupId });
    }
    recordMutation(this.deps, "group.delete", { kind: "group", id: groupId });
  }

  async #activeSubscriptions(em: CatalogDeps["em"], groupId: string): Promise<number> {
    return em.count(SubscriptionEntity, { groupId, status: "active", expiresAt: { $gt: nowOf(this.deps) } });
  }

  async #find(em: CatalogDeps["em"], id: string): Promise<Group> {
    const row = await em.findOne(GroupEntity, { id: lookupId(id, "group") });
    if (!row) throw notFound("group", id);
    return row;
  }
}
