import { newEntityId } from "../../../shared/ids.js";
import { type Account, AccountEntity, GroupEntity } from "../../store/db/entities.js";
import type { CredentialCipher } from "../credential-cipher.js";
import { serializeChatGptCredential } from "../oauth/chatgpt-credential.js";
import {
  type AccountRecord,
  type AccountStatus,
  type AccountType,
  type SchedulableAccount,
  toAccountRecord,
  toSchedulableAccount,
} from "./account-records.js";
import {
  baseUrl,
  credential,
  DEFAULT_BASE_URL,
  knownPlatform,
  modelMapping,
  proxyUrl,
} from "./account-validation.js";
import { accountsOfGroupQuery } from "./accounts-of-group.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { type ChatGptCredentialInput, chatgptTokens, sealChatGptTokens } from "./chatgpt-account-state.js";
import { decodeCursor, type Page, type PageRequest, resolvePageSize, toPage } from "./pagination.js";
import { onUniqueViolation } from "./unique-violation.js";
import { MAX_CONCURRENCY } from "./users.js";
import {
  alreadyExists,
  intInRange,
  invalid,
  isUuid,
  lookupId,
  notFound,
  optionalId,
  requiredName,
} from "./validation.js";

/** CreateAccount's fields; absent ones take the proto's defaults. */
export interface CreateAccountInput {
  name: string;
  platform?: string;
  type?: AccountType;
  baseUrl?: string;
  /** API-key accounts: the key. */
  credential: string;
  /** OAuth (ChatGPT) accounts: the tokens. */
  chatgpt?: ChatGptCredentialInput;
  proxyUrl?: string;
  concurrency?: number;
  priority?: number;
  modelMapping?: Record<string, string>;
  groupIds: string[];
}

/** UpdateAccount's fields; absent ones are left as they are. */
export interface UpdateAccountInput {
  id: string;
  name?: string;
  baseUrl?: string;
  credential?: string;
  /** OAuth (ChatGPT) accounts: new tokens. */
  chatgpt?: ChatGptCredentialInput;
  proxyUrl?: string;
  concurrency?: number;
  priority?: number;
  /** Replaces the whole mapping (may be empty). */
  modelMapping?: Record<string, string>;
  /** Replaces the whole group list (at least one). */
  groupIds?: string[];
  status?: AccountStatus;
  schedulable?: boolean;
}

/** Default slots per account (proto Account.concurrency). */
export const DEFAULT_ACCOUNT_CONCURRENCY = 3;
/** Default scheduling priority, lower first (proto Account.priority). */
export const DEFAULT_ACCOUNT_PRIORITY = 50;
const NAME_MAX = 128;
const INT32 = 2 ** 31 - 1;

/** What the account catalog needs besides the common catalog deps. */
export interface AccountCatalogDeps extends CatalogDeps {
  cipher: CredentialCipher;
  /** Base URL of new ChatGPT accounts without one (SWITCHYARD_CHATGPT_CODEX_BASE_URL). */
  chatgptBaseUrl?: string;
}

/** Where ChatGPT accounts send requests unless configured otherwise. */
export const DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex";

/** Upstream accounts. Credentials are sealed with the cipher on the way in and opened only for scheduling. */
export class AccountCatalog {
  constructor(private readonly deps: AccountCatalogDeps) {}

