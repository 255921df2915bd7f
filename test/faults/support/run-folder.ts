import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../support/repo-copy.js";

/**
 * Every fault run writes into one folder, `.faults/runs/<run id>/` at the repository root: `logs/` (everything
 * each process printed, one file per process), `figures/` (one JSON file per scenario), `secrets.jsonl` (the
 * secrets the run handed out, for the log scan) and `pids/` (processes still running, for the final sweep).
 * `.faults/` ignores itself in git.
 */
export const FAULTS_ROOT = join(REPO_ROOT, ".faults");

/** The environment variable naming the current run's folder (set by the faults project's global setup). */
export const RUN_DIR_VARIABLE = "SWITCHYARD_FAULTS_RUN_DIR";

let fallbackRunDir: string | undefined;

/** Creates a new run folder (and `.faults/` with its `.gitignore`); returns its path. */
export function createRunDir(): string {
  mkdirSync(FAULTS_ROOT, { recursive: true });
  const ignore = join(FAULTS_ROOT, ".gitignore");
  if (!existsSync(ignore)) writeFileSync(ignore, "*\n");
  const id = `${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`;
  const dir = join(FAULTS_ROOT, "runs", id);
  for (const sub of ["logs", "figures", "pids"]) mkdirSync(join(dir, sub), { recursive: true });
  return dir;
}

/**
 * The current run's folder: the one the global setup created, or (a support module used outside the faults
 * project) one of this process's own.
 */
export function runDir(): string {
  const provided = process.env[RUN_DIR_VARIABLE];
  if (provided) return provided;
  fallbackRunDir ??= createRunDir();
  return fallbackRunDir;
}

/** A secret handed out during the run (token, key, credential) that no log line may contain. */
export interface RunSecret {
  label: string;
  value: string;
}

/** Remembers secrets for the log scan; values shorter than 8 characters are refused (they would match noise). */
export function registerSecrets(secrets: Record<string, string>, dir = runDir()): void {
  const lines = Object.entries(secrets).map(([label, value]) => {
    if (value.length < 8) throw new Error(`secret ${label} is too short to scan for`);
    return `${JSON.stringify({ label, value })}\n`;
  });
  appendFileSync(join(dir, "secrets.jsonl"), lines.join(""));
}

/** The secrets registered in a run folder. */
export function readSecrets(dir = runDir()): RunSecret[] {
  const file = join(dir, "secrets.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as RunSecret);
}

/** The log files of a run folder, as absolute paths. */
export function logFiles(dir = runDir()): string[] {
  const logs = join(dir, "logs");
  if (!existsSync(logs)) return [];
  return readdirSync(logs)
    .filter((name) => name.endsWith(".log"))
    .map((name) => join(logs, name));
}

/** A log file path for a process name, unique within the run (`dp-1.log`, `dp-1.2.log` on a clash). */
export function newLogFile(name: string, dir = runDir()): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, "_");
  let candidate = join(dir, "logs", `${safe}.log`);
  for (let n = 2; existsSync(candidate); n++) candidate = join(dir, "logs", `${safe}.${n}.log`);
  writeFileSync(candidate, "");
  return candidate;
}
