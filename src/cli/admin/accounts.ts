import { create } from "@bufbuild/protobuf";
import {
  AccountType,
  ClearAccountCooldownResponseSchema,
  CreateAccountResponseSchema,
  GetAccountResponseSchema,
  ListAccountsResponseSchema,
  UpdateAccountResponseSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { ACCOUNT_NOTES, accountFields, accountStateFields, upstreamKey } from "./account-fields.js";
import { ACCOUNT_COLUMNS, accountDetails, withoutProxyPassword } from "./account-views.js";
import { CHATGPT_NOTES, chatgptTokens } from "./chatgpt-credential.js";
import {
  codeFromPaste,
  DEFAULT_TOKEN_URL,
  exchangeCode,
  readPastedLine,
  startLogin,
} from "./chatgpt-login.js";
import { type AdminCommand, requireSomeChange, VALUE, VALUES } from "./command.js";
import { httpUrlValue } from "./flag-values.js";
import { resolveGroupId, resolveGroupIds } from "./group-ref.js";
import { emit, table } from "./output.js";
import { collectPages, LIMIT_NOTE, limitFlag } from "./pages.js";
import { UsageError } from "./usage-error.js";

const ACCOUNT_FLAGS = {
  name: VALUE,
  "base-url": VALUE,
  "api-key": VALUE,
  group: VALUES,
  concurrency: VALUE,
  priority: VALUE,
  models: VALUE,
  "model-map": VALUE,
  proxy: VALUE,
  "auth-file": VALUE,
  "access-token": VALUE,
  "refresh-token": VALUE,
  "chatgpt-account-id": VALUE,
};

const ACCOUNT_SYNOPSIS =
  "[--concurrency N] [--priority N] [--models 'gpt-4o,gpt-5*'] [--model-map 'from=to,…'] [--proxy URL]";

/** `admin accounts …`: upstream accounts (their credentials are stored encrypted and never shown). */
export const accountCommands: readonly AdminCommand[] = [
  {
    name: "accounts create",
    synopsis:
      "--name N (--base-url URL --api-key K | --kind chatgpt (--auth-file PATH | --access-token T " +
      `--refresh-token T [--chatgpt-account-id ID])) --group NAME|ID ${ACCOUNT_SYNOPSIS}`,
    summary: "add an upstream account (an API key, or a ChatGPT subscription with --kind chatgpt)",
    notes: [...ACCOUNT_NOTES, ...CHATGPT_NOTES],
    flags: { ...ACCOUNT_FLAGS, kind: VALUE },
    prepare(input) {
      const kind = input.choice("kind", { apikey: AccountType.API_KEY, chatgpt: AccountType.OAUTH });
      const chatgpt = kind === AccountType.OAUTH;
      const tokens = chatgptTokens(input);
      if (chatgpt && tokens === undefined)
        throw new UsageError("--kind chatgpt needs --auth-file or --access-token and --refresh-token");
      if (!chatgpt && tokens !== undefined) throw new UsageError("ChatGPT tokens need --kind chatgpt");
      if (chatgpt && input.text("api-key") !== undefined)
        throw new UsageError("--api-key is not for --kind chatgpt");
      for (const flag of chatgpt ? ["name"] : ["name", "base-url", "api-key"]) input.required(flag);
      if (input.texts("group").length === 0) throw new UsageError("--group is required");
      const { groups, modelMapping, apiKey = "", ...fields } = accountFields(input);
      return async ({ client, out }) => {
        const groupIds = await resolveGroupIds(client, groups);
        const res = await client.createAccount({
          ...fields,
          ...(chatgpt
            ? { type: AccountType.OAUTH, chatgpt: tokens }
            : { credential: await upstreamKey(apiKey) }),
          groupIds,
          modelMapping: modelMapping ?? {},
        });
        withoutProxyPassword(res.account);
        emit(out, CreateAccountResponseSchema, res, () => accountDetails(res.account));
      };
    },
  },
  {
    name: "accounts login-chatgpt",
    synopsis: `--name N --group NAME|ID [--base-url URL] [--token-url URL] ${ACCOUNT_SYNOPSIS}`,
    summary: "log in to a ChatGPT subscription (PKCE) and add it as an account",
    notes: [
      "prints a URL to open in a browser; after the login, paste the URL the browser was sent to",
      "  (http://localhost:1455/auth/callback?code=…; nothing needs to listen there) or just its code",
      `--token-url: the OAuth token endpoint (default ${DEFAULT_TOKEN_URL}; the login page is on its origin)`,
      ...ACCOUNT_NOTES.slice(1),
    ],
    flags: { ...ACCOUNT_FLAGS, "token-url": VALUE },
    prepare(input) {
      input.required("name");
      if (input.texts("group").length === 0) throw new UsageError("--group is required");
      for (const flag of ["api-key", "auth-file", "access-token", "refresh-token"])
        if (input.text(flag) !== undefined) throw new UsageError(`--${flag} is not for login-chatgpt`);
      const tokenUrl = httpUrlValue(input.text("token-url") ?? DEFAULT_TOKEN_URL, "--token-url");
      const { groups, modelMapping, apiKey: _none, ...fields } = accountFields(input);
      return async ({ client, out }) => {
        const groupIds = await resolveGroupIds(client, groups);
        const login = startLogin(tokenUrl);
        process.stderr.write(
          `Open this URL in a browser and log in to ChatGPT:\n\n  ${login.authorizeUrl}\n\n` +
            "Then paste the URL the browser was sent to (or its code) here:\n",
        );
        const code = codeFromPaste(await readPastedLine(), login.state);
        const tokens = await exchangeCode(tokenUrl, code, login.verifier);
        const res = await client.createAccount({
          ...fields,
          type: AccountType.OAUTH,
          chatgpt: tokens,
          groupIds,
          modelMapping: modelMapping ?? {},
        });
        withoutProxyPassword(res.account);
        emit(out, CreateAccountResponseSchema, res, () => accountDetails(res.account));
      };
    },
  },
  {
    name: "accounts list",
    synopsis: "[--group NAME|ID] [--limit N]",
    summary: "list upstream accounts, optionally of one group",
    notes: [LIMIT_NOTE],
    flags: { group: VALUE, limit: VALUE },
    prepare(input) {
      const group = input.text("group");
      const limit = limitFlag(input);
      return async ({ client, out }) => {
        const groupId = group === undefined ? "" : await resolveGroupId(client, group);
        const page = await collectPages(limit, async (pageSize, pageToken) => {
          const res = await client.listAccounts({ groupId, pageSize, pageToken });
          return { items: res.accounts, nextPageToken: res.nextPageToken };
        });
        const accounts = page.items.map(withoutProxyPassword);
        const res = create(ListAccountsResponseSchema, { accounts, nextPageToken: page.nextPageToken });
        emit(out, ListAccountsResponseSchema, res, () => table(accounts, ACCOUNT_COLUMNS, "no accounts"));
      };
    },
  },
  {
    name: "accounts get",
    args: ["ID"],
    synopsis: "ID",
    summary: "show an upstream account (without its credential)",
    flags: {},
    prepare(input) {
      const id = input.arg(0);
      return async ({ client, out }) => {
        const res = await client.getAccount({ id });
        withoutProxyPassword(res.account);
        emit(out, GetAccountResponseSchema, res, () => accountDetails(res.account));
      };
    },
  },
  {
    name: "accounts update",
    args: ["ID"],
    synopsis:
      "ID [--name N] [--base-url URL] [--api-key K | --auth-file PATH | --access-token T --refresh-token T] " +
      "[--group NAME|ID] " +
      `${ACCOUNT_SYNOPSIS} [--status active|disabled] [--schedulable true|false]`,
    summary: "change an upstream account",
    notes: [
      ...ACCOUNT_NOTES,
      "--group replaces the account's groups; --models/--model-map replace its mapping (--models '' clears it)",
      '--proxy "" removes the proxy; --schedulable false takes the account out of scheduling without disabling it',
    ],
    flags: { ...ACCOUNT_FLAGS, status: VALUE, schedulable: VALUE },
    prepare(input) {
      const id = input.arg(0);
      const { groups, modelMapping, apiKey, ...fields } = accountFields(input);
      const state = accountStateFields(input);
      const newTokens = ["auth-file", "access-token", "refresh-token"].some(
        (f) => input.text(f) !== undefined,
      );
      requireSomeChange(
        {
          ...fields,
          ...state,
          apiKey,
          modelMapping,
          groups: groups.length > 0 ? groups : undefined,
          tokens: newTokens ? true : undefined,
        },
        "--name, --base-url, --api-key, --auth-file/--access-token, --group, --concurrency, --priority, --models, " +
          "--model-map, --proxy, --status, --schedulable",
      );
      const chatgpt = newTokens ? chatgptTokens(input) : undefined;
      return async ({ client, out }) => {
        const groupIds = await resolveGroupIds(client, groups);
        const credential = apiKey === undefined ? undefined : await upstreamKey(apiKey);

        const res = await client.updateAccount({
          ...fields,
          ...state,
          id,
          credential,
          ...(chatgpt ? { chatgpt } : {}),
          replaceModelMapping: modelMapping !== undefined,
          modelMapping: modelMapping ?? {},
          replaceGroupIds: groupIds.length > 0,
          groupIds,
        });
        withoutProxyPassword(res.account);
        emit(out, UpdateAccountResponseSchema, res, () => accountDetails(res.account));
      };
    },
  },
  {
    name: "accounts clear-cooldown",
    args: ["ID"],
    synopsis: "ID",
    summary: "clear an account's cooldowns and error status so it is scheduled again",
    flags: {},
    prepare(input) {
      const id = input.arg(0);
      return async ({ client, out }) => {
        const res = await client.clearAccountCooldown({ id });
        withoutProxyPassword(res.account);
        emit(out, ClearAccountCooldownResponseSchema, res, () => accountDetails(res.account));
      };
    },
  },
];
