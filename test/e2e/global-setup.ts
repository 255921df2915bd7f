import { execFileSync } from "node:child_process";
import { REPO_ROOT } from "../support/repo-copy.js";
import { BUILT_VARIABLE } from "../support/stack.js";

/** End-to-end tests run the installed command (bin/switchyard.js → dist/), so compile once before them. */
export default function setup(): void {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
  process.env[BUILT_VARIABLE] = "1";
}
