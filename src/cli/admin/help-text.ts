import type { AdminCommand } from "./command.js";
import { commandsOf, resources } from "./commands.js";

/** `switchyard admin help`: every command's synopsis, grouped by resource, and what all of them share. */
export function adminUsage(): string {
  const sections = resources().map(
    (resource) =>
      `${resource}:\n${commandsOf(resource)
        .map((c) => `  ${c.name} ${c.synopsis}`.trimEnd())
        .join("\n")}`,
  );
  return `usage: switchyard admin <resource> <action> [arguments] [--json]

${sections.join("\n\n")}

Every command takes --json (print the response as one JSON document, proto JSON field names) and --help
(its flags, defaults and value formats).
Lists fetch every page unless --limit N is given. The control plane is SWITCHYARD_CONTROL_PLANE_URL
(default http://127.0.0.1:50051), called with SWITCHYARD_ADMIN_TOKEN.
Exit codes: 0 success, 1 the control plane refused or could not be reached, 2 usage error.
`;
}

/** The commands of one resource, for `switchyard admin <resource>` without an action. */
export function resourceUsage(resource: string): string {
  const lines = commandsOf(resource).map((c) => `  switchyard admin ${c.name} ${c.synopsis}`.trimEnd());
  return `usage:\n${lines.join("\n")}\n`;
}

/** One command's usage, summary and notes, for `--help`. */
export function commandUsage(command: AdminCommand): string {
  const notes = (command.notes ?? []).map((note) => `  ${note}\n`).join("");
  return `usage: switchyard admin ${command.name} ${command.synopsis} [--json]\n\n${command.summary}\n${notes ? `\n${notes}` : ""}`;
}
