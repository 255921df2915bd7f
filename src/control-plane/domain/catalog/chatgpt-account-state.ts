import { type Account, AccountEntity } from "../../store/db/entities.js";
import type { CredentialCipher } from "../credential-cipher.js";
import {
  type ChatGptCredential,
  CredentialShapeError,
  chatgptCredentialFrom,
  serializeChatGptCredential,
} from "../oauth/chatgpt-credential.js";
import type { TokenVault } from "../oauth/chatgpt-tokens.js";
import type { UsageWindowStore } from "../oauth/usage-windows.js";
import type { UsageWindowsRecord } from "./account-records.js";
import type { AccountCatalogDeps } from "./accounts.js";
import { nowOf } from "./catalog-deps.js";
import { invalid, isUuid, lookupId, notFound } from "./validation.js";

/** The tokens of a ChatGPT account as an admin gives them (see proto ChatGptCredential). */
export interface ChatGptCredentialInput {
  accessToken: string;
  refreshToken: string;
  idToken: string;
  chatgptAccountId: string;
}

/** The admin's tokens checked; a shape error becomes INVALID_ARGUMENT naming the field (never quoting a token). */
export function chatgptTokens(input: ChatGptCredentialInput | undefined): ChatGptCredential {
  if (!input) throw invalid("chatgpt", "required with type OAUTH");
  try {
    return chatgptCredentialFrom(input);
  } catch (err) {
    if (err instanceof CredentialShapeError) throw invalid(err.field, err.message);
    throw err;
  }
}

/** Seals the tokens into the account row's credential columns; only their expiry stays in clear. */
export function sealChatGptTokens(row: Account, tokens: ChatGptCredential, cipher: CredentialCipher): void {
  const sealed = cipher.seal(serializeChatGptCredential(tokens));
  row.credentialCiphertext = sealed.ciphertext;
  row.credentialKeyId = sealed.keyId;
  row.credentialExpiresAt = tokens.expiresAt === null ? null : new Date(tokens.expiresAt);
}

/**
 * What the control plane itself writes on ChatGPT accounts, besides admin changes: rotated tokens, the error status
 * after a refused refresh, and the usage windows the upstream reports. No audit lines (these are not admin changes);
 * changes that scheduling must see are announced on the change feed.
 */
export class ChatGptAccountState implements TokenVault, UsageWindowStore {
  constructor(private readonly deps: AccountCatalogDeps) {}

  /**
   * The stored tokens of a ChatGPT account, read fresh from the database (never a cache: another replica may just
   * have rotated them); null when the account is gone, not OAuth, or cannot be opened.
   */
  async readChatGptCredential(id: string): Promise<string | null> {
    if (!isUuid(id)) return null;
    const row = await this.deps.em.fork().findOne(AccountEntity, { id: id.toLowerCase() });
    if (row?.type !== "oauth") return null;
    try {
      return this.deps.cipher.open({ keyId: row.credentialKeyId, ciphertext: row.credentialCiphertext });
    } catch {
      this.deps.log.error(
        { accountId: row.id, keyId: row.credentialKeyId },
        "account credential cannot be opened",
      );
      return null;
    }
  }

  /**
   * Seals and stores refreshed tokens (the rotated refresh token with them) and tells every replica. Written before
   * the new access token is used, so a crash right after a refresh never loses the only valid refresh token.
   */
  async storeChatGptCredential(id: string, tokens: ChatGptCredential): Promise<void> {
    const em = this.deps.em.fork();
    const row = await em.findOne(AccountEntity, { id: lookupId(id, "account") });
    if (!row) throw notFound("account", id);
    sealChatGptTokens(row, tokens, this.deps.cipher);
    row.updatedAt = nowOf(this.deps);
    await em.flush();
    this.deps.changes.publish({ kind: "account", id: row.id });
  }

  /**
   * Puts an active account in status error with the reason (a ChatGPT account whose refresh was refused), and tells
   * every replica, so it is not scheduled until an administrator clears it.
   */
  async markError(id: string, reason: string): Promise<void> {
    if (!isUuid(id)) return;
    await this.deps.em
      .getConnection()
      .execute(
        "update accounts set status = case when status = 'active' then 'error' else status end, status_reason = ?, updated_at = now() where id = ?",
        [reason, id],
      );
    this.deps.changes.publish({ kind: "account", id });
  }

  /** Keeps a subscription account's reported usage windows. */
  async saveUsageWindows(id: string, windows: UsageWindowsRecord): Promise<void> {
    if (!isUuid(id)) return;
    await this.deps.em
      .getConnection()
      .execute("update accounts set usage_windows = ?::jsonb where id = ?", [JSON.stringify(windows), id]);
  }
}