  async create(input: CreateAccountInput): Promise<AccountRecord> {
    const name = requiredName(input.name, "name", NAME_MAX);
    const platform = knownPlatform(input.platform || "openai", "platform");
    const oauth = input.type === "oauth";
    const tokens = oauth ? chatgptTokens(input.chatgpt) : null;
    if (!oauth && input.chatgpt) throw invalid("chatgpt", "only with type OAUTH");
    if (oauth && input.credential !== "")
      throw invalid("credential", "leave empty with type OAUTH; use chatgpt");
    const sealed = this.deps.cipher.seal(
      tokens ? serializeChatGptCredential(tokens) : credential(input.credential),
    );
    const defaultBase = oauth ? (this.deps.chatgptBaseUrl ?? DEFAULT_CHATGPT_BASE_URL) : DEFAULT_BASE_URL;
    const em = this.deps.em.fork();
    const groupIds = await this.#existingGroups(em, input.groupIds);
    const now = nowOf(this.deps);
    const row = em.create(AccountEntity, {
      id: newEntityId(),
      name,
      platform,
      type: oauth ? "oauth" : "apikey",
      baseUrl: baseUrl(input.baseUrl || defaultBase),
      credentialCiphertext: sealed.ciphertext,
      credentialKeyId: sealed.keyId,
      credentialExpiresAt: tokens?.expiresAt ? new Date(tokens.expiresAt) : null,
      usageWindows: null,
      proxyUrl: proxyUrl(input.proxyUrl ?? ""),
      concurrency: intInRange(
        input.concurrency ?? DEFAULT_ACCOUNT_CONCURRENCY,
        "concurrency",
        1,
        MAX_CONCURRENCY,
      ),
      priority: intInRange(input.priority ?? DEFAULT_ACCOUNT_PRIORITY, "priority", -INT32, INT32),
      modelMapping: modelMapping(input.modelMapping ?? {}),
      groupIds,
      status: "active",
      schedulable: true,
      statusReason: "",
      health: { serverErrorStreak: 0, lastServerErrorAt: null, forbiddenAt: [] },
      lastUsedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("account", name),
    );
    recordMutation(
      this.deps,
      "account.create",
      { kind: "account", id: row.id },
      {
        name,
        platform,
        type: row.type,
        baseUrl: row.baseUrl,
        groupIds,
        hasProxy: row.proxyUrl !== "",
      },
    );
    return toAccountRecord(row);
  }

  async get(id: string): Promise<AccountRecord> {
    return toAccountRecord(await this.#find(this.deps.em.fork(), id));
  }

  /** By name, optionally only those serving a group. */
  async list(filter: { groupId?: string } & PageRequest): Promise<Page<AccountRecord>> {
    const size = resolvePageSize(filter.pageSize);
    const cursor = decodeCursor(filter.pageToken, ["text"] as const);
    const groupId = optionalId(filter.groupId, "group_id");
    const em = this.deps.em.fork();
    const after = cursor ? { name: { $gt: cursor[0] } } : {};
    const rows =
      groupId === undefined
        ? await em.find(AccountEntity, after, { orderBy: { name: "asc" }, limit: size + 1 })
        : await accountsOfGroupQuery(em, groupId)
            .andWhere(after)
            .orderBy({ name: "asc" })
            .limit(size + 1)
            .getResult();
    return toPage(rows, size, (r) => [r.name], toAccountRecord);
  }

  async update(input: UpdateAccountInput): Promise<AccountRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, input.id);
    const changed = this.#applyScalars(row, input);
    if (input.credential !== undefined) {
      if (row.type === "oauth") throw invalid("credential", "OAUTH accounts take new tokens in chatgpt");
      const sealed = this.deps.cipher.seal(credential(input.credential));
      row.credentialCiphertext = sealed.ciphertext;
      row.credentialKeyId = sealed.keyId;
      changed.push("credential");
    }
    if (input.chatgpt !== undefined) {
      if (row.type !== "oauth") throw invalid("chatgpt", "only for OAUTH accounts");
      sealChatGptTokens(row, chatgptTokens(input.chatgpt), this.deps.cipher);
      changed.push("chatgpt");
    }
    if (input.groupIds !== undefined) {
      row.groupIds = await this.#existingGroups(em, input.groupIds);
      changed.push("group_ids");
    }
    row.updatedAt = nowOf(this.deps);
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("account", row.name),
    );
    recordMutation(this.deps, "account.update", { kind: "account", id: row.id }, { changed });
    return toAccountRecord(row);
  }

  /** Deletes an account; leases already granted on it run to their end. */
  async delete(id: string): Promise<void> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, id);
    await em.remove(row).flush();
    recordMutation(this.deps, "account.delete", { kind: "account", id: row.id }, { name: row.name });
  }

  /** Clears cooldowns, failure history and an `error` status (an admin's `disabled` stays). */
  async clearCooldown(id: string): Promise<AccountRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, id);
    row.rateLimitedUntil = null;
    row.overloadedUntil = null;
    row.tempUnschedulableUntil = null;
    row.statusReason = "";
    row.health = { serverErrorStreak: 0, lastServerErrorAt: null, forbiddenAt: [] };
    if (row.status === "error") row.status = "active";
    row.updatedAt = nowOf(this.deps);
    await em.flush();
    recordMutation(
      this.deps,
      "account.clear_cooldown",
      { kind: "account", id: row.id },
      { status: row.status },
    );
    return toAccountRecord(row);
  }

  /**
   * Every account serving a group, whatever its state (filtering is the scheduler's job), with credentials opened.
   * An account whose credential cannot be opened (its key id is not configured) is left out and logged by id.
   */
  async listForScheduling(groupId: string): Promise<SchedulableAccount[]> {
    if (!isUuid(groupId)) return [];
    const rows = await accountsOfGroupQuery(this.deps.em.fork(), groupId.toLowerCase())
      .orderBy({ name: "asc" })
      .getResult();
    return rows.flatMap((row) => {
      const opened = this.#open(row);
      return opened === null ? [] : [toSchedulableAccount(row, opened)];
    });
  }

  /** Every account, whatever its state, with credentials opened (the hot path's directory caches this). */
  async listAllForScheduling(): Promise<SchedulableAccount[]> {
    const rows = await this.deps.em.fork().find(AccountEntity, {}, { orderBy: { name: "asc" } });
    return rows.flatMap((row) => {
      const opened = this.#open(row);
      return opened === null ? [] : [toSchedulableAccount(row, opened)];
    });
  }

  /** One account with its credential opened; null when it does not exist or cannot be opened. */
  async getForScheduling(id: string): Promise<SchedulableAccount | null> {
    if (!isUuid(id)) return null;
    const row = await this.deps.em.fork().findOne(AccountEntity, { id: id.toLowerCase() });
    const opened = row ? this.#open(row) : null;
    return row && opened !== null ? toSchedulableAccount(row, opened) : null;
  }

  #open(row: Account): string | null {
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

  /** Applies the plain fields present in an update; returns the proto names of what changed. */
  #applyScalars(row: Account, input: UpdateAccountInput): string[] {
    const changed: string[] = [];
    const set = <K extends keyof Account>(field: string, prop: K, value: Account[K] | undefined) => {
      if (value === undefined) return;
      row[prop] = value;
      changed.push(field);
    };
    set("name", "name", input.name === undefined ? undefined : requiredName(input.name, "name", NAME_MAX));
    set("base_url", "baseUrl", input.baseUrl === undefined ? undefined : baseUrl(input.baseUrl));
    set("proxy_url", "proxyUrl", input.proxyUrl === undefined ? undefined : proxyUrl(input.proxyUrl));
    const concurrency = input.concurrency;
    set(
      "concurrency",
      "concurrency",
      concurrency === undefined ? undefined : intInRange(concurrency, "concurrency", 1, MAX_CONCURRENCY),
    );
    set(
      "priority",
      "priority",
      input.priority === undefined ? undefined : intInRange(input.priority, "priority", -INT32, INT32),
    );
    set(
      "model_mapping",
      "modelMapping",
      input.modelMapping === undefined ? undefined : modelMapping(input.modelMapping),
    );
    if (input.status === "error")
      throw invalid("status", "ERROR is set by Switchyard; use ACTIVE or DISABLED");
    set("status", "status", input.status);
    set("schedulable", "schedulable", input.schedulable);
    return changed;
  }

  async #find(em: CatalogDeps["em"], id: string): Promise<Account> {
    const row = await em.findOne(AccountEntity, { id: lookupId(id, "account") });
    if (!row) throw notFound("account", id);
    return row;
  }

  /** The distinct, existing groups named; at least one. */
  async #existingGroups(em: CatalogDeps["em"], ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) throw invalid("group_ids", "at least one group is required");
    const wanted = [...new Set(ids.map((id) => lookupId(id, "group", "group_ids")))];
    const found = await em.find(GroupEntity, { id: { $in: wanted } }, { fields: ["id"] });
    const known = new Set(found.map((g) => g.id));
    const missing = wanted.find((id) => !known.has(id));
    if (missing !== undefined) throw notFound("group", missing);
    return wanted;
  }
}
