import { newEntityId } from "../../../shared/ids.js";
import { fromNumeric, type PicoUsd, toNumeric } from "../../../shared/money.js";
import { ApiKeyEntity, SubscriptionEntity, type User, UserEntity } from "../../store/db/entities.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { decodeCursor, type Page, type PageRequest, resolvePageSize, toPage } from "./pagination.js";
import { onUniqueViolation } from "./unique-violation.js";
import {
  alreadyExists,
  intInRange,
  invalid,
  lookupId,
  moneyField,
  notFound,
  requiredName,
} from "./validation.js";

/** Whether a user may make requests. */
export type UserStatus = "active" | "disabled";

/** A user as the catalog hands it out. */
export interface UserRecord {
  id: string;
  name: string;
  status: UserStatus;
  balanceUsd: PicoUsd;
  /** Most requests in flight at once; 0 for unlimited. */
  concurrency: number;
  /** Most requests started in any rolling minute; 0 for unlimited. */
  rpmLimit: number;
  createdAt: Date;
  updatedAt: Date;
}

/** CreateUser's fields; absent ones take the proto's defaults. */
export interface CreateUserInput {
  name: string;
  balanceUsd?: string;
  concurrency?: number;
  rpmLimit?: number;
}

/** UpdateUser's fields; absent ones are left as they are. */
export interface UpdateUserInput {
  id: string;
  name?: string;
  balanceUsd?: string;
  concurrency?: number;
  rpmLimit?: number;
  status?: UserStatus;
}

/** Default per-user concurrency (BEHAVIOUR.md "Concurrency and waiting"). */
export const DEFAULT_USER_CONCURRENCY = 5;
/** The largest concurrency accepted (the column is a 32-bit int; nobody needs more). */
export const MAX_CONCURRENCY = 100_000;
/** The largest requests-per-minute limit accepted. */
export const MAX_RPM = 1_000_000;
const NAME_MAX = 128;

/** The user row as a record. */
export function toUserRecord(row: User): UserRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status === "disabled" ? "disabled" : "active",
    balanceUsd: fromNumeric(row.balanceUsd),
    concurrency: row.concurrency,
    rpmLimit: row.rpmLimit ?? 0,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Users: the people or applications that own API keys and are billed. */
export class UserCatalog {
  constructor(private readonly deps: CatalogDeps) {}

  async create(input: CreateUserInput): Promise<UserRecord> {
    const name = requiredName(input.name, "name", NAME_MAX);
    const balance = moneyField(input.balanceUsd || "0", "balance_usd");
    const concurrency = intInRange(
      input.concurrency ?? DEFAULT_USER_CONCURRENCY,
      "concurrency",
      0,
      MAX_CONCURRENCY,
    );
    const em = this.deps.em.fork();
    const now = nowOf(this.deps);
    const row = em.create(UserEntity, {
      id: newEntityId(),
      name,
      status: "active",
      balanceUsd: toNumeric(balance),
      concurrency,
      rpmLimit: intInRange(input.rpmLimit ?? 0, "rpm_limit", 0, MAX_RPM),
      createdAt: now,
      updatedAt: now,
    });
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("user", name),
    );
    recordMutation(this.deps, "user.create", { kind: "user", id: row.id }, { name, concurrency });
    return toUserRecord(row);
  }

  /** By exactly one of id or name. */
  async get(by: { id?: string; name?: string }): Promise<UserRecord> {
    const id = by.id ?? "";
    const name = by.name ?? "";
    if ((id === "") === (name === "")) throw invalid("id", "give exactly one of id or name");
    const em = this.deps.em.fork();
    if (id !== "") return toUserRecord(await this.#find(em, id));
    const row = await em.findOne(UserEntity, { name });
    if (!row) throw notFound("user", name);
    return toUserRecord(row);
  }

  /** Oldest first. */
  async list(page: PageRequest): Promise<Page<UserRecord>> {
    const size = resolvePageSize(page.pageSize);
    const cursor = decodeCursor(page.pageToken, ["instant", "uuid"] as const);
    const where = cursor
      ? { $or: [{ createdAt: { $gt: cursor[0] } }, { createdAt: cursor[0], id: { $gt: cursor[1] } }] }
      : {};
    const rows = await this.deps.em
      .fork()
      .find(UserEntity, where, { orderBy: { createdAt: "asc", id: "asc" }, limit: size + 1 });
    return toPage(rows, size, (r) => [r.createdAt, r.id], toUserRecord);
  }

  async update(input: UpdateUserInput): Promise<UserRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, input.id);
    const changed: string[] = [];
    if (input.name !== undefined) {
      row.name = requiredName(input.name, "name", NAME_MAX);
      changed.push("name");
    }
    if (input.balanceUsd !== undefined) {
      row.balanceUsd = toNumeric(moneyField(input.balanceUsd, "balance_usd"));
      changed.push("balance_usd");
    }
    if (input.concurrency !== undefined) {
      row.concurrency = intInRange(input.concurrency, "concurrency", 0, MAX_CONCURRENCY);
      changed.push("concurrency");
    }
    if (input.rpmLimit !== undefined) {
      row.rpmLimit = intInRange(input.rpmLimit, "rpm_limit", 0, MAX_RPM);
      changed.push("rpm_limit");
    }
    if (input.status !== undefined) {
      row.status = input.status;
      changed.push("status");
    }
    row.updatedAt = nowOf(this.deps);
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("user", row.name),
    );
    recordMutation(this.deps, "user.update", { kind: "user", id: row.id }, { changed, status: row.status });
    return toUserRecord(row);
  }

  /**
   * Deletes the user, revokes their keys and cancels their subscriptions in one transaction, so no key outlives its
   * owner. Usage records are kept (they carry the user id, not a foreign key).
   */
  async delete(id: string): Promise<void> {
    const now = nowOf(this.deps);
    const { keyIds, subscriptionIds } = await this.deps.em.fork().transactional(async (em) => {
      const row = await this.#find(em, id);
      const keys = await em.find(ApiKeyEntity, { userId: row.id, status: { $ne: "revoked" } });
      for (const key of keys) Object.assign(key, { status: "revoked", updatedAt: now });
      const subs = await em.find(SubscriptionEntity, { userId: row.id, status: "active" });
      for (const sub of subs) Object.assign(sub, { status: "cancelled", updatedAt: now });
      em.remove(row);
      return { keyIds: keys.map((k) => k.id), subscriptionIds: subs.map((s) => s.id) };
    });
    const userId = id.toLowerCase();
    for (const keyId of keyIds)
      recordMutation(this.deps, "api_key.revoke", { kind: "api_key", id: keyId }, { userId });
    for (const subId of subscriptionIds) {
      recordMutation(this.deps, "subscription.cancel", { kind: "subscription", id: subId }, { userId });
    }
    recordMutation(this.deps, "user.delete", { kind: "user", id: userId });
  }

  async #find(em: CatalogDeps["em"], id: string): Promise<User> {
    const row = await em.findOne(UserEntity, { id: lookupId(id, "user") });
    if (!row) throw notFound("user", id);
    return row;
  }
}
