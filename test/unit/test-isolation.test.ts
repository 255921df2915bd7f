import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/repo-copy.js";

/** Every TypeScript file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "node_modules" ? [] : sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/**
 * Two test runs (or a test run and a benchmark) on one machine share its Redis: they must keep to key prefixes of
 * their own (SWITCHYARD_REDIS_PREFIX, test/support/redis-namespace.ts), never flush or claim a database number.
 */
describe("test isolation on the shared Redis", () => {
  // Unit tests never connect to anything (a Redis URL there is a value to parse).
  const files = [...sources(join(REPO_ROOT, "test")), ...sources(join(REPO_ROOT, "bench"))].filter(
    (f) => !f.startsWith(join(REPO_ROOT, "test", "unit")),
  );

  it("never flushes a Redis database", () => {
    const flushing = files.filter((f) => /\bflush(db|all)\b/i.test(readFileSync(f, "utf8")));
    expect(flushing.map((f) => relative(REPO_ROOT, f))).toEqual([]);
  });

  it("never points the machine's Redis at a database of its own", () => {
    const numbered = files.filter((f) =>
      /6379\/(?!0\b)(\d|\$\{)|\bdb:\s*(\d|options\.)|redisDb:\s*\d/.test(readFileSync(f, "utf8")),
    );
    expect(numbered.map((f) => relative(REPO_ROOT, f))).toEqual([]);
  });
});
