import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { logFiles, readSecrets, runDir } from "./run-folder.js";

/** A log line that holds a secret; the secret itself is never repeated, only what it was. */
export interface SecretFinding {
  file: string;
  line: number;
  label: string;
}

/** What a scan looked at and found. */
export interface LogScan {
  files: number;
  lines: number;
  secrets: number;
  findings: SecretFinding[];
}

/** Shapes that are secrets whoever issued them: a whole Switchyard key, and the suite's upstream credentials. */
const SECRET_SHAPES: ReadonlyArray<{ label: string; pattern: RegExp }> = [
  { label: "a whole sk-sy- key", pattern: /sk-sy-[A-Za-z0-9_-]{43}/ },
  { label: "an upstream credential", pattern: /sk-upstream-[0-9a-f]{24}/ },
];

/**
 * Reads every log line every process of the run printed and reports each line holding a registered secret (admin
 * and data-plane tokens, the secret key, upstream credentials, issued API keys) or something shaped like one.
 */
export function scanLogsForSecrets(dir = runDir()): LogScan {
  const secrets = readSecrets(dir);
  const scan: LogScan = { files: 0, lines: 0, secrets: secrets.length, findings: [] };
  for (const file of logFiles(dir)) {
    scan.files += 1;
    const lines = readFileSync(file, "utf8").split("\n");
    for (const [index, text] of lines.entries()) {
      if (text === "") continue;
      scan.lines += 1;
      const labels = new Set<string>();
      for (const secret of secrets) if (text.includes(secret.value)) labels.add(secret.label);
      for (const shape of SECRET_SHAPES) if (shape.pattern.test(text)) labels.add(shape.label);
      for (const label of labels) scan.findings.push({ file: basename(file), line: index + 1, label });
    }
  }
  return scan;
}

/** One line per finding, for an assertion message. */
export function describeFindings(findings: readonly SecretFinding[]): string {
  return findings.map((f) => `${f.file}:${f.line} holds ${f.label}`).join("\n");
}
