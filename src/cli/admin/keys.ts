import { create } from "@bufbuild/protobuf";
import {
  type ApiKey,
  ApiKeyStatus,
  GetApiKeyResponseSchema,
  ImportApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
  UpdateApiKeyResponseSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { displayPrefix, hashApiKey, looksLikeApiKey } from "../../shared/api-key.js";
import { type AdminCommand, present, requireSomeChange, VALUE } from "./command.js";
import type { CommandInput } from "./command-line.js";
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

const KEY_STATUSES = { active: ApiKeyStatus.ACTIVE, disabled: ApiKeyStatus.DISABLED } as const;

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
    ["ip allow", k.ipAllow.length > 0 ? k.ipAllow.join(", ") : "any"],
    ["ip deny", k.ipDeny.length > 0 ? k.ipDeny.join(", ") : "none"],
    ["spend limit 5h/1d/7d", spendLimits(k)],
    ["last used", when(k.lastUsedTime, "never")],
    ["created", when(k.createTime)],
  ];
}

function spendLimits(k: ApiKey): string {
  return [k.spendLimit5hUsd, k.spendLimit1dUsd, k.spendLimit7dUsd].map((v) => usd(v, "none")).join(" / ");
}

/** Flags setting a key's access controls, shared by create and import (update clears with ""). */
const CONTROL_FLAGS = {
  "ip-allow": VALUE,
  "ip-deny": VALUE,
  "spend-5h": VALUE,
  "spend-1d": VALUE,
  "spend-7d": VALUE,
} as const;

const CONTROL_SYNOPSIS =
  "[--ip-allow LIST] [--ip-deny LIST] [--spend-5h USD] [--spend-1d USD] [--spend-7d USD]";

const CONTROL_NOTES = [
  "--ip-allow / --ip-deny take comma-separated IPs and CIDRs (10.0.0.0/8,2001:db8::1); a denied or unlisted address gets 403",
  "--spend-5h / --spend-1d / --spend-7d cap what the key spends in any rolling 5 hours, day or 7 days (429 past it)",
];

/** The access-control fields of a create or import request. */
function controlFields(input: CommandInput) {
  return {
    ipAllow: input.list("ip-allow") ?? [],
    ipDeny: input.list("ip-deny") ?? [],
    spendLimit5hUsd: input.usd("spend-5h") ?? "",
    spendLimit1dUsd: input.usd("spend-1d") ?? "",
    spendLimit7dUsd: input.usd("spend-7d") ?? "",
  };
}

/** An update's spend limit: absent leaves it, "" removes it, else a USD amount. */
function limitChange(input: CommandInput, flag: string): string | undefined {
  const raw = input.text(flag);
  return raw === undefined || raw.trim() === "" ? raw?.trim() : input.usd(flag);
}

/** `admin keys …`: the API keys clients use; the plaintext key is shown once, at creation. */
export const keyCommands: readonly AdminCommand[] = [
  {
    name: "keys create",
    synopsis: `--user NAME|ID --group NAME|ID [--name N] [--expires-at ISO] [--quota USD] ${CONTROL_SYNOPSIS}`,
    summary: "issue an API key and print it (it is shown only this once)",
    notes: [
      ...CONTROL_NOTES,
      "--user and --group take a UUID as an id and anything else as a name",
      "--expires-at takes ISO 8601 (2025-12-31T00:00:00Z) or a duration from now (30d); default never",
      "--quota caps what the key may spend in all (default unlimited)",
      '--json prints {"id": …, "key": "sk-sy-…"}',
    ],
    flags: { user: VALUE, group: VALUE, name: VALUE, "expires-at": VALUE, quota: VALUE, ...CONTROL_FLAGS },
    prepare(input) {
      const user = input.required("user");
      const group = input.required("group");
      const request = {
        name: input.text("name") ?? "",
        expireTime: input.time("expires-at", "future"),
        quotaUsd: input.usd("quota") ?? "",
        ...controlFields(input),
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
    synopsis: `--user NAME|ID --group NAME|ID [--name N] [--expires-at ISO] [--quota USD] ${CONTROL_SYNOPSIS} < key`,
    summary:
      "add an existing key (e.g. from another gateway), read from standard input; only its hash is stored",
    notes: [
      "the key is read from standard input (first line), never from the command line, where ps would show it",
      "keys of any format are accepted (16–200 visible ASCII characters); importing a known key is ALREADY_EXISTS",
    ],
    flags: { user: VALUE, group: VALUE, name: VALUE, "expires-at": VALUE, quota: VALUE, ...CONTROL_FLAGS },
    prepare(input) {
      const user = input.required("user");
      const group = input.required("group");
      const request = {
        name: input.text("name") ?? "",
        expireTime: input.time("expires-at", "future"),
        quotaUsd: input.usd("quota") ?? "",
        ...controlFields(input),
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
    name: "keys update",
    args: ["ID"],
    synopsis: `ID [--name N] [--status active|disabled] [--quota USD] ${CONTROL_SYNOPSIS}`,
    summary: "change an API key's name, status, quota, IP lists or spend limits",
    notes: [...CONTROL_NOTES, 'an empty value ("") clears a list or removes a limit'],
    flags: { name: VALUE, status: VALUE, quota: VALUE, ...CONTROL_FLAGS },
    prepare(input) {
      const ipAllow = input.list("ip-allow");
      const ipDeny = input.list("ip-deny");
      const changes = {
        name: input.text("name"),
        status: input.choice("status", KEY_STATUSES),
        quotaUsd: input.text("quota") === "" ? "" : input.usd("quota"),
        ipAllow,
        ipDeny,
        spendLimit5hUsd: limitChange(input, "spend-5h"),
        spendLimit1dUsd: limitChange(input, "spend-1d"),
        spendLimit7dUsd: limitChange(input, "spend-7d"),
      };
      requireSomeChange(
        changes,
        "--name, --status, --quota, --ip-allow, --ip-deny, --spend-5h, --spend-1d, --spend-7d",
      );
      const request = {
        id: input.arg(0),
        ...changes,
        ipAllow: ipAllow ?? [],
        ipDeny: ipDeny ?? [],
        replaceIpAllow: ipAllow !== undefined,
        replaceIpDeny: ipDeny !== undefined,
      };
      return async ({ client, out }) => {
        const res = await client.updateApiKey(request);
        emit(out, UpdateApiKeyResponseSchema, res, () => details(keyDetails(res.apiKey)));
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
