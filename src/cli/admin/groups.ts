import { create } from "@bufbuild/protobuf";
import {
  BillingMode,
  CreateGroupResponseSchema,
  GetGroupResponseSchema,
  type Group,
  ListGroupsResponseSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { type AdminCommand, present, VALUE } from "./command.js";
import { isUuid } from "./flag-values.js";
import { listCommand } from "./list-command.js";
import { type Column, details, emit, label, usd, when } from "./output.js";

const BILLING = { balance: BillingMode.BALANCE, subscription: BillingMode.SUBSCRIPTION } as const;

const COLUMNS: readonly Column<Group>[] = [
  ["ID", (g) => g.id],
  ["NAME", (g) => g.name],
  ["BILLING", (g) => label(BillingMode, g.billingMode)],
  ["RATE", (g) => `×${g.rateMultiplier}`],
  ["LIMITS (DAY/WEEK/MONTH)", limits],
  ["DESCRIPTION", (g) => g.description],
];

function limits(g: Group): string {
  if (g.billingMode !== BillingMode.SUBSCRIPTION) return "-";
  return [g.dailyLimitUsd, g.weeklyLimitUsd, g.monthlyLimitUsd].map((v) => usd(v, "none")).join(" / ");
}

function groupDetails(group: Group | undefined): string {
  const g = present(group, "the group");
  return details([
    ["id", g.id],
    ["name", g.name],
    ["description", g.description],
    ["billing", label(BillingMode, g.billingMode)],
    ["rate multiplier", g.rateMultiplier],
    ["daily limit", usd(g.dailyLimitUsd, "none")],
    ["weekly limit", usd(g.weeklyLimitUsd, "none")],
    ["monthly limit", usd(g.monthlyLimitUsd, "none")],
    ["created", when(g.createTime)],
    ["updated", when(g.updateTime)],
  ]);
}

/** `admin groups …`: pools of accounts that keys route through, with their billing terms. */
export const groupCommands: readonly AdminCommand[] = [
  {
    name: "groups create",
    synopsis:
      "--name N [--rate-multiplier X] [--description TEXT] [--billing balance|subscription] " +
      "[--daily-limit USD] [--weekly-limit USD] [--monthly-limit USD]",
    summary: "create a group",
    notes: [
      "--rate-multiplier multiplies every request's cost (default 1)",
      "--billing defaults to balance; the limits apply to subscription groups",
    ],
    flags: {
      name: VALUE,
      "rate-multiplier": VALUE,
      description: VALUE,
      billing: VALUE,
      "daily-limit": VALUE,
      "weekly-limit": VALUE,
      "monthly-limit": VALUE,
    },
    prepare(input) {
      const request = {
        name: input.required("name"),
        rateMultiplier: input.decimal("rate-multiplier") ?? "",
        description: input.text("description") ?? "",
        billingMode: input.choice("billing", BILLING) ?? BillingMode.BALANCE,
        dailyLimitUsd: input.usd("daily-limit") ?? "",
        weeklyLimitUsd: input.usd("weekly-limit") ?? "",
        monthlyLimitUsd: input.usd("monthly-limit") ?? "",
      };
      return async ({ client, out }) => {
        const res = await client.createGroup(request);
        emit(out, CreateGroupResponseSchema, res, () => groupDetails(res.group));
      };
    },
  },
  listCommand({
    name: "groups list",
    summary: "list groups",
    schema: ListGroupsResponseSchema,
    fetchPage: async (client, pageSize, pageToken) => {
      const res = await client.listGroups({ pageSize, pageToken });
      return { items: res.groups, nextPageToken: res.nextPageToken };
    },
    response: (page) =>
      create(ListGroupsResponseSchema, { groups: page.items, nextPageToken: page.nextPageToken }),
    columns: COLUMNS,
    none: "no groups",
  }),
  {
    name: "groups get",
    args: ["NAME|ID"],
    synopsis: "NAME|ID",
    summary: "show a group (a UUID is taken as an id, anything else as a name)",
    flags: {},
    prepare(input) {
      const ref = input.arg(0);
      const request = isUuid(ref) ? { id: ref } : { name: ref };
      return async ({ client, out }) => {
        const res = await client.getGroup(request);
        emit(out, GetGroupResponseSchema, res, () => groupDetails(res.group));
      };
    },
  },
];
