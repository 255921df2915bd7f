import type { Clock } from "../../../shared/clock.js";
import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import type { ExpiringMap } from "../../store/kv/expiring-map.js";
import type { LeaseStore } from "../../store/leases/lease-store.js";
import {
  type AccountLoad,
  type AffinityDecision,
  bindingWriteAfter,
  noCandidateError,
  planSelection,
  type RandomSource,
  responsePinKey,
  type SelectionPlan,
  stickyBindingKey,
  type WaitPlan,
} from "../scheduling/index.js";
import type { AccountEntry, Directory } from "./directory.js";

/** What a pick is for. */
export interface PickRequest {
  holder: string;
  groupId: string;
  userId: string;
  model: string;
  sessionHash: string;
  previousResponseId: string;
  excludedAccountIds: ReadonlySet<string>;
  ttlMs: number;
  signal: AbortSignal;
  /** Told before the pick waits for a busy account's slot, with how long it may wait. */
  onWait?: (waitMs: number) => Promise<void>;
}

/** The account slot taken. */
export interface Pick {
  account: AccountEntry;
  upstreamModel: string;
  sticky: boolean;
  waitedMs: number;
}

/** Slot key of an account. */
export const accountSlotKey = (accountId: string): string => `account:${accountId}`;

/**
 * Chooses an account and takes one of its slots (BEHAVIOUR.md "Account selection"): plan with current loads, try
 * slots in order, re-read loads and try once more, then follow the wait plan. Writes the session binding after.
 */
/**
 * A hit refreshes its binding's TTL at most this often per replica: a one-hour TTL refreshed on every request would
 * cost a Redis write per request for nothing.
 */
const BINDING_REFRESH_MS = 60_000;
const MAX_REFRESH_MEMORY = 100_000;

export class AccountPicker {
  /** When this replica last wrote each binding it refreshed. */
  readonly #refreshed = new Map<string, number>();

  constructor(
    private readonly deps: {
      directory: Directory;
      leases: LeaseStore;
      affinity: ExpiringMap;
      clock: Clock;
      random: RandomSource;
    },
  ) {}

  /**
   * The fast path: the user slot and the best free account slot taken together in one store step, when neither
   * needs a wait. Returns null when the caller must take the slow path (user at its limit or with waiters, every
   * account busy, or a busy sticky account that may be waited on). Throws when no account can serve at all.
   */
  async pickWithUserSlot(
    request: PickRequest & { userKey: string; userLimit: number },
  ): Promise<Pick | null> {
    const accounts = await this.deps.directory.accountsOfGroup(request.groupId);
    const { binding, pin, bindingKey } = await this.#affinityOf(request);
    const plan = planSelection({
      request: this.#selectionRequest(request),
      accounts: accounts.map((a) => a.view),
      loads: new Map(),
      pin,
      binding,
      random: this.deps.random,
    });
    if (plan.kind === "unavailable") throw noCandidateError(plan.reason, request.model);
    if (plan.attempts.length === 0) return null;
    const byId = new Map(accounts.map((a) => [a.view.id, a]));
    const attempts = plan.attempts.filter((a) => byId.has(a.accountId));
    const result = await this.deps.leases.acquirePair({
      holder: request.holder,
      ttlMs: request.ttlMs,
      first: { key: request.userKey, limit: request.userLimit },
      choices: attempts.map((attempt) => {
        const view = byId.get(attempt.accountId)?.view;
        return {
          key: accountSlotKey(attempt.accountId),
          limit: Math.max(0, view?.concurrency ?? 0) || 1,
          rank: attempt.sticky ? -1 : (view?.priority ?? 0),
          lead: attempt.sticky,
        };
      }),
    });
    if (!result.granted) return null;
    const attempt = attempts[result.choice];
    const account = attempt ? byId.get(attempt.accountId) : undefined;
    if (!attempt || !account) return null;
    this.#bindLater(bindingKey, plan.sticky, account.view.id);
    return { account, upstreamModel: attempt.upstreamModel, sticky: attempt.sticky, waitedMs: 0 };
  }

