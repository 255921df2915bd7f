import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import { newEntityId } from "../../../shared/ids.js";
import type { PicoUsd } from "../../../shared/money.js";
import { GroupEntity, type Subscription, SubscriptionEntity, UserEntity } from "../../store/db/entities.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { decodeCursor, encodeCursor, type Page, type PageRequest, resolvePageSize } from "./pagination.js";
import { type SubscriptionUsage, subscriptionUsage } from "./subscription-usage.js";
import { invalid, lookupId, notFound, optionalId, validDate } from "./validation.js";

export type { SubscriptionUsage } from "./subscription-usage.js";

/** Whether a subscription covers requests. */
export type SubscriptionStatus = "active" | "cancelled";

/** A subscription with its usage in the current billing windows. */
export interface SubscriptionRecord {
  id: string;
  userId: string;
  groupId: string;
  status: SubscriptionStatus;
  startsAt: Date;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
  usage: SubscriptionUsage;
}

/** CreateSubscription's fields. */
export interface CreateSubscriptionInput {
  userId: string;
  groupId: string;
  /** Default now. */
  startsAt?: Date;
  expiresAt?: Date;
}

/** UpdateSubscription's fields; absent ones are left as they are. */
export interface UpdateSubscriptionInput {
  id: string;
  status?: SubscriptionStatus;
  expiresAt?: Date;
}

const NO_USAGE: SubscriptionUsage = { dailyUsd: 0n as PicoUsd, weeklyUsd: 0n, monthlyUsd: 0n };

function toRecord(row: Subscription, usage: SubscriptionUsage | undefined): SubscriptionRecord {
  return {
    id: row.id,
    userId: row.userId,
    groupId: row.groupId,
    status: row.status === "cancelled" ? "cancelled" : "active",
    startsAt: row.startsAt,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    usage: usage ?? NO_USAGE,
  };
}

/** Subscriptions of users to subscription-billed groups. */
export class SubscriptionCatalog {
  constructor(private readonly deps: CatalogDeps & { billingTimezone: string }) {}

  async create(input: CreateSubscriptionInput): Promise<SubscriptionRecord> {
    const em = this.deps.em.fork();
    const userId = lookupId(input.userId, "user", "user_id");
    const groupId = lookupId(input.groupId, "group", "group_id");
    const now = nowOf(this.deps);
    const startsAt = input.startsAt === undefined ? now : validDate(input.startsAt, "start_time");
    if (input.expiresAt === undefined) throw invalid("expire_time", "required");
    const expiresAt = validDate(input.expiresAt, "expire_time");
    if (expiresAt <= startsAt) throw invalid("expire_time", "must be after start_time");
    if (expiresAt <= now) throw invalid("expire_time", "must be in the future");
    if (!(await em.findOne(UserEntity, { id: userId }))) throw notFound("user", input.userId);
    const group = await em.findOne(GroupEntity, { id: groupId });
    if (!group) throw notFound("group", input.groupId);
    if (group.billingMode !== "subscription") {
      throw invalid("group_id", "the group is not in SUBSCRIPTION billing mode");
    }
    await this.#refuseOverlap(em, { userId, groupId, startsAt, expiresAt, id: null });
    const row = em.create(SubscriptionEntity, {
      id: newEntityId(),
      userId,
      groupId,
      status: "active",
      startsAt,
      expiresAt,
      createdAt: now,
      updatedAt: now,
    });
    await em.flush();
    recordMutation(
      this.deps,
      "subscription.create",
      { kind: "subscription", id: row.id },
      { userId, groupId },
    );
    return toRecord(row, NO_USAGE);
  }

  /** With the usage of its current daily, weekly and monthly windows. */
  async get(id: string): Promise<SubscriptionRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, id);
    const usage = await subscriptionUsage(em, [row.id], this.deps.clock.now(), this.deps.billingTimezone);
    return toRecord(row, usage.get(row.id));
  }

  /** Oldest first, optionally of one user and/or group; each with its window usage. */
  async list(filter: { userId?: string; groupId?: string } & PageRequest): Promise<Page<SubscriptionRecord>> {
    const size = resolvePageSize(filter.pageSize);
    const cursor = decodeCursor(filter.pageToken, ["instant", "uuid"] as const);
    const userId = optionalId(filter.userId, "user_id");
    const groupId = optionalId(filter.groupId, "group_id");
    const em = this.deps.em.fork();
    const rows = await em.find(
      SubscriptionEntity,
      {
        ...(userId === undefined ? {} : { userId }),
        ...(groupId === undefined ? {} : { groupId }),
        ...(cursor
          ? { $or: [{ createdAt: { $gt: cursor[0] } }, { createdAt: cursor[0], id: { $gt: cursor[1] } }] }
          : {}),
      },
      { orderBy: { createdAt: "asc", id: "asc" }, limit: size + 1 },
    );
    const kept = rows.slice(0, size);
    const usage = await subscriptionUsage(
      em,
      kept.map((r) => r.id),
      this.deps.clock.now(),
      this.deps.billingTimezone,
    );
    const last = kept[kept.length - 1];
    return {
      items: kept.map((r) => toRecord(r, usage.get(r.id))),
      nextPageToken: rows.length > size && last ? encodeCursor([last.createdAt, last.id]) : "",
    };
  }

  async update(input: UpdateSubscriptionInput): Promise<SubscriptionRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, input.id);
    if (input.expiresAt !== undefined) {
      const expiresAt = validDate(input.expiresAt, "expire_time");
      if (expiresAt <= row.startsAt) throw invalid("expire_time", "must be after start_time");
      row.expiresAt = expiresAt;
    }
    if (input.status !== undefined) row.status = input.status;
    if (row.status === "active") {
      await this.#refuseOverlap(em, { ...row, id: row.id });
    }
    row.updatedAt = nowOf(this.deps);
    await em.flush();
    recordMutation(
      this.deps,
      "subscription.update",
      { kind: "subscription", id: row.id },
      { status: row.status },
    );
    return this.get(row.id);
  }

  async delete(id: string): Promise<void> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, id);
    await em.remove(row).flush();
    recordMutation(
      this.deps,
      "subscription.delete",
      { kind: "subscription", id: row.id },
      { userId: row.userId },
    );
  }

  /** Two active subscriptions of one user to one group must not cover the same instant: billing would be ambiguous. */
  async #refuseOverlap(
    em: CatalogDeps["em"],
    s: { userId: string; groupId: string; startsAt: Date; expiresAt: Date; id: string | null },
  ): Promise<void> {
    const clash = await em.findOne(SubscriptionEntity, {
      userId: s.userId,
      groupId: s.groupId,
      status: "active",
      startsAt: { $lt: s.expiresAt },
      expiresAt: { $gt: s.startsAt },
      ...(s.id === null ? {} : { id: { $ne: s.id } }),
    });
    if (clash) {
      throw new SwitchyardError(ErrorCode.ALREADY_EXISTS, {
        message: `user ${s.userId} already has an active subscription to group ${s.groupId} in that period (${clash.id})`,
      });
    }
  }

  async #find(em: CatalogDeps["em"], id: string): Promise<Subscription> {
    const row = await em.findOne(SubscriptionEntity, { id: lookupId(id, "subscription") });
    if (!row) throw notFound("subscription", id);
    return row;
  }
}
