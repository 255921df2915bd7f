import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** The repository root (this file lives in test/support). */
export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/**
 * A throwaway copy of the working tree (tracked and untracked-but-not-ignored files) committed on a fresh `main`,
 * with node_modules linked, so a test can break something and run the real project scripts against it.
 */
export function copyRepo(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-copy-"));
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: REPO_ROOT })
    .toString()
    .split("\0")
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    try {
      cpSync(join(REPO_ROOT, file), join(dir, file));
    } catch {
      // a file deleted in the working tree but still tracked: not part of the copy
    }
  }
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=check", "-c", "user.email=check@localhost", "commit", "-qm", "baseline");
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
