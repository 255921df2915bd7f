import { readFileSync } from "node:fs";
import { loadConfigOrExit } from "../shared/config.js";
import { runAdmin } from "./admin/run-admin.js";

/** The `switchyard` command. Exit codes: 0 success, 1 runtime or server error, 2 usage error. */

const USAGE = `usage: switchyard <command>

commands:
  serve control-plane | data-plane | all   run a plane (all: both, on embedded storage)
  migrate [--wait [--timeout-ms N]]         apply database migrations; --wait applies none and waits until
                                            they are all applied (N ms at most; 0: no limit)
  admin <resource> <action> [flags]         manage users, groups, keys, subscriptions, accounts, rules,
                                            prices; inspect usage, leases and sticky sessions
                                            ('switchyard admin help')
  import sub2api --database-url URL [--apply]
                                            carry users, groups, keys, accounts, subscriptions and rules
                                            over from sub2api (a dry run unless --apply)
  version                                   print the version
  help                                      print this help
`;

/** Runs the CLI with the given arguments (without node and script) and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    case "version":
    case "--version":
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    // Loaded on demand: the planes pull in the ORM and Redis clients, which `admin` and `version` do not need
    // (they would triple the command's start-up time).
    case "serve": {
      const { serve } = await import("./serve.js");
      return serve(loadConfigOrExit(), rest);
    }
    case "migrate": {
      const { runMigrations } = await import("./migrate.js");
      return runMigrations(loadConfigOrExit(), rest);
    }
    case "admin":
      return runAdmin(rest, () => loadConfigOrExit().controlPlane);
    case "import": {
      const { runImport } = await import("./import/import-command.js");
      return runImport(rest, () => loadConfigOrExit().controlPlane);
    }
    default:
      process.stderr.write(`switchyard: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  return typeof pkg === "object" && pkg !== null && "version" in pkg ? String(pkg.version) : "unknown";
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`switchyard: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
