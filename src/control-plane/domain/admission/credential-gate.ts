import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { LeaseStore } from "../../store/leases/lease-store.js";
import type { AccountCredentials } from "../oauth/account-credentials.js";
import type { UpstreamFailureView } from "../scheduling/index.js";
import { type AccountPicker, accountSlotKey, type Pick, type PickRequest } from "./account-picker.js";
import type { Grant } from "./admission-service.js";
import type { Directory } from "./directory.js";
import type { LeaseBook, LeaseRecord } from "./lease-book.js";

/** Dependencies of {@link CredentialGate}. */
export interface CredentialGateDeps {
  credentials: AccountCredentials;
  directory: Directory;
  leases: LeaseStore;
  picker: AccountPicker;
  book: LeaseBook;
  clock: Clock;
  log: Logger;
  /** Seals a lease record into the ticket its holder keeps. */
  seal(record: LeaseRecord): Uint8Array;
}

/**
 * Where admission meets upstream credentials (ChatGPT accounts' short-lived tokens): a picked account is leased only
 * with a token usable now, and a 401 is answered by one refresh and a retry on the same account.
 */
export class CredentialGate {
  readonly #deps: CredentialGateDeps;

  constructor(deps: CredentialGateDeps) {
    this.#deps = deps;
  }

  /**
   * The pick with a credential usable now (a ChatGPT account's token refreshed when it is about to expire). An
   * account that cannot be used gives its slot back and is excluded, and another is picked; the caller frees the
   * user slot if no account is left.
   */
  async withCredential(pick: Pick, request: PickRequest): Promise<Pick> {
    const credentials = this.#deps.credentials;
    const excluded = new Set(request.excludedAccountIds);
    let current = pick;
    for (;;) {
      const account = await credentials.usable(current.account).catch((err: unknown) => {
        this.#deps.log.warn({ err, accountId: current.account.view.id }, "account credential not usable");
        return null;
      });
      if (account) return account === current.account ? current : { ...current, account };
      await this.#deps.leases.release(accountSlotKey(current.account.view.id), request.holder);
      excluded.add(current.account.view.id);
      current = await this.#deps.picker.pick({ ...request, excludedAccountIds: excluded });
    }
  }

  /**
   * A ChatGPT account's 401 (CHATGPT-ACCOUNTS.md "Usage windows and errors"): the token is refreshed and the same
   * account retried, once per account and request, keeping its slot. Null when this is not such a case (the caller
   * fails over as usual); "refused" when the refresh was refused and the account is now in error.
   */
  async retryAfterUnauthorized(
    record: LeaseRecord,
    failure: UpstreamFailureView,
  ): Promise<Grant | "refused" | null> {
    if (failure.kind !== "http_status" || failure.status !== 401 || record.accountId === null) return null;
    if (record.tokenRetriedOn === record.accountId) return null;
    const accounts = await this.#deps.directory.accountsOfGroup(record.groupId);
    const account = accounts.find((a) => a.view.id === record.accountId);
    if (!account?.oauth) return null;
    if (/^token_(invalidated|revoked)\b/.test(failure.message)) {
      // The upstream says the token is dead for good: no refresh brings it back.
      const reason = `upstream 401: ${failure.message}`.slice(0, 200);
      await this.#deps.directory.recordOutcome(account.view.id, account.health, { kind: "error", reason });
      return "refused";
    }
    const credentials = this.#deps.credentials;
    const fresh = await credentials.usable(account, true).catch((err: unknown) => {
      this.#deps.log.warn({ err, accountId: account.view.id }, "token refresh after a 401 failed");
      return undefined;
    });
    if (fresh === null) return "refused";
    if (fresh === undefined) return null;
    Object.assign(record, {
      tokenRetriedOn: account.view.id,
      attempt: record.attempt + 1,
      expiresAt: this.#deps.clock.now() + record.ttlMs,
    });
    await this.#deps.book.put(record);
    this.#deps.log.info({ accountId: account.view.id }, "retrying with a refreshed token after a 401");
    return {
      record,
      ticket: this.#deps.seal(record),
      account: fresh,
      userWaitMs: 0,
      accountWaitMs: 0,
    };
  }
}
