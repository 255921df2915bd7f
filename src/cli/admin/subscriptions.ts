import { create } from "@bufbuild/protobuf";
import {
  CreateSubscriptionResponseSchema,
  ListSubscriptionsResponseSchema,
  type Subscription,
  SubscriptionStatus,
  UpdateSubscriptionResponseSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { type AdminCommand, present, VALUE } from "./command.js";
import { resolveGroupId } from "./group-ref.js";
import { type Column, details, emit, label, table, usd, when } from "./output.js";
import { collectPages, LIMIT_NOTE, limitFlag } from "./pages.js";
import { resolveOptionalUserId, resolveUserId } from "./user-ref.js";

const COLUMNS: readonly Column<Subscription>[] = [
  ["ID", (s) => s.id],
  ["USER", (s) => s.userId],
  ["GROUP", (s) => s.groupId],
  ["STATUS", (s) => label(SubscriptionStatus, s.status)],
  ["STARTS", (s) => when(s.startTime)],
  ["EXPIRES", (s) => when(s.expireTime)],
  ["USED DAY/WEEK/MONTH", used],
];

function used(s: Subscription): string {
  return [s.dailyUsedUsd, s.weeklyUsedUsd, s.monthlyUsedUsd].map((v) => usd(v, "$0")).join(" / ");
}

function subscriptionDetails(subscription: Subscription | undefined): string {
  const s = present(subscription, "the subscription");
  return details([
    ["id", s.id],
    ["user", s.userId],
    ["group", s.groupId],
    ["status", label(SubscriptionStatus, s.status)],
    ["starts", when(s.startTime)],
    ["expires", when(s.expireTime)],
    ["used day/week/month", used(s)],
    ["created", when(s.createTime)],
  ]);
}

/** `admin subscriptions …`: users' subscriptions to subscription-billed groups. */
export const subscriptionCommands: readonly AdminCommand[] = [
  {
    name: "subscriptions assign",
    synopsis: "--user NAME|ID --group NAME|ID --expires-at ISO [--starts-at ISO]",
    summary: "subscribe a user to a subscription-billed group",
    notes: [
      "--user and --group take a UUID as an id and anything else as a name",
      "--expires-at takes ISO 8601 (2026-12-31T00:00:00Z) or a duration from now (30d)",
      "--starts-at takes ISO 8601 or a duration ago (1d); default now",
    ],
    flags: { user: VALUE, group: VALUE, "expires-at": VALUE, "starts-at": VALUE },
    prepare(input) {
      const user = input.required("user");
      const group = input.required("group");
      input.required("expires-at");
      const times = {
        expireTime: input.time("expires-at", "future"),
        startTime: input.time("starts-at", "past"),
      };
      return async ({ client, out }) => {
        const userId = await resolveUserId(client, user);
        const groupId = await resolveGroupId(client, group);
        const res = await client.createSubscription({ ...times, userId, groupId });
        emit(out, CreateSubscriptionResponseSchema, res, () => subscriptionDetails(res.subscription));
      };
    },
  },
  {
    name: "subscriptions list",
    synopsis: "[--user NAME|ID] [--group NAME|ID] [--limit N]",
    summary: "list subscriptions with their window usage, optionally of one user or group",
    notes: [LIMIT_NOTE],
    flags: { user: VALUE, group: VALUE, limit: VALUE },
    prepare(input) {
      const user = input.text("user") ?? "";
      const group = input.text("group") ?? "";
      const limit = limitFlag(input);
      return async ({ client, out }) => {
        const userId = await resolveOptionalUserId(client, user);
        const groupId = group === "" ? "" : await resolveGroupId(client, group);
        const page = await collectPages(limit, async (pageSize, pageToken) => {
          const res = await client.listSubscriptions({ userId, groupId, pageSize, pageToken });
          return { items: res.subscriptions, nextPageToken: res.nextPageToken };
        });
        const res = create(ListSubscriptionsResponseSchema, {
          subscriptions: page.items,
          nextPageToken: page.nextPageToken,
        });
        emit(out, ListSubscriptionsResponseSchema, res, () =>
          table(res.subscriptions, COLUMNS, "no subscriptions"),
        );
      };
    },
  },
  {
    name: "subscriptions revoke",
    args: ["ID"],
    synopsis: "ID",
    summary: "cancel a subscription (its user's requests in that group are refused from now; usage is kept)",
    flags: {},
    prepare(input) {
      const id = input.arg(0);
      return async ({ client, out }) => {
        const res = await client.updateSubscription({ id, status: SubscriptionStatus.CANCELLED });
        emit(out, UpdateSubscriptionResponseSchema, res, () => subscriptionDetails(res.subscription));
      };
    },
  },
];
