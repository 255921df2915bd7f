import { type Timestamp, timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  AccountStatus,
  AccountType,
  ApiKeyStatus,
  BillingMode,
  MatchMode,
  UserStatus,
} from "../../gen/switchyard/v1/admin_pb.js";
import type { AdminClient } from "../admin/command.js";
import type {
  AccountPlan,
  ChatGptAccountPlan,
  ImportKind,
  ImportPlan,
  ImportStep,
  NotCarried,
} from "./sub2api-plan.js";

/** What happened to one planned row. */
export type StepOutcome = "created" | "would create" | "present" | "failed";

/** One planned row and its outcome; `detail` says why it failed. */
export interface StepResult {
  kind: ImportKind;
  name: string;
  outcome: StepOutcome;
  detail?: string;
}

/** An import's report: every planned row's outcome, and what was never carried. */
export interface ImportReport {
  applied: boolean;
  results: StepResult[];
  notCarried: NotCarried[];
  partial: NotCarried[];
}

/**
 * Runs a plan against AdminService: each row is looked up first (users, groups, accounts and rules by name, keys by
 * hash, subscriptions by user, group and dates), so a row already there is `present` and a second run changes
 * nothing; an account of the other kind under the same name is `failed`, never taken for the planned one. Without
 * `apply` nothing is written (`would create`). A row the control plane refuses is `failed` with its message; the rest
 * go on.
 */
export async function runImportPlan(
  client: AdminClient,
  plan: ImportPlan,
  apply: boolean,
): Promise<ImportReport> {
  const ids = new Ids(client);
  const results: StepResult[] = [];
  for (const step of plan.steps) {
    try {
      const present = await ids.find(step);
      if (present !== null) results.push({ kind: step.kind, name: step.name, outcome: "present" });
      else if (!apply) results.push({ kind: step.kind, name: step.name, outcome: "would create" });
      else {
        await create(client, ids, step);
        results.push({ kind: step.kind, name: step.name, outcome: "created" });
      }
    } catch (err) {
      const detail =
        err instanceof ConnectError ? err.rawMessage : err instanceof Error ? err.message : String(err);
      results.push({ kind: step.kind, name: step.name, outcome: "failed", detail });
    }
  }
  return { applied: apply, results, notCarried: plan.notCarried, partial: plan.partial };
}

/** Switchyard ids of carried rows, by name; lists read once. */
class Ids {
  readonly #users = new Map<string, string>();
  readonly #groups = new Map<string, string>();
  #accounts: Map<string, { id: string; type: AccountType }> | null = null;
  #rules: Set<string> | null = null;

  constructor(private readonly client: AdminClient) {}

  /** The row's Switchyard id when it exists (any non-null value for keys and rules), else null. */
  async find(step: ImportStep): Promise<string | null> {
    switch (step.kind) {
      case "user":
        return this.user(step.name);
      case "group":
        return this.group(step.name);
      case "account":
      case "chatgpt account":
        return this.account(step);
      case "api key":
        return notFoundAsNull(
          async () => (await this.client.getApiKey({ keySha256: step.keySha256 })).apiKey?.id,
        );
      case "subscription": {
        const userId = await this.user(step.userName);
        const groupId = await this.group(step.groupName);
        if (userId === null || groupId === null) return null;
        const { subscriptions } = await this.client.listSubscriptions({ userId, groupId, pageSize: 500 });
        const near = (ts: Timestamp | undefined, at: Date) =>
          ts !== undefined && Math.abs(timestampMs(ts) - at.getTime()) < 1000;
        const same = subscriptions.find(
          (s) => near(s.startTime, step.startsAt) && near(s.expireTime, step.expiresAt),
        );
        return same?.id ?? null;
      }
      case "rule":
        return (await this.rules()).has(step.name) ? step.name : null;
    }
  }

  async user(name: string): Promise<string | null> {
    const known = this.#users.get(name);
    if (known !== undefined) return known;
    const id = await notFoundAsNull(async () => (await this.client.getUser({ name })).user?.id);
    if (id !== null) this.#users.set(name, id);
    return id;
  }

  async group(name: string): Promise<string | null> {
    const known = this.#groups.get(name);
    if (known !== undefined) return known;
    const id = await notFoundAsNull(async () => (await this.client.getGroup({ name })).group?.id);
    if (id !== null) this.#groups.set(name, id);
    return id;
  }

  async required(kind: "user" | "group", name: string): Promise<string> {
    const id = kind === "user" ? await this.user(name) : await this.group(name);
    if (id === null) throw new Error(`${kind} ${JSON.stringify(name)} was not created`);
    return id;
  }

