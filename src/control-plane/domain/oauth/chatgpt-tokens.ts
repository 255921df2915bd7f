import { randomUUID } from "node:crypto";
import type { Clock } from "../../../shared/clock.js";
import type { Logger } from "../../../shared/logger.js";
import type { ExpiringMap } from "../../store/kv/expiring-map.js";
import {
  type ChatGptCredential,
  jwtExpiry,
  needsRefresh,
  parseChatGptCredential,
} from "./chatgpt-credential.js";

/** What the token endpoint gave for a refresh token. */
export interface TokenGrant {
  accessToken: string;
  /** The rotated refresh token ("" when the endpoint kept the old one, which OpenAI's does not). */
  refreshToken: string;
  idToken: string;
  /** Seconds, when the endpoint said. */
  expiresIn: number | null;
}

/** The token endpoint refused the refresh token for good (revoked, reused, expired): the account needs an admin. */
export class RefreshRefusedError extends Error {
  override readonly name = "RefreshRefusedError";
}

/** Exchanges a refresh token; throws {@link RefreshRefusedError} on a definitive refusal, anything else on a fault. */
export interface TokenEndpoint {
  refresh(refreshToken: string): Promise<TokenGrant>;
}

/** Where an account's sealed tokens live (the account catalog): read fresh, written before use. */
export interface TokenVault {
  readChatGptCredential(accountId: string): Promise<string | null>;
  storeChatGptCredential(accountId: string, tokens: ChatGptCredential): Promise<void>;
}

/** Dependencies of {@link ChatGptTokens}. */
export interface ChatGptTokensDeps {
  vault: TokenVault;
  endpoint: TokenEndpoint;
  /** Shared across replicas (Redis in production): holds the refresh lock and the short refusal marker. */
  locks: ExpiringMap;
  clock: Clock;
  log: Logger;
  /** Puts the account in status error with the reason (a refused refresh). */
  markError(accountId: string, reason: string): Promise<void>;
  /** Refresh when this little of the access token's life is left. */
  marginMs?: number;
  /** The lock's time-to-live: a replica that dies mid-refresh holds the others up at most this long. */
  lockTtlMs?: number;
  /** How often a replica waiting for another's refresh looks again. */
  pollMs?: number;
}

/** The access token a request may use now. */
export interface UsableToken {
  accessToken: string;
  chatgptAccountId: string;
  expiresAt: number | null;
}

const REFRESH_MARGIN_MS = 3 * 60_000;
const LOCK_TTL_MS = 30_000;
const REFUSAL_MARKER_TTL_MS = 30_000;

/**
 * Keeps ChatGPT accounts' access tokens fresh (CHATGPT-ACCOUNTS.md "Credentials and refresh"). Refresh tokens are
 * single-use, so refreshing is single-flight twice over: one refresh per account in this process, and one across
 * replicas under a lock in the shared store. The lock holder re-reads the stored tokens first (another replica may
 * have refreshed already), exchanges the refresh token, stores the rotated one sealed, and only then hands out the
 * new access token; the others wait for the lock to go and read what it stored.
 */
export class ChatGptTokens {
  readonly #d: Required<Omit<ChatGptTokensDeps, "marginMs" | "lockTtlMs" | "pollMs">>;
  readonly #marginMs: number;
  readonly #lockTtlMs: number;
  readonly #pollMs: number;
  readonly #inflight = new Map<string, Promise<UsableToken | null>>();
  /** Tokens this replica refreshed or read since its account table was loaded. */
  readonly #latest = new Map<string, UsableToken>();

  constructor(deps: ChatGptTokensDeps) {
    this.#d = deps;
    this.#marginMs = deps.marginMs ?? REFRESH_MARGIN_MS;
    this.#lockTtlMs = deps.lockTtlMs ?? LOCK_TTL_MS;
    this.#pollMs = deps.pollMs ?? 50;
  }

