import { parseArgs } from "node:util";
import { type AdminTarget, openAdminConnection } from "../admin/admin-client.js";
import { jsonDocument, table } from "../admin/output.js";
import { describeRpcFailure } from "../admin/rpc-failure.js";
import { type ImportReport, runImportPlan, type StepOutcome } from "./sub2api-apply.js";
import { IMPORT_KINDS, NEVER_CARRIED, planImport } from "./sub2api-plan.js";
import { readSub2api } from "./sub2api-source.js";

const USAGE = `usage: switchyard import sub2api --database-url postgres://… [--apply] [--json]

Reads users, openai groups, API keys (carried as hashes: clients keep their keys), API-key and ChatGPT (oauth)
accounts with their model mappings, priorities, concurrency and proxies, subscriptions and error-passthrough rules
from the reference system's PostgreSQL database, and writes them through the control plane
(SWITCHYARD_CONTROL_PLANE_URL, SWITCHYARD_ADMIN_TOKEN). A dry run by default: prints the plan and writes nothing;
--apply writes. Rows already present are left as they are, so a second run changes nothing. Everything not carried
over is listed. A ChatGPT account's refresh token works once: disable those accounts in sub2api (or stop it)
before --apply, so that only Switchyard refreshes them from then on.
`;

/**
 * `switchyard import sub2api …`. Exit codes: 0 done (or planned), 1 a source, control-plane or row failure, 2 usage.
 */
export async function runImport(argv: readonly string[], target: () => AdminTarget): Promise<number> {
  const [source, ...rest] = argv;
  if (source === "help" || source === "--help" || source === "-h") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (source !== "sub2api")
    return fail(2, `unknown import source '${source ?? ""}' (known: sub2api)\n${USAGE}`);
  let flags: { "database-url"?: string; apply?: boolean; json?: boolean };
  try {
    flags = parseArgs({
      args: [...rest],
      options: { "database-url": { type: "string" }, apply: { type: "boolean" }, json: { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    return fail(2, `${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
  const databaseUrl = flags["database-url"] ?? "";
  if (!/^postgres(ql)?:\/\//.test(databaseUrl))
    return fail(2, `--database-url postgres://… is required\n${USAGE}`);
  const admin = target();
  if (admin.adminToken === "")
    return fail(1, "SWITCHYARD_ADMIN_TOKEN is not set; the control plane refuses it");
  let data: Awaited<ReturnType<typeof readSub2api>>;
  try {
    data = await readSub2api(databaseUrl);
  } catch (err) {
    return fail(1, err instanceof Error ? err.message : String(err));
  }
  const plan = planImport(data, Date.now());
  let connection: Awaited<ReturnType<typeof openAdminConnection>>;
  try {
    connection = await openAdminConnection(admin);
  } catch (err) {
    return fail(1, describeRpcFailure(err, admin.url));
  }
  try {
    const report = await runImportPlan(connection.client, plan, flags.apply === true);
    process.stdout.write(flags.json ? jsonDocument(reportJson(report)) : reportText(report));
    return report.results.some((r) => r.outcome === "failed") ? 1 : 0;
  } catch (err) {
    return fail(1, describeRpcFailure(err, connection.url));
  } finally {
    connection.close();
  }
}

/** The summary table per kind, then every row not carried (whole or in part), then failures. */
export function reportText(report: ImportReport): string {
  const count = (kind: string, outcome: StepOutcome) =>
    String(report.results.filter((r) => r.kind === kind && r.outcome === outcome).length);
  const written: StepOutcome = report.applied ? "created" : "would create";
  const summary = table(
    IMPORT_KINDS,
    [
      ["KIND", (kind) => kind],
      [report.applied ? "CREATED" : "TO CREATE", (kind) => count(kind, written)],
      ["PRESENT", (kind) => count(kind, "present")],
      ["FAILED", (kind) => count(kind, "failed")],
      ["NOT CARRIED", (kind) => String(report.notCarried.filter((n) => n.kind === kind).length)],
    ],
    "",
  );
  const header = report.applied
    ? "import from sub2api: applied\n\n"
    : "import from sub2api: dry run, nothing written (run again with --apply to write)\n\n";
  const lines = (title: string, items: { kind: string; name: string; reason: string }[]) =>
    items.length === 0
      ? ""
      : `\n${title}:\n${items.map((n) => `  ${n.kind} ${n.name}: ${n.reason}\n`).join("")}`;
  const moved = report.results
    .filter((r) => r.kind === "chatgpt account" && r.outcome === written)
    .map((r) => r.name);
  const failed = report.results
    .filter((r) => r.outcome === "failed")
    .map((r) => ({ kind: r.kind, name: r.name, reason: r.detail ?? "" }));
  return (
    header +
    summary +
    chatgptNote(moved, report.applied) +
    lines("not carried", report.notCarried) +
    lines("carried without these fields", report.partial) +
    lines("failed", failed) +
    `\nnever carried:\n${NEVER_CARRIED.map((line) => `  ${line}\n`).join("")}`
  );
}

/**
 * The ChatGPT accounts an import moves, named because their refresh tokens are single-use: if sub2api refreshed one
 * after Switchyard took it (or the other way round), one of the two would lose the account.
 */
function chatgptNote(names: string[], applied: boolean): string {
  if (names.length === 0) return "";
  const header = applied
    ? "ChatGPT accounts moved (a refresh token works once: disable them in sub2api now, or stop it, so that\n" +
      "only Switchyard refreshes them):"
    : "ChatGPT accounts to move (a refresh token works once: disable them in sub2api, or stop it, before --apply,\n" +
      "so that only Switchyard refreshes them from then on):";
  return `\n${header}\n${names.map((name) => `  ${name}\n`).join("")}`;
}

function reportJson(report: ImportReport) {
  return {
    applied: report.applied,
    results: report.results,
    notCarried: report.notCarried,
    partial: report.partial,
    neverCarried: NEVER_CARRIED,
  };
}

function fail(code: 1 | 2, message: string): number {
  process.stderr.write(`switchyard: ${message}\n`);
  return code;
}
