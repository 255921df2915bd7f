import { type AdminConnection, type AdminTarget, openAdminConnection } from "./admin-client.js";
import type { AdminAction } from "./command.js";
import { parseCommandLine, wantsHelp } from "./command-line.js";
import { commandsOf } from "./commands.js";
import { adminUsage, commandUsage, resourceUsage } from "./help-text.js";
import type { Output } from "./output.js";
import { describeRpcFailure } from "./rpc-failure.js";
import { UsageError } from "./usage-error.js";

/**
 * `switchyard admin <resource> <action> …`: checks the whole command line (exit 2 on a usage error, before any
 * RPC), then runs it against the control plane (exit 1 when the call fails). Returns the exit code.
 */
export async function runAdmin(argv: readonly string[], target: () => AdminTarget): Promise<number> {
  const [resource, action, ...rest] = argv;
  if (resource === undefined || isHelp(resource)) {
    process.stdout.write(adminUsage());
    return resource === undefined ? 2 : 0;
  }
  const family = commandsOf(resource);
  if (family.length === 0) {
    return fail(2, `unknown admin command '${resource}' (see 'switchyard admin help')`);
  }
  if (action === undefined || isHelp(action)) {
    process.stdout.write(resourceUsage(resource));
    return action === undefined ? 2 : 0;
  }
  const command = family.find((c) => c.name === `${resource} ${action}`);
  if (command === undefined) {
    const actions = family.map((c) => c.name.slice(resource.length + 1)).join(", ");
    return fail(2, `unknown command 'admin ${resource} ${action}' (${resource}: ${actions})`);
  }
  if (wantsHelp(rest)) {
    process.stdout.write(commandUsage(command));
    return 0;
  }
  let run: AdminAction;
  let json: boolean;
  try {
    const input = parseCommandLine(command, rest);
    run = command.prepare(input);
    json = input.switch("json");
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return fail(2, `${err.message} (usage: switchyard admin ${command.name} ${command.synopsis})`);
  }
  return execute(run, json, target());
}

async function execute(run: AdminAction, json: boolean, target: AdminTarget): Promise<number> {
  if (target.adminToken === "") {
    return fail(1, "SWITCHYARD_ADMIN_TOKEN is not set; the control plane refuses admin calls without it");
  }
  let connection: AdminConnection;
  try {
    connection = await openAdminConnection(target);
  } catch (err) {
    return fail(1, describeRpcFailure(err, target.url));
  }
  const out: Output = { json, write: (text) => process.stdout.write(text) };
  try {
    await run({ client: connection.client, out });
    return 0;
  } catch (err) {
    return fail(1, describeRpcFailure(err, connection.url));
  } finally {
    connection.close();
  }
}

function isHelp(word: string): boolean {
  return word === "help" || word === "--help" || word === "-h";
}

/** One line on stderr, and the exit code to return. */
function fail(code: 1 | 2, message: string): number {
  process.stderr.write(`switchyard: ${message}\n`);
  return code;
}
