import type { Clock } from "../../../shared/clock.js";
import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import { leaseIdFor } from "../../../shared/ids.js";
import type { Logger } from "../../../shared/logger.js";
import type { ExpiringMap } from "../../store/kv/expiring-map.js";
import type { AcquireRefusal, LeaseStore } from "../../store/leases/lease-store.js";
import type { RequestRate } from "../../store/rates/request-rate.js";
import { type AccountCredentials, STORED_CREDENTIALS } from "../oauth/account-credentials.js";
import { type AttemptFailure, penaliseAccount } from "./account-penalty.js";
import { type AccountPicker, accountSlotKey, type Pick, type PickRequest } from "./account-picker.js";
import { CredentialGate } from "./credential-gate.js";
import type { AccountEntry, Directory, KeyRecord } from "./directory.js";
import { assertEligible } from "./eligibility.js";
import { assertClientAllowed, assertSpendRoom } from "./key-controls.js";
import type { LeaseBook, LeaseRecord } from "./lease-book.js";
import { freeLeaseSlots, userSlotKey } from "./lease-keeping.js";
import type { LeaseTickets } from "./lease-ticket.js";
import type { WaitingRequests } from "./waiting-requests.js";

/** Limits of the user wait queue (BEHAVIOUR.md "Concurrency and waiting"). */
export const USER_MAX_WAITING = 20;
export const USER_WAIT_TIMEOUT_MS = 30_000;
/** The rolling window of a user's requests-per-minute limit. */
const RPM_WINDOW_MS = 60_000;

/** One request asking to run. */
export interface AdmitInput {
  requestId: string;
  keySha256: Uint8Array;
  model: string;
  stream: boolean;
  endpoint: number;
  sessionHash: string;
  previousResponseId: string;
  /** 0 for the server's default. */
  maxWaitMs: number;
  /** The client's address as the data plane resolved it ("unknown" when it could not). */
  clientIp: string;
  /** Sent again after a reconnect: answer with the lease already granted under this request id, if any. */
  resend: boolean;
  instanceId: string;
  signal: AbortSignal;
}

/** A lease with the account it currently runs on. */
export interface Grant {
  record: LeaseRecord;
  /** The record sealed for the holder, to re-assert the lease with if it is lost. */
  ticket: Uint8Array;
  account: AccountEntry;
  userWaitMs: number;
  accountWaitMs: number;
}

/** Dependencies of {@link AdmissionService}. */
export interface AdmissionDeps {
  directory: Directory;
  leases: LeaseStore;
  picker: AccountPicker;
  book: LeaseBook;
  tickets: LeaseTickets;
  affinity: ExpiringMap;
  /** Users' requests per rolling minute. */
  rates: RequestRate;
  clock: Clock;
  log: Logger;
  leaseTtlMs: number;
  /** Where waiting admits are listed for operators. */
  waiting: WaitingRequests;
  /** Fresh tokens for ChatGPT accounts; default: credentials as stored. */
  credentials?: AccountCredentials;
}

/**
 * Decides whether a request may run now and on which account (DESIGN.md §2–§4): key and eligibility, user slot
 * (FIFO wait), account selection and account slot, lease bookkeeping; and later reroute, renew and release.
 */
export class AdmissionService {
  readonly #deps: AdmissionDeps;
  readonly #credentials: CredentialGate;
  /** Admits waiting on this replica, so a cancel can withdraw them. */
  readonly #waiting = new Map<string, { abort: AbortController; groupId: string }>();
  /** While set, new admits wait for it: holders are re-asserting leases the lease store may have lost. */
  #held: Promise<void> | null = null;

