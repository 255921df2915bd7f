import { create } from "@bufbuild/protobuf";
import {
  type ApiKey,
  ApiKeyStatus,
  GetApiKeyResponseSchema,
  ImportApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { displayPrefix, hashApiKey, looksLikeApiKey } from "../../shared/api-key.js";
import { type AdminCommand, present, VALUE } from "./command.js";
import { resolveGroupId } from "./group-ref.js";
import { type Column, details, emit, jsonDocument, label, table, usd, when } from "./output.js";
import { collectPages, LIMIT_NOTE, limitFlag } from "./pages.js";
import { UsageError } from "./usage-error.js";
import { resolveOptionalUserId, resolveUserId } from "./user-ref.js";

/** Everything on standard input (a key piped in; "" from a terminal closed at once). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

const COLUMNS: readonly Column<ApiKey>[] = [
  ["ID", (k) => k.id],
  ["NAME", (k) => k.name],
  ["PREFIX", (k) => k.prefix],
  ["USER", (k) => k.userId],
  ["GROUP", (k) => k.groupId],
  ["STATUS", (k) => label(ApiKeyStatus, k.status)],
  ["SPENT/QUOTA", quota],
  ["EXPIRES", (k) => when(k.expireTime, "never")],
  ["LAST USED", (k) => when(k.lastUsedTime, "never")],
];

function quota(k: ApiKey): string {
  return `${usd(k.quotaUsedUsd, "$0")} / ${usd(k.quotaUsd, "unlimited")}`;
}

function keyDetails(key: ApiKey | undefined): Array<[string, string]> {
  const k = present(key, "the API key");
  return [
    ["id", k.id],
    ["name", k.name],
    ["prefix", k.prefix],
    ["user", k.userId],
    ["group", k.groupId],
    ["status", label(ApiKeyStatus, k.status)],
    ["spent/quota", quota(k)],
    ["expires", when(k.expireTime, "never")],
    ["last used", when(k.lastUsedTime, "never")],
    ["created", when(k.createTime)],
  ];
}

/** `admin keys …`: the API keys clients use; the plaintext key is shown once, at creation. */
export const keyCommands: readonly AdminCommand[] = [
  {
    name: "keys create",
    synopsis: "--user NAME|ID --group NAME|ID [--name N] [--expires-at ISO] [--quota USD]",
    summary: "issue an API key and print it (it is shown only this once)",
    notes: [
      "--user and --group take a UUID as an id and anything else as a name",
      "--expires-at takes ISO 8601 (2025-12-31T00:00:00Z) or a duration from now (30d); default never",
      "--quota caps what the key may spend in all (default unlimited)",
      '--json prints {"id": …, "key": "sk-sy-…"}',
    ],
    flags: { user: VALUE, group: VALUE, name: VALUE, "expires-at": VALUE, quota: VALUE },
    prepare(input) {
      const user = input.required("user");
      const group = input.required("group");
      const request = {
        name: input.text("name") ?? "",
        expireTime: input.time("expires-at", "future"),
        quotaUsd: input.usd("quota") ?? "",
      };
      return async ({ client, out }) => {
        const userId = await resolveUserId(client, user);
        const groupId = await resolveGroupId(client, group);
        const res = await client.createApiKey({ ...request, userId, groupId });
        const apiKey = present(res.apiKey, "the API key");
        out.write(
          out.json
            ? jsonDocument({ id: apiKey.id, key: res.key })
            : `${details([...keyDetails(apiKey), ["key", res.key]])}\nStore the key now: it cannot be shown again.\n`,
        );
      };
    },
  },
  {
    name: "keys import",
    synopsis: "--user NAME|ID --group NAME|ID [--name N] [--expires-at ISO] [--quota USD] < key",
    summary:
      "add an existing key (e.g. from another gateway), read from standard input; only its hash is stored",
    notes: [
      "the key is read from standard input (first line), never from the command line, where ps would show it",
      "keys of any format are accepted (16–200 visible ASCII characters); importing a known key is ALREADY_EXISTS",
    ],
    flags: { user: VALUE, group: VALUE, name: VALUE, "expires-at": VALUE, quota: VALUE },
    prepare(input) {
      const user = input.required("user");
      const group = input.required("group");
      const request = {
        name: input.text("name") ?? "",
        expireTime: input.time("expires-at", "future"),
        quotaUsd: input.usd("quota") ?? "",
      };
      return async ({ client, out }) => {
        const key = (await readStdin()).split(/\r?\n/, 1)[0]?.trim() ?? "";
        if (!looksLikeApiKey(key)) {
          throw new UsageError(
            "standard input must hold the key: 16–200 visible ASCII characters, no spaces",
          );
        }
        const userId = await resolveUserId(client, user);
        const groupId = await resolveGroupId(client, group);
        const res = await client.importApiKey({
          ...request,
          keySha256: hashApiKey(key),
          prefix: displayPrefix(key),
          userId,
          groupId,
        });
        emit(out, ImportApiKeyResponseSchema, res, () => details(keyDetails(res.apiKey)));
      };
    },
  },
  {
    name: "keys list",
    synopsis: "[--user NAME|ID] [--limit N]",
    summary: "list API keys (metadata only), optionally of one user",
    notes: [LIMIT_NOTE],
    flags: { user: VALUE, limit: VALUE },
    prepare(input) {
      const user = input.text("user") ?? "";
      const limit = limitFlag(input);
      return async ({ client, out }) => {
        const userId = await resolveOptionalUserId(client, user);
        const page = await collectPages(limit, async (pageSize, pageToken) => {
          const res = await client.listApiKeys({ userId, pageSize, pageToken });
          return { items: res.apiKeys, nextPageToken: res.nextPageToken };
        });
        const res = create(ListApiKeysResponseSchema, {
          apiKeys: page.items,
          nextPageToken: page.nextPageToken,
        });
        emit(out, ListApiKeysResponseSchema, res, () => table(res.apiKeys, COLUMNS, "no API keys"));
      };
    },
  },
  {
    name: "keys get",
    args: ["ID"],
    synopsis: "ID",
    summary: "show an API key's metadata",
    flags: {},
    prepare(input) {
      const id = input.arg(0);
      return async ({ client, out }) => {
        const res = await client.getApiKey({ id });
        emit(out, GetApiKeyResponseSchema, res, () => details(keyDetails(res.apiKey)));
      };
    },
  },
  {
    name: "keys revoke",
    args: ["ID"],
    synopsis: "ID",
    summary: "revoke an API key for good (every data plane refuses it within a second)",
    flags: {},
    prepare(input) {
      const id = input.arg(0);
      return async ({ client, out }) => {
        const res = await client.revokeApiKey({ id });
        emit(out, RevokeApiKeyResponseSchema, res, () => details(keyDetails(res.apiKey)));
      };
    },
  },
];
