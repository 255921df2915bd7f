import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type AdminService,
  GetOverviewResponseSchema,
  ListWaitingRequestsResponseSchema,
  WaitingRequestSchema,
  WaitTarget,
} from "../../gen/switchyard/v1/admin_pb.js";
import type { Clock } from "../../shared/clock.js";
import { formatUsd } from "../../shared/money.js";
import type { LeaseBook } from "../domain/admission/lease-book.js";
import type { TrafficWindow } from "../domain/admission/traffic-window.js";
import type { WaitingRequests } from "../domain/admission/waiting-requests.js";
import { startOfDay } from "../domain/catalog/billing-windows.js";
import type { UsageQueries } from "../domain/catalog/index.js";

type LiveFigureMethods = Pick<ServiceImpl<typeof AdminService>, "listWaitingRequests" | "getOverview">;

/** What the live-figure RPCs read. */
export interface LiveFigureDeps {
  book: LeaseBook;
  waiting: WaitingRequests;
  traffic: TrafficWindow;
  usage: UsageQueries;
  clock: Clock;
  billingTimezone: string;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
/** Waiters counted for the overview at most (the queues are bounded far below this). */
const MAX_COUNTED_WAITERS = 100_000;

/** The AdminService calls behind the admin web UI's live screens: wait queues and the overview. */
export function createLiveFigureAdmin(deps: LiveFigureDeps): LiveFigureMethods {
  return {
    async listWaitingRequests(request) {
      const limit = request.limit <= 0 ? DEFAULT_LIMIT : Math.min(request.limit, MAX_LIMIT);
      const waiters = await deps.waiting.list({ userId: request.userId, limit });
      return create(ListWaitingRequestsResponseSchema, {
        requests: waiters.map((w) =>
          create(WaitingRequestSchema, {
            requestId: w.requestId,
            instanceId: w.instanceId,
            userId: w.userId,
            keyId: w.keyId,
            groupId: w.groupId,
            model: w.model,
            target: w.target === "user_slot" ? WaitTarget.USER_SLOT : WaitTarget.ACCOUNT_SLOT,
            waitStartTime: timestampFromMs(w.since),
            deadlineTime: timestampFromMs(w.deadline),
          }),
        ),
      });
    },

    async getOverview() {
      const now = deps.clock.now();
      const [leases, waiters, today] = await Promise.all([
        countLeases(deps.book, now),
        deps.waiting.list({ limit: MAX_COUNTED_WAITERS }),
        deps.usage.summarize("model", { start: new Date(startOfDay(now, deps.billingTimezone)) }),
      ]);
      const traffic = deps.traffic.totals();
      const sum = (pick: (r: (typeof today)[number]) => bigint) => today.reduce((a, r) => a + pick(r), 0n);
      const input = sum((r) => r.inputTokens);
      const cached = sum((r) => r.cachedInputTokens);
      return create(GetOverviewResponseSchema, {
        requestsPerSecond: traffic.requests / (traffic.windowMs / 1000),
        errorRate: traffic.requests === 0 ? 0 : Math.min(1, traffic.errors / traffic.requests),
        windowRequests: BigInt(traffic.requests),
        windowErrors: BigInt(traffic.errors),
        inFlightLeases: leases,
        waitingRequests: waiters.length,
        requestsToday: sum((r) => r.requests),
        spendTodayUsd: formatUsd(sum((r) => r.totalCostUsd)),
        inputTokensToday: input,
        cachedInputTokensToday: cached,
        cacheHitRatioToday: input === 0n ? 0 : Number(cached) / Number(input),
        billingTimezone: deps.billingTimezone,
        time: timestampFromMs(now),
      });
    },
  };
}

async function countLeases(book: LeaseBook, now: number): Promise<number> {
  let count = 0;
  for await (const record of book.all()) if (record.expiresAt > now) count++;
  return count;
}