  /** The account of that name, when it is of the planned kind (an API key, or a ChatGPT subscription). */
  async account(step: AccountPlan | ChatGptAccountPlan): Promise<string | null> {
    const found = (await this.accounts()).get(step.name);
    if (found === undefined) return null;
    if (found.type !== accountTypeOf(step)) {
      const other = found.type === AccountType.OAUTH ? "a ChatGPT account" : "an API-key account";
      throw new Error(`${other} named ${JSON.stringify(step.name)} already exists`);
    }
    return found.id;
  }

  async accounts(): Promise<Map<string, { id: string; type: AccountType }>> {
    if (this.#accounts) return this.#accounts;
    const names = new Map<string, { id: string; type: AccountType }>();
    let pageToken = "";
    do {
      const page = await this.client.listAccounts({ pageSize: 500, pageToken });
      for (const a of page.accounts) names.set(a.name, { id: a.id, type: a.type });
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    this.#accounts = names;
    return names;
  }

  async rules(): Promise<Set<string>> {
    if (this.#rules) return this.#rules;
    const names = new Set<string>();
    let pageToken = "";
    do {
      const page = await this.client.listPassthroughRules({ pageSize: 500, pageToken });
      for (const r of page.rules) names.add(r.name);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    this.#rules = names;
    return names;
  }
}

async function create(client: AdminClient, ids: Ids, step: ImportStep): Promise<void> {
  switch (step.kind) {
    case "user": {
      const { user } = await client.createUser(step);
      if (step.disabled) await client.updateUser({ id: user?.id ?? "", status: UserStatus.DISABLED });
      return;
    }
    case "group":
      await client.createGroup({
        ...step,
        billingMode: step.subscription ? BillingMode.SUBSCRIPTION : BillingMode.BALANCE,
      });
      return;
    case "account":
    case "chatgpt account":
      await createAccount(client, ids, step);
      return;
    case "api key":
      await client.importApiKey({
        keySha256: step.keySha256,
        prefix: step.prefix,
        name: step.keyName,
        userId: await ids.required("user", step.userName),
        groupId: await ids.required("group", step.groupName),
        status: step.disabled ? ApiKeyStatus.DISABLED : ApiKeyStatus.ACTIVE,
        ...(step.expiresAt ? { expireTime: timestampFromDate(step.expiresAt) } : {}),
        quotaUsd: step.quotaUsd,
        quotaUsedUsd: step.quotaUsedUsd,
        ipAllow: step.ipAllow,
        ipDeny: step.ipDeny,
        spendLimit5hUsd: step.spendLimit5hUsd,
        spendLimit1dUsd: step.spendLimit1dUsd,
        spendLimit7dUsd: step.spendLimit7dUsd,
      });
      return;
    case "subscription":
      await client.createSubscription({
        userId: await ids.required("user", step.userName),
        groupId: await ids.required("group", step.groupName),
        startTime: timestampFromDate(step.startsAt),
        expireTime: timestampFromDate(step.expiresAt),
      });
      return;
    case "rule":
      await client.createPassthroughRule({
        ...step,
        matchMode: step.matchAll ? MatchMode.ALL : MatchMode.ANY,
      });
      return;
  }
}

function accountTypeOf(step: AccountPlan | ChatGptAccountPlan): AccountType {
  return step.kind === "chatgpt account" ? AccountType.OAUTH : AccountType.API_KEY;
}

/**
 * An API-key account with its key, or a ChatGPT account (type OAUTH) with its tokens in `chatgpt`; then its status
 * and schedulability, which CreateAccount does not take.
 */
async function createAccount(
  client: AdminClient,
  ids: Ids,
  step: AccountPlan | ChatGptAccountPlan,
): Promise<void> {
  const groupIds = [];
  for (const name of step.groupNames) groupIds.push(await ids.required("group", name));
  const credential =
    step.kind === "account"
      ? { type: AccountType.API_KEY, baseUrl: step.baseUrl, credential: step.credential }
      : {
          type: AccountType.OAUTH,
          chatgpt: {
            accessToken: step.accessToken,
            refreshToken: step.refreshToken,
            idToken: step.idToken,
            chatgptAccountId: step.chatgptAccountId,
          },
        };
  const { account } = await client.createAccount({
    name: step.name,
    platform: "openai",
    ...credential,
    proxyUrl: step.proxyUrl,
    concurrency: step.concurrency,
    priority: step.priority,
    modelMapping: step.modelMapping,
    groupIds,
  });
  if (step.disabled || !step.schedulable) {
    await client.updateAccount({
      id: account?.id ?? "",
      ...(step.disabled ? { status: AccountStatus.DISABLED } : {}),
      ...(step.schedulable ? {} : { schedulable: false }),
    });
  }
}

async function notFoundAsNull(find: () => Promise<string | undefined>): Promise<string | null> {
  try {
    return (await find()) ?? null;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return null;
    throw err;
  }
}