  /**
   * The token to use for an account whose cached token is `known`: `known` itself while more than the margin is
   * left, else a refreshed one. `rejected` names a token the upstream refused (401): it is replaced even if it looks
   * fresh. Null when the account cannot be used (its refresh was refused: it is now in status error).
   */
  async usable(accountId: string, known: UsableToken, rejected = ""): Promise<UsableToken | null> {
    const now = this.#d.clock.now();
    if (known.accessToken !== rejected && !needsRefresh(known.expiresAt, now, this.#marginMs)) return known;
    const latest = this.#latest.get(accountId);
    if (latest && this.#fresh(latest, rejected || known.accessToken, now)) return latest;
    let running = this.#inflight.get(accountId);
    if (!running) {
      running = this.#refreshShared(accountId, known.accessToken, rejected).finally(() =>
        this.#inflight.delete(accountId),
      );
      this.#inflight.set(accountId, running);
    }
    const token = await running;
    if (token) this.#latest.set(accountId, token);
    return token;
  }

  #fresh(token: UsableToken, replacing: string, now: number): boolean {
    return token.accessToken !== replacing && !needsRefresh(token.expiresAt, now, this.#marginMs);
  }

  /**
   * Refreshes under the shared lock, or waits for the replica holding it and uses what it stored. `replacing` is the
   * token the caller had (a different, fresh one stored means another replica refreshed already); `rejected` is one
   * the upstream refused ("" for none), never handed out again.
   */
  async #refreshShared(accountId: string, replacing: string, rejected: string): Promise<UsableToken | null> {
    const lockKey = `oauth-refresh:${accountId}`;
    const deadline = this.#d.clock.now() + this.#lockTtlMs + 5_000;
    for (;;) {
      const owner = randomUUID();
      if (await this.#d.locks.setIfAbsent(lockKey, owner, this.#lockTtlMs)) {
        try {
          return await this.#refreshHoldingLock(accountId, replacing, rejected);
        } finally {
          await this.#d.locks.deleteIfEquals(lockKey, owner).catch(() => false);
        }
      }
      while ((await this.#d.locks.get(lockKey)) !== null) {
        if (this.#d.clock.now() > deadline) throw new Error("timed out waiting for a token refresh");
        await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
      }
      const refusal = await this.#d.locks.get(`oauth-refused:${accountId}`);
      if (refusal !== null) return null;
      const stored = await this.#stored(accountId);
      if (stored && this.#fresh(stored, replacing, this.#d.clock.now())) return stored;
      if (this.#d.clock.now() > deadline) throw new Error("timed out waiting for a token refresh");
    }
  }

  async #refreshHoldingLock(
    accountId: string,
    replacing: string,
    rejected: string,
  ): Promise<UsableToken | null> {
    const text = await this.#d.vault.readChatGptCredential(accountId);
    const stored = text === null ? null : parseChatGptCredential(text);
    if (!stored) return null;
    const now = this.#d.clock.now();
    if (this.#fresh(toUsable(stored), replacing, now)) return toUsable(stored);
    let grant: TokenGrant;
    try {
      grant = await this.#d.endpoint.refresh(stored.refreshToken);
    } catch (err) {
      if (!(err instanceof RefreshRefusedError)) {
        this.#d.log.warn({ err, accountId }, "chatgpt token refresh failed; will retry");
        // A fault, not a refusal: the stored token serves while it has not expired and was not refused.
        const old = toUsable(stored);
        if (old.accessToken !== rejected && (old.expiresAt === null || old.expiresAt > now)) return old;
        throw err;
      }
      const reason = `token refresh refused: ${err.message}`.slice(0, 200);
      await this.#d.locks.set(`oauth-refused:${accountId}`, reason, REFUSAL_MARKER_TTL_MS);
      await this.#d.markError(accountId, reason);
      this.#d.log.warn({ accountId, reason }, "chatgpt account put in error");
      return null;
    }
    const next: ChatGptCredential = {
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken || stored.refreshToken,
      idToken: grant.idToken || stored.idToken,
      chatgptAccountId: stored.chatgptAccountId,
      expiresAt:
        jwtExpiry(grant.accessToken) ?? (grant.expiresIn === null ? null : now + grant.expiresIn * 1000),
    };
    await this.#d.vault.storeChatGptCredential(accountId, next);
    this.#d.log.info({ accountId, expiresAt: next.expiresAt }, "chatgpt token refreshed");
    return toUsable(next);
  }

  async #stored(accountId: string): Promise<UsableToken | null> {
    const text = await this.#d.vault.readChatGptCredential(accountId);
    const stored = text === null ? null : parseChatGptCredential(text);
    return stored ? toUsable(stored) : null;
  }
}

function toUsable(c: ChatGptCredential): UsableToken {
  return { accessToken: c.accessToken, chatgptAccountId: c.chatgptAccountId, expiresAt: c.expiresAt };
}