  async #affinityOf(request: PickRequest): Promise<{
    binding: { accountId: string } | null;
    pin: { accountId: string } | null;
    bindingKey: string | null;
  }> {
    const bindingKey = stickyBindingKey(request);
    const pinKey = responsePinKey(request.previousResponseId);
    const keys = [bindingKey, pinKey].filter((k): k is string => k !== null);
    const values = keys.length > 0 ? await this.deps.affinity.getMany(keys) : [];
    const lookup = (key: string | null) => {
      const value = key === null ? null : (values[keys.indexOf(key)] ?? null);
      return value === null ? null : { accountId: value };
    };
    return { binding: lookup(bindingKey), pin: lookup(pinKey), bindingKey };
  }

  #selectionRequest(request: PickRequest) {
    return {
      groupId: request.groupId,
      model: request.model,
      excludedAccountIds: request.excludedAccountIds,
      now: this.deps.clock.now(),
    };
  }

  /**
   * The general path: plan with current loads, try slots in order, re-read loads and try once more, then follow
   * the wait plan.
   */
  async pick(request: PickRequest): Promise<Pick> {
    const accounts = await this.deps.directory.accountsOfGroup(request.groupId);
    const byId = new Map(accounts.map((a) => [a.view.id, a]));
    const { binding, pin, bindingKey } = await this.#affinityOf(request);
    for (let round = 0; round < 2; round++) {
      const plan = await this.#plan(request, accounts, binding, pin);
      if (plan.kind === "unavailable") throw noCandidateError(plan.reason, request.model);
      for (const attempt of plan.attempts) {
        const account = byId.get(attempt.accountId);
        if (!account) continue;
        const result = await this.deps.leases.acquire({
          key: accountSlotKey(account.view.id),
          holder: request.holder,
          limit: account.view.concurrency,
          ttlMs: request.ttlMs,
        });
        if (result.granted) {
          this.#bindLater(bindingKey, plan.sticky, account.view.id);
          return { account, upstreamModel: attempt.upstreamModel, sticky: attempt.sticky, waitedMs: 0 };
        }
      }
      if (plan.waitPlan && (round === 1 || plan.attempts.length === 0)) {
        return this.#wait(request, plan.waitPlan, byId, bindingKey, plan.sticky);
      }
    }
    throw new SwitchyardError(ErrorCode.NO_AVAILABLE_ACCOUNT);
  }

  async #plan(
    request: PickRequest,
    accounts: readonly AccountEntry[],
    binding: { accountId: string } | null,
    pin: { accountId: string } | null,
  ): Promise<SelectionPlan> {
    const loads = await this.deps.leases.loads(accounts.map((a) => accountSlotKey(a.view.id)));
    const byAccount = new Map<string, AccountLoad>();
    for (const a of accounts) {
      const load = loads.get(accountSlotKey(a.view.id));
      if (load) byAccount.set(a.view.id, load);
    }
    return planSelection({
      request: this.#selectionRequest(request),
      accounts: accounts.map((a) => a.view),
      loads: byAccount,
      pin,
      binding,
      random: this.deps.random,
    });
  }

  async #wait(
    request: PickRequest,
    plan: WaitPlan,
    byId: ReadonlyMap<string, AccountEntry>,
    bindingKey: string | null,
    sticky: AffinityDecision,
  ): Promise<Pick> {
    const account = byId.get(plan.accountId);
    if (!account) throw new SwitchyardError(ErrorCode.NO_AVAILABLE_ACCOUNT);
    await request.onWait?.(plan.timeoutMs);
    const result = await this.deps.leases.acquire({
      key: accountSlotKey(account.view.id),
      holder: request.holder,
      limit: account.view.concurrency,
      ttlMs: request.ttlMs,
      wait: { maxWaiting: plan.maxWaiting, timeoutMs: plan.timeoutMs, signal: request.signal },
    });
    if (!result.granted) {
      if (result.reason === "timeout") throw new SwitchyardError(ErrorCode.ACCOUNT_WAIT_TIMEOUT);
      if (result.reason === "cancelled") {
        throw new SwitchyardError(ErrorCode.ACCOUNT_WAIT_TIMEOUT, {
          message: "request cancelled while waiting",
        });
      }
      throw new SwitchyardError(ErrorCode.NO_AVAILABLE_ACCOUNT);
    }
    this.#bindLater(bindingKey, sticky, account.view.id);
    return {
      account,
      upstreamModel: plan.upstreamModel,
      sticky: plan.kind === "sticky",
      waitedMs: result.waitedMs,
    };
  }

  /**
   * Writes the session binding off the reply path: a binding is a cache-locality hint, so a lost write only costs a
   * prompt-cache miss later, never a wrong answer.
   */
  #bindLater(bindingKey: string | null, decision: AffinityDecision, servedAccountId: string): void {
    this.#bind(bindingKey, decision, servedAccountId).catch(() => undefined);
  }

  async #bind(bindingKey: string | null, decision: AffinityDecision, servedAccountId: string): Promise<void> {
    if (bindingKey === null) return;
    const now = this.deps.clock.now();
    const write = bindingWriteAfter(decision, servedAccountId, now);
    if (write.op === "set") {
      const hit =
        (decision.kind === "use" || decision.kind === "wait") &&
        decision.candidate.account.id === write.accountId;
      if (hit && now - (this.#refreshed.get(bindingKey) ?? Number.NEGATIVE_INFINITY) < BINDING_REFRESH_MS)
        return;
      if (this.#refreshed.size >= MAX_REFRESH_MEMORY) this.#refreshed.clear();
      this.#refreshed.set(bindingKey, now);
      await this.deps.affinity.set(bindingKey, write.accountId, Math.max(1, write.expiresAt - now));
    } else if (write.op === "delete") {
      this.#refreshed.delete(bindingKey);
      await this.deps.affinity.delete(bindingKey);
    }
  }
}
