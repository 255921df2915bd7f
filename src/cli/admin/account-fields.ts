import { AccountStatus } from "../../gen/switchyard/v1/admin_pb.js";
import type { CommandInput } from "./command-line.js";
import { boolValue, httpUrlValue, INT32, UINT32_MAX, urlValue } from "./flag-values.js";
import { UsageError } from "./usage-error.js";

/** The flags `accounts create` and `accounts update` share, as the request fields they set. */
export interface AccountFields {
  name: string | undefined;
  baseUrl: string | undefined;
  /** The raw --api-key value: the key itself, or "-" to read it from standard input. */
  apiKey: string | undefined;
  proxyUrl: string | undefined;
  concurrency: number | undefined;
  priority: number | undefined;
  /** Undefined when neither --models nor --model-map was given. */
  modelMapping: Record<string, string> | undefined;
  /** The raw --group values, resolved to ids when the command runs. */
  groups: string[];
}

/** Notes for `--help` on the account flags. */
export const ACCOUNT_NOTES: readonly string[] = [
  "--api-key - reads the key from standard input (keeps it out of the process list and shell history)",
  "--group takes a UUID as an id and anything else as a group name; repeat it for several groups",
  "--models 'gpt-4o,gpt-5*' serves those models unchanged; --model-map 'from=to,…' renames them upstream;",
  "  both may be given; a pattern is exact or ends in *; no mapping at all serves every model",
  "--concurrency: requests in flight on the account (default 3); --priority: lower is tried first (default 50)",
];

/** Reads the account flags, checking every value. */
export function accountFields(input: CommandInput): AccountFields {
  const baseUrl = input.text("base-url");
  const proxyUrl = input.text("proxy");
  const apiKey = input.text("api-key");
  if (apiKey !== undefined && apiKey.trim() === "") throw new UsageError("--api-key must not be empty");
  return {
    name: input.text("name"),
    baseUrl: baseUrl === undefined ? undefined : httpUrlValue(baseUrl, "--base-url"),
    apiKey,
    proxyUrl: proxyUrl === undefined ? undefined : urlValue(proxyUrl, "--proxy"),
    concurrency: input.int("concurrency", 1, UINT32_MAX),
    priority: input.int("priority", INT32.min, INT32.max),
    modelMapping: modelMapping(input),
    groups: input.texts("group"),
  };
}

/** The flags only `accounts update` takes. */
export function accountStateFields(input: CommandInput) {
  const schedulable = input.text("schedulable");
  return {
    status: input.choice("status", { active: AccountStatus.ACTIVE, disabled: AccountStatus.DISABLED }),
    schedulable: schedulable === undefined ? undefined : boolValue(schedulable, "--schedulable"),
  };
}

/** --models a,b (a→"", b→"") and --model-map from=to,… merged; a model named twice is refused. */
function modelMapping(input: CommandInput): Record<string, string> | undefined {
  const models = input.list("models");
  const renames = input.list("model-map");
  if (models === undefined && renames === undefined) return undefined;
  const mapping: Record<string, string> = {};
  const add = (from: string, to: string) => {
    if (Object.hasOwn(mapping, from)) throw new UsageError(`model ${JSON.stringify(from)} is given twice`);
    mapping[from] = to;
  };
  for (const model of models ?? []) add(model, "");
  for (const entry of renames ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`--model-map: expected from=to, got ${JSON.stringify(entry)}`);
    add(entry.slice(0, eq).trim(), entry.slice(eq + 1).trim());
  }
  return mapping;
}

/** The upstream key: the flag's value, or standard input for "-". */
export async function upstreamKey(apiKey: string): Promise<string> {
  if (apiKey !== "-") return apiKey;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    const data: unknown = chunk;
    chunks.push(Buffer.isBuffer(data) ? data : Buffer.from(String(data)));
  }
  const key = Buffer.concat(chunks).toString("utf8").trim();
  if (key === "") throw new Error("--api-key -: standard input is empty");
  return key;
}
