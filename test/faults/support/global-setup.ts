import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../support/repo-copy.js";
import { BUILT_VARIABLE } from "../../support/stack.js";
import { faultMode } from "./fault-mode.js";
import { readFigures } from "./figures.js";
import { describeFindings, scanLogsForSecrets } from "./log-scan.js";
import { writeReliabilityDoc } from "./reliability-doc.js";
import { createRunDir, FAULTS_ROOT, RUN_DIR_VARIABLE } from "./run-folder.js";

/** Run folders kept under .faults/runs (older ones are deleted at the end of a run). */
const KEPT_RUNS = 10;

/**
 * The faults project's global setup: one run folder for every file of the run (its path reaches the test
 * workers through SWITCHYARD_FAULTS_RUN_DIR), and a final step after the last file: kill processes a crashed
 * test worker left behind, scan every log line of the run for secrets (failing the run if one is found), and
 * after a full run render the figures into docs/reliability.md.
 */
export default function setup(): () => void {
  // The planes start from dist/ (compiling TypeScript at every process start costs seconds per process); the e2e
  // project's setup may have built it already in this run.
  if (process.env[BUILT_VARIABLE] !== "1") {
    execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: REPO_ROOT, stdio: "inherit" });
    process.env[BUILT_VARIABLE] = "1";
  }
  const dir = createRunDir();
  process.env[RUN_DIR_VARIABLE] = dir;
  return () => finishRun(dir);
}

function finishRun(dir: string): void {
  const killed = sweepLeftoverProcesses(dir);
  const scan = scanLogsForSecrets(dir);
  const updated = faultMode() === "full" ? writeReliabilityDoc(readFigures(dir)) : 0;
  const summary = {
    mode: faultMode(),
    leftoverProcessesKilled: killed,
    logScan: scan,
    docScenarios: updated,
  };
  writeFileSync(join(dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  pruneOldRuns();
  process.stdout.write(
    `faults: ${scan.lines} log lines of ${scan.files} processes scanned for ${scan.secrets} secrets, ` +
      `${scan.findings.length} found; ${killed} leftover processes killed; run folder ${dir}\n`,
  );
  const problems = [
    ...(scan.findings.length > 0
      ? [`secrets in the fault run's logs:\n${describeFindings(scan.findings)}`]
      : []),
    ...(killed > 0 ? [`${killed} processes outlived their test files (see ${join(dir, "pids")})`] : []),
  ];
  if (problems.length > 0) {
    // Vitest reports an error thrown here but still exits 0: set the exit code as well.
    process.exitCode = 1;
    throw new Error(problems.join("\n"));
  }
}

/** Kills processes whose pid file is still there (their test worker died first), by pid, if still the same. */
function sweepLeftoverProcesses(dir: string): number {
  const folder = join(dir, "pids");
  if (!existsSync(folder)) return 0;
  let killed = 0;
  for (const pid of readdirSync(folder)) {
    const command = readFileSync(join(folder, pid), "utf8").trim();
    const cmdline = `/proc/${pid}/cmdline`;
    if (existsSync(cmdline) && readFileSync(cmdline, "utf8").split("\0")[0] === command) {
      process.kill(Number(pid), "SIGKILL");
      killed += 1;
    } else {
      rmSync(join(folder, pid));
    }
  }
  return killed;
}

function pruneOldRuns(): void {
  const runs = join(FAULTS_ROOT, "runs");
  if (!existsSync(runs)) return;
  const old = readdirSync(runs).sort().slice(0, -KEPT_RUNS);
  for (const name of old) rmSync(join(runs, name), { recursive: true, force: true });
}
