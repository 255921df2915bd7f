import {
  ClearStickySessionsResponseSchema,
  type LeaseInfo,
  ListLeasesResponseSchema,
  ListStickySessionsResponseSchema,
  type StickySession,
} from "../../gen/switchyard/v1/admin_pb.js";
import { type AdminClient, type AdminCommand, VALUE } from "./command.js";
import type { CommandInput } from "./command-line.js";
import { type Column, emit, table, when } from "./output.js";
import { UsageError } from "./usage-error.js";
import { resolveOptionalUserId } from "./user-ref.js";

const LEASE_COLUMNS: readonly Column<LeaseInfo>[] = [
  ["LEASE", (l) => l.leaseId],
  ["USER", (l) => l.userId],
  ["ACCOUNT", (l) => l.accountId || "-"],
  ["MODEL", (l) => l.model],
  ["ATTEMPT", (l) => String(l.attempt)],
  ["INSTANCE", (l) => l.instanceId],
  ["ACQUIRED", (l) => when(l.acquireTime)],
  ["EXPIRES", (l) => when(l.expireTime)],
];

const SESSION_COLUMNS: readonly Column<StickySession>[] = [
  ["GROUP", (s) => s.groupId],
  ["USER", (s) => s.userId],
  ["SESSION", (s) => s.sessionHash],
  ["ACCOUNT", (s) => s.accountId],
  ["EXPIRES", (s) => when(s.expireTime)],
];

/** The server's cap on live-state listings, which are scans rather than pages. */
const MAX_LIVE_LIMIT = 1000;
const LIVE_NOTE = `--limit N: at most N (default 100, at most ${MAX_LIVE_LIMIT})`;

/** The filters every live-state command takes. */
function filters(input: CommandInput) {
  return { userId: input.text("user") ?? "", accountId: input.text("account") ?? "" };
}

/** The filters with a `--user` name resolved to the user's id. */
async function withUserId<T extends { userId: string }>(client: AdminClient, request: T): Promise<T> {
  return { ...request, userId: await resolveOptionalUserId(client, request.userId) };
}

/** `admin leases …` and `admin sessions …`: live, expiring state in the lease store. */
export const liveStateCommands: readonly AdminCommand[] = [
  {
    name: "leases list",
    synopsis: "[--user NAME|ID] [--account ID] [--limit N]",
    summary: "list live leases (requests holding a user or account slot)",
    notes: [LIVE_NOTE],
    flags: { user: VALUE, account: VALUE, limit: VALUE },
    prepare(input) {
      const request = { ...filters(input), limit: input.int("limit", 1, MAX_LIVE_LIMIT) ?? 0 };
      return async ({ client, out }) => {
        const res = await client.listLeases(await withUserId(client, request));
        emit(out, ListLeasesResponseSchema, res, () => table(res.leases, LEASE_COLUMNS, "no leases"));
      };
    },
  },
  {
    name: "sessions list",
    synopsis: "[--user NAME|ID] [--account ID] [--limit N]",
    summary: "list live sticky sessions (conversations bound to an account)",
    notes: [LIVE_NOTE],
    flags: { user: VALUE, account: VALUE, limit: VALUE },
    prepare(input) {
      const request = { ...filters(input), limit: input.int("limit", 1, MAX_LIVE_LIMIT) ?? 0 };
      return async ({ client, out }) => {
        const res = await client.listStickySessions(await withUserId(client, request));
        emit(out, ListStickySessionsResponseSchema, res, () =>
          table(res.sessions, SESSION_COLUMNS, "no sticky sessions"),
        );
      };
    },
  },
  {
    name: "sessions clear",
    synopsis: "--user NAME|ID | --account ID",
    summary: "unbind the sticky sessions of a user, of an account, or of both",
    flags: { user: VALUE, account: VALUE },
    prepare(input) {
      const request = filters(input);
      if (request.userId === "" && request.accountId === "") {
        throw new UsageError("give --user, --account or both: clearing every session is not supported");
      }
      return async ({ client, out }) => {
        const res = await client.clearStickySessions(await withUserId(client, request));
        emit(out, ClearStickySessionsResponseSchema, res, () => `cleared ${res.cleared} sticky sessions\n`);
      };
    },
  },
];
