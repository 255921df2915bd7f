import { create } from "@bufbuild/protobuf";
import {
  CreateUserResponseSchema,
  GetUserResponseSchema,
  ListUsersResponseSchema,
  UpdateUserResponseSchema,
  type User,
  UserStatus,
} from "../../gen/switchyard/v1/admin_pb.js";
import { type AdminCommand, present, requireSomeChange, VALUE } from "./command.js";
import { UINT32_MAX } from "./flag-values.js";
import { listCommand } from "./list-command.js";
import { type Column, details, emit, label, usd, when } from "./output.js";

const STATUSES = { active: UserStatus.ACTIVE, disabled: UserStatus.DISABLED } as const;

const COLUMNS: readonly Column<User>[] = [
  ["ID", (u) => u.id],
  ["NAME", (u) => u.name],
  ["STATUS", (u) => label(UserStatus, u.status)],
  ["BALANCE", (u) => usd(u.balanceUsd)],
  ["CONCURRENCY", (u) => concurrency(u.concurrency)],
  ["RPM", (u) => rpm(u.rpmLimit)],
  ["CREATED", (u) => when(u.createTime)],
];

function concurrency(n: number): string {
  return n === 0 ? "unlimited" : String(n);
}

function rpm(n: number): string {
  return n === 0 ? "unlimited" : `${n}/min`;
}

function userDetails(user: User | undefined): string {
  const u = present(user, "the user");
  return details([
    ["id", u.id],
    ["name", u.name],
    ["status", label(UserStatus, u.status)],
    ["balance", usd(u.balanceUsd)],
    ["concurrency", concurrency(u.concurrency)],
    ["requests per minute", rpm(u.rpmLimit)],
    ["created", when(u.createTime)],
    ["updated", when(u.updateTime)],
  ]);
}

/** `admin users …`: people and applications that own API keys and are billed. */
export const userCommands: readonly AdminCommand[] = [
  {
    name: "users create",
    synopsis: "--name N [--balance USD] [--concurrency N] [--rpm N]",
    summary: "create a user",
    notes: [
      "--balance defaults to 0; --concurrency (requests in flight) defaults to 5, 0 is unlimited",
      "--rpm caps the requests the user starts in any rolling minute (all keys together); default 0, unlimited",
    ],
    flags: { name: VALUE, balance: VALUE, concurrency: VALUE, rpm: VALUE },
    prepare(input) {
      const request = {
        name: input.required("name"),
        balanceUsd: input.usd("balance") ?? "",
        concurrency: input.int("concurrency", 0, UINT32_MAX),
        rpmLimit: input.int("rpm", 0, UINT32_MAX),
      };
      return async ({ client, out }) => {
        const res = await client.createUser(request);
        emit(out, CreateUserResponseSchema, res, () => userDetails(res.user));
      };
    },
  },
  listCommand({
    name: "users list",
    summary: "list users, oldest first",
    schema: ListUsersResponseSchema,
    fetchPage: async (client, pageSize, pageToken) => {
      const res = await client.listUsers({ pageSize, pageToken });
      return { items: res.users, nextPageToken: res.nextPageToken };
    },
    response: (page) =>
      create(ListUsersResponseSchema, { users: page.items, nextPageToken: page.nextPageToken }),
    columns: COLUMNS,
    none: "no users",
  }),
  {
    name: "users get",
    args: ["ID"],
    synopsis: "ID",
    summary: "show a user",
    flags: {},
    prepare(input) {
      const id = input.arg(0);
      return async ({ client, out }) => {
        const res = await client.getUser({ id });
        emit(out, GetUserResponseSchema, res, () => userDetails(res.user));
      };
    },
  },
  {
    name: "users update",
    args: ["ID"],
    synopsis: "ID [--name N] [--balance USD] [--concurrency N] [--rpm N] [--status active|disabled]",
    summary: "change a user (--balance sets the balance, it does not add to it)",
    notes: ["--rpm 0 removes the requests-per-minute limit"],
    flags: { name: VALUE, balance: VALUE, concurrency: VALUE, rpm: VALUE, status: VALUE },
    prepare(input) {
      const changes = {
        name: input.text("name"),
        balanceUsd: input.usd("balance"),
        concurrency: input.int("concurrency", 0, UINT32_MAX),
        rpmLimit: input.int("rpm", 0, UINT32_MAX),
        status: input.choice("status", STATUSES),
      };
      requireSomeChange(changes, "--name, --balance, --concurrency, --rpm, --status");
      const request = { id: input.arg(0), ...changes };
      return async ({ client, out }) => {
        const res = await client.updateUser(request);
        emit(out, UpdateUserResponseSchema, res, () => userDetails(res.user));
      };
    },
  },
];