  constructor(deps: AdmissionDeps) {
    this.#deps = deps;
    this.#credentials = new CredentialGate({
      ...deps,
      credentials: deps.credentials ?? STORED_CREDENTIALS,
      seal: (record) => deps.tickets.seal(record),
    });
  }

  /** Resolves a key without taking a slot. */
  async authenticate(keySha256: Uint8Array): Promise<KeyRecord> {
    const key = await this.#deps.directory.keyByHash(keySha256);
    if (!key) throw new SwitchyardError(ErrorCode.INVALID_API_KEY);
    if (key.keyStatus !== "active") throw new SwitchyardError(ErrorCode.API_KEY_DISABLED);
    if (key.expiresAt !== null && key.expiresAt <= this.#deps.clock.now()) {
      throw new SwitchyardError(ErrorCode.API_KEY_EXPIRED);
    }
    return key;
  }

  /**
   * New admits wait until `until` settles (re-assertion after a lease-store outage), so leases still running are
   * counted before anything new is let in. Resent admits of grants already made are not held.
   */
  holdAdmits(until: Promise<void>): void {
    const held = until
      .catch(() => undefined)
      .finally(() => {
        if (this.#held === held) this.#held = null;
      });
    this.#held = held;
  }

  async admit(input: AdmitInput): Promise<Grant> {
    if (input.resend) {
      const existing = await this.#deps.book.get(leaseIdFor(input.instanceId, input.requestId));
      if (existing?.requestId === input.requestId) return this.#regrant(existing);
    }
    if (this.#held) await this.#held;
    const key = await this.authenticate(input.keySha256);
    const now = this.#deps.clock.now();
    assertClientAllowed(key.controls, input.clientIp);
    assertEligible(key, now);
    assertSpendRoom(key.controls, now);
    await this.#countRequest(key, input.requestId, now);
    const leaseId = leaseIdFor(input.instanceId, input.requestId);
    const request = this.#pickRequest(input, key, leaseId, input.signal);
    const fast = await this.#deps.picker.pickWithUserSlot({
      ...request,
      userKey: userSlotKey(key.userId),
      userLimit: key.userConcurrency,
    });
    if (fast) {
      try {
        return await this.#grant(
          input,
          key,
          leaseId,
          await this.#credentials.withCredential(fast, request),
          0,
        );
      } catch (err) {
        await this.#deps.leases.release(userSlotKey(key.userId), leaseId).catch(() => false);
        throw err;
      }
    }
    // Only a request that may wait can be withdrawn, so only it gets its own signal.
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    input.signal.addEventListener("abort", onAbort, { once: true });
    this.#waiting.set(input.requestId, { abort, groupId: key.groupId });
    try {
      return await this.#admitSlowly(input, key, leaseId, abort.signal);
    } finally {
      this.#waiting.delete(input.requestId);
      input.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Counts the request against its user's requests-per-minute limit; 429 with Retry-After past it. */
  async #countRequest(key: KeyRecord, requestId: string, now: number): Promise<void> {
    const limit = key.controls.userRpmLimit;
    if (limit <= 0) return;
    const waitMs = await this.#deps.rates.take(`rpm:${key.userId}`, requestId, limit, RPM_WINDOW_MS, now);
    if (waitMs > 0) throw new SwitchyardError(ErrorCode.USER_RATE_LIMITED, { retryAfterMs: waitMs });
  }

  #pickRequest(input: AdmitInput, key: KeyRecord, leaseId: string, signal: AbortSignal): PickRequest {
    return {
      holder: leaseId,
      groupId: key.groupId,
      userId: key.userId,
      model: input.model,
      sessionHash: input.sessionHash,
      previousResponseId: input.previousResponseId,
      excludedAccountIds: new Set<string>(),
      ttlMs: this.#deps.leaseTtlMs,
      signal,
    };
  }

  /** The general path: wait for the user slot in FIFO order, then select with wait plans. */
  async #admitSlowly(
    input: AdmitInput,
    key: KeyRecord,
    leaseId: string,
    signal: AbortSignal,
  ): Promise<Grant> {
    const timeoutMs =
      input.maxWaitMs > 0 ? Math.min(input.maxWaitMs, USER_WAIT_TIMEOUT_MS) : USER_WAIT_TIMEOUT_MS;
    const since = this.#deps.clock.now();
    const waiter = {
      requestId: input.requestId,
      instanceId: input.instanceId,
      userId: key.userId,
      keyId: key.keyId,
      groupId: key.groupId,
      model: input.model,
      since,
    };
    await this.#deps.waiting.enter({ ...waiter, target: "user_slot", deadline: since + timeoutMs });
    try {
      return await this.#waitThenPick(input, key, leaseId, signal, timeoutMs, (deadline) =>
        this.#deps.waiting.enter({ ...waiter, target: "account_slot", deadline }),
      );
    } finally {
      // Off the reply path; the store keeps this after the writes above, on the same connection.
      void this.#deps.waiting.leave(input.requestId);
    }
  }

  /** Waits for the user slot, then picks an account (telling `onAccountWait` before waiting for one). */
  async #waitThenPick(
    input: AdmitInput,
    key: KeyRecord,
    leaseId: string,
    signal: AbortSignal,
    timeoutMs: number,
    onAccountWait: (deadline: number) => Promise<void>,
  ): Promise<Grant> {
    const userKey = userSlotKey(key.userId);
    const user = await this.#deps.leases.acquire({
      key: userKey,
      holder: leaseId,
      limit: key.userConcurrency,
      ttlMs: this.#deps.leaseTtlMs,
      wait: { maxWaiting: USER_MAX_WAITING, timeoutMs, signal },
    });
    if (!user.granted) throw userRefusal(user.reason);
    try {
      if (user.waitedMs > 0) {
        const fresh = await this.authenticate(input.keySha256);
        assertEligible(fresh, this.#deps.clock.now());
      }
      const request = {
        ...this.#pickRequest(input, key, leaseId, signal),
        onWait: (waitMs: number) => onAccountWait(this.#deps.clock.now() + waitMs),
      };
      const pick = await this.#credentials.withCredential(await this.#deps.picker.pick(request), request);
      return await this.#grant(input, key, leaseId, pick, user.waitedMs);
    } catch (err) {
      await this.#deps.leases.release(userKey, leaseId).catch(() => false);
      throw err;
    }
  }

  /** Books a lease whose slots are held. */
  async #grant(
    input: AdmitInput,
    key: KeyRecord,
    leaseId: string,
    pick: Pick,
    userWaitMs: number,
  ): Promise<Grant> {
    const now = this.#deps.clock.now();
    const record: LeaseRecord = {
      leaseId,
      requestId: input.requestId,
      instanceId: input.instanceId,
      userId: key.userId,
      keyId: key.keyId,
      groupId: key.groupId,
      model: input.model,
      stream: input.stream,
      endpoint: input.endpoint,
      sessionHash: input.sessionHash,
      accountId: pick.account.view.id,
      upstreamModel: pick.upstreamModel,
      attempt: 1,
      sticky: pick.sticky,
      userSlotHeld: true,
      acquiredAt: now,
      expiresAt: now + this.#deps.leaseTtlMs,
      ttlMs: this.#deps.leaseTtlMs,
    };
    // Written off the reply path: later operations on this lease read it over the same store connection, which
    // keeps commands in order, so they find it. A failed write breaks the lease; its slots are given back.
    this.#deps.book.put(record).catch((err: unknown) => {
      this.#deps.log.error({ err, leaseId }, "lease record not written; lease released");
      void freeLeaseSlots(this.#deps.leases, record, true).catch(() => false);
    });
    this.#deps.directory.touchAccount(pick.account.view.id, now);
    return {
      record,
      ticket: this.#deps.tickets.seal(record),
      account: pick.account,
      userWaitMs,
      accountWaitMs: pick.waitedMs,
    };
  }

  /** A repeated admit (after a reconnect) gets the lease already granted. */
  async #regrant(record: LeaseRecord): Promise<Grant> {
    const accounts = await this.#deps.directory.accountsOfGroup(record.groupId);
    const account = accounts.find((a) => a.view.id === record.accountId);
    if (!account) throw new SwitchyardError(ErrorCode.LEASE_NOT_FOUND);
    return { record, ticket: this.#deps.tickets.seal(record), account, userWaitMs: 0, accountWaitMs: 0 };
  }

  /** Admits waiting on this replica by group (for the metrics, read at scrape time). */
  waitingByGroup(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { groupId } of this.#waiting.values()) counts.set(groupId, (counts.get(groupId) ?? 0) + 1);
    return counts;
  }

  /** Withdraws a waiting admit of this replica; false when it is not waiting here. */
  cancelAdmit(requestId: string): boolean {
    const waiting = this.#waiting.get(requestId);
    waiting?.abort.abort();
    return waiting !== undefined;
  }

  /** Penalises the failed account, frees its slot, and takes a slot on another account for the same lease. */
  async reroute(
    leaseId: string,
    failure: AttemptFailure,
    excluded: readonly string[],
    signal: AbortSignal,
  ): Promise<Grant> {
    const record = await this.#liveRecord(leaseId);
    const retry = await this.#credentials.retryAfterUnauthorized(record, failure);
    if (retry !== "refused" && retry !== null) return retry;
    if (record.accountId !== null) {
      // A refused refresh has put the account in error with its reason already: nothing to add.
      if (retry !== "refused") await penaliseAccount(this.#deps, record, failure);
      await this.#deps.leases.release(accountSlotKey(record.accountId), leaseId);
    }
    const excludedIds = new Set([...excluded, ...(record.accountId ? [record.accountId] : [])]);
    record.accountId = null;
    let pick: Pick;
    try {
      const request: PickRequest = {
        holder: leaseId,
        groupId: record.groupId,
        userId: record.userId,
        model: record.model,
        sessionHash: record.sessionHash,
        previousResponseId: "",
        excludedAccountIds: excludedIds,
        ttlMs: record.ttlMs,
        signal,
      };
      pick = await this.#credentials.withCredential(await this.#deps.picker.pick(request), request);
    } catch (err) {
      // No account now: the record keeps the user slot only, for the release that follows.
      await this.#deps.book.update(record);
      throw err;
    }
    Object.assign(record, {
      accountId: pick.account.view.id,
      upstreamModel: pick.upstreamModel,
      attempt: record.attempt + 1,
      sticky: pick.sticky,
      expiresAt: this.#deps.clock.now() + record.ttlMs,
    });
    if (!(await this.#deps.book.update(record))) {
      // Released while this reroute ran: the account slot just taken goes back.
      await this.#deps.leases.release(accountSlotKey(pick.account.view.id), leaseId);
      throw new SwitchyardError(ErrorCode.LEASE_NOT_FOUND);
    }
    return {
      record,
      ticket: this.#deps.tickets.seal(record),
      account: pick.account,
      userWaitMs: 0,
      accountWaitMs: pick.waitedMs,
    };
  }

  async #liveRecord(leaseId: string): Promise<LeaseRecord> {
    const record = await this.#deps.book.get(leaseId);
    if (!record || record.expiresAt <= this.#deps.clock.now()) {
      throw new SwitchyardError(ErrorCode.LEASE_NOT_FOUND);
    }
    return record;
  }
}

function userRefusal(reason: AcquireRefusal): SwitchyardError {
  switch (reason) {
    case "queue_full":
    case "busy":
      return new SwitchyardError(ErrorCode.USER_QUEUE_FULL);
    case "timeout":
      return new SwitchyardError(ErrorCode.USER_WAIT_TIMEOUT);
    case "cancelled":
      return new SwitchyardError(ErrorCode.USER_WAIT_TIMEOUT, { message: "request cancelled while waiting" });
  }
}
