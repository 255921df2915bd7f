import type { TokenCounts } from "./cost.js";

/** How an admitted request ended (the proto's Outcome, as stored). */
export type UsageOutcome =
  | "completed"
  | "incomplete"
  | "failed_upstream"
  | "client_aborted"
  | "truncated"
  | "abandoned";

/** One admitted request's usage, as measured by the data plane (or written for an abandoned lease). */
export interface UsageInput {
  requestId: string;
  leaseId: string;
  userId: string;
  keyId: string;
  groupId: string;
  accountId: string | null;
  requestedModel: string;
  upstreamModel: string;
  endpoint: "responses" | "chat_completions" | "unspecified";
  stream: boolean;
  tokens: TokenCounts;
  /** A count the upstream reported could not be trusted and is recorded as 0. */
  usageOutOfRange: boolean;
  /** The client's address and User-Agent as the data plane saw them; "" when unknown. */
  clientIp: string;
  userAgent: string;
  outcome: UsageOutcome;
  statusCode: number;
  firstTokenMs: number;
  durationMs: number;
  failoverCount: number;
  upstreamRequestId: string;
  /** Epoch ms. */
  startedAt: number;
}

/** What recording a batch did. */
export interface LedgerResult {
  recorded: number;
  duplicates: number;
}

/**
 * Records usage and bills it exactly once: inserting a request's record and applying its cost (balance or
 * subscription window, key quota) happen in one transaction, and a request id already recorded changes nothing —
 * except an `abandoned` record (written when a lease expired unreleased), which the real report replaces and bills.
 * One record the store refuses never blocks the others of its batch.
 */
export interface UsageLedger {
  record(inputs: readonly UsageInput[]): Promise<LedgerResult>;
}
