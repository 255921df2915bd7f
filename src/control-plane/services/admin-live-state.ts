import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type AdminService,
  ClearStickySessionsResponseSchema,
  LeaseInfoSchema,
  ListLeasesResponseSchema,
  ListStickySessionsResponseSchema,
  StickySessionSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import type { LeaseBook } from "../domain/admission/lease-book.js";
import type { ExpiringMap } from "../store/kv/expiring-map.js";

type LiveStateMethods = Pick<
  ServiceImpl<typeof AdminService>,
  "listLeases" | "listStickySessions" | "clearStickySessions"
>;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * The AdminService calls over live, expiring state (leases and sticky bindings), which lives in the lease store's
 * Redis (or memory) rather than PostgreSQL. Scans: for operators, not the hot path.
 */
export function createLiveStateAdmin(deps: { book: LeaseBook; affinity: ExpiringMap }): LiveStateMethods {
  return {
    async listLeases(request) {
      const limit = clampLimit(request.limit);
      const leases = [];
      for await (const r of deps.book.all()) {
        if (request.userId && r.userId !== request.userId) continue;
        if (request.accountId && r.accountId !== request.accountId) continue;
        leases.push(
          create(LeaseInfoSchema, {
            leaseId: r.leaseId,
            requestId: r.requestId,
            instanceId: r.instanceId,
            userId: r.userId,
            keyId: r.keyId,
            groupId: r.groupId,
            accountId: r.accountId ?? "",
            model: r.model,
            attempt: r.attempt,
            acquireTime: timestampFromMs(r.acquiredAt),
            expireTime: timestampFromMs(r.expiresAt),
          }),
        );
        if (leases.length >= limit) break;
      }
      return create(ListLeasesResponseSchema, { leases });
    },

    async listStickySessions(request) {
      const limit = clampLimit(request.limit);
      const sessions = [];
      for await (const entry of deps.affinity.scan("sticky:")) {
        const binding = parseBindingKey(entry.key);
        if (!binding) continue;
        if (request.userId && binding.userId !== request.userId) continue;
        if (request.accountId && entry.value !== request.accountId) continue;
        sessions.push(
          create(StickySessionSchema, {
            ...binding,
            accountId: entry.value,
            expireTime: timestampFromMs(entry.expiresAt),
          }),
        );
        if (sessions.length >= limit) break;
      }
      return create(ListStickySessionsResponseSchema, { sessions });
    },

    async clearStickySessions(request) {
      if (!request.userId && !request.accountId && !request.sessionHash) {
        throw new SwitchyardError(ErrorCode.INVALID_ARGUMENT, {
          message: "user_id, account_id or session_hash: at least one filter is required",
          param: "user_id",
        });
      }
      if (request.sessionHash && (!request.groupId || !request.userId)) {
        throw new SwitchyardError(ErrorCode.INVALID_ARGUMENT, {
          message: "session_hash: needs group_id and user_id",
          param: "session_hash",
        });
      }
      let cleared = 0;
      for await (const entry of deps.affinity.scan("sticky:")) {
        const b = parseBindingKey(entry.key);
        if (!b) continue;
        if (request.userId && b.userId !== request.userId) continue;
        if (request.accountId && entry.value !== request.accountId) continue;
        if (request.sessionHash && (b.sessionHash !== request.sessionHash || b.groupId !== request.groupId))
          continue;
        if (await deps.affinity.delete(entry.key)) cleared++;
      }
      return create(ClearStickySessionsResponseSchema, { cleared });
    },
  };
}

function clampLimit(limit: number): number {
  if (limit <= 0) return DEFAULT_LIMIT;
  return Math.min(limit, MAX_LIMIT);
}

/** Reverses scheduling's `sticky:{group}:{user}:{hash}` (each part URI-encoded). */
function parseBindingKey(key: string): { groupId: string; userId: string; sessionHash: string } | null {
  const parts = key.split(":");
  if (parts.length !== 4 || parts[0] !== "sticky") return null;
  const [, groupId = "", userId = "", sessionHash = ""] = parts.map(decodeURIComponent);
  return { groupId, userId, sessionHash };
}
