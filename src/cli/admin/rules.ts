import { create } from "@bufbuild/protobuf";
import {
  CreatePassthroughRuleResponseSchema,
  DeletePassthroughRuleResponseSchema,
  ListPassthroughRulesResponseSchema,
  MatchMode,
  type PassthroughRule,
} from "../../gen/switchyard/v1/admin_pb.js";
import { type AdminCommand, present, SWITCH, VALUE } from "./command.js";
import { INT32, intValue } from "./flag-values.js";
import { listCommand } from "./list-command.js";
import { type Column, details, emit, label, when } from "./output.js";

const MATCH = { any: MatchMode.ANY, all: MatchMode.ALL } as const;

const COLUMNS: readonly Column<PassthroughRule>[] = [
  ["ID", (r) => r.id],
  ["NAME", (r) => r.name],
  ["ENABLED", (r) => (r.enabled ? "yes" : "no")],
  ["PRIORITY", (r) => String(r.priority)],
  ["MATCH", (r) => label(MatchMode, r.matchMode)],
  ["CODES", (r) => r.errorCodes.join(",") || "-"],
  ["KEYWORDS", (r) => r.keywords.join(",") || "-"],
  ["ANSWER", answer],
];

/** What the client gets when the rule matches: "upstream status, upstream body", "403, custom message", … */
function answer(r: PassthroughRule): string {
  const status = r.passthroughCode ? "upstream status" : String(r.responseCode);
  const body = r.passthroughBody ? "upstream message" : JSON.stringify(r.customMessage);
  return `${status}, ${body}${r.skipMonitoring ? ", not monitored" : ""}`;
}

function ruleDetails(rule: PassthroughRule | undefined): string {
  const r = present(rule, "the rule");
  return details([
    ["id", r.id],
    ["name", r.name],
    ["enabled", r.enabled ? "yes" : "no"],
    ["priority", String(r.priority)],
    ["match", label(MatchMode, r.matchMode)],
    ["codes", r.errorCodes.join(", ") || "-"],
    ["keywords", r.keywords.join(", ") || "-"],
    ["platforms", r.platforms.join(", ") || "all"],
    ["status", r.passthroughCode ? "upstream's" : String(r.responseCode)],
    ["message", r.passthroughBody ? "upstream's" : r.customMessage],
    ["skip monitoring", r.skipMonitoring ? "yes" : "no"],
    ["description", r.description],
    ["created", when(r.createTime)],
  ]);
}

/** `admin rules …`: error-passthrough rules, rewriting how matching upstream errors reach clients. */
export const ruleCommands: readonly AdminCommand[] = [
  {
    name: "rules create",
    synopsis:
      "--name N [--codes 429,503] [--keywords a,b] [--match any|all] [--priority N] [--response-code N] " +
      "[--message TEXT] [--skip-monitoring] [--disabled] [--description TEXT]",
    summary: "add an error-passthrough rule (at least one code or keyword)",
    notes: [
      "--codes are upstream HTTP statuses; --keywords are case-insensitive substrings of the upstream body",
      "--match any (default): a code or a keyword; all: a code and a keyword; lower --priority is tried first",
      "--response-code answers with that status instead of the upstream's; --message with that text instead of its",
      "--skip-monitoring: matched errors do not count against the account's health",
    ],
    flags: {
      name: VALUE,
      codes: VALUE,
      keywords: VALUE,
      match: VALUE,
      priority: VALUE,
      "response-code": VALUE,
      message: VALUE,
      "skip-monitoring": SWITCH,
      disabled: SWITCH,
      description: VALUE,
    },
    prepare(input) {
      const responseCode = input.int("response-code", 100, 599);
      const message = input.text("message");
      const request = {
        name: input.required("name"),
        enabled: !input.switch("disabled"),
        priority: input.int("priority", INT32.min, INT32.max) ?? 0,
        errorCodes: (input.list("codes") ?? []).map((code) => intValue(code, "--codes", 100, 599)),
        keywords: input.list("keywords") ?? [],
        matchMode: input.choice("match", MATCH) ?? MatchMode.ANY,
        passthroughCode: responseCode === undefined,
        responseCode: responseCode ?? 0,
        passthroughBody: message === undefined,
        customMessage: message ?? "",
        skipMonitoring: input.switch("skip-monitoring"),
        description: input.text("description") ?? "",
      };
      return async ({ client, out }) => {
        const res = await client.createPassthroughRule(request);
        emit(out, CreatePassthroughRuleResponseSchema, res, () => ruleDetails(res.rule));
      };
    },
  },
  listCommand({
    name: "rules list",
    summary: "list error-passthrough rules in the order they are tried",
    schema: ListPassthroughRulesResponseSchema,
    fetchPage: async (client, pageSize, pageToken) => {
      const res = await client.listPassthroughRules({ pageSize, pageToken });
      return { items: res.rules, nextPageToken: res.nextPageToken };
    },
    response: (page) =>
      create(ListPassthroughRulesResponseSchema, { rules: page.items, nextPageToken: page.nextPageToken }),
    columns: COLUMNS,
    none: "no rules",
  }),
  {
    name: "rules delete",
    args: ["ID"],
    synopsis: "ID",
    summary: "delete an error-passthrough rule",
    flags: {},
    prepare(input) {
      const id = input.arg(0);
      return async ({ client, out }) => {
        const res = await client.deletePassthroughRule({ id });
        emit(out, DeletePassthroughRuleResponseSchema, res, () => `deleted rule ${id}\n`);
      };
    },
  },
];
