import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../../src/shared/config.js";
import { REPO_ROOT } from "../support/repo-copy.js";

const read = (path: string) => readFileSync(join(REPO_ROOT, path), "utf8");

/** Every .ts file under `dir`, concatenated: where metric names are defined. */
function sourceText(dir: string): string {
  return readdirSync(dir)
    .map((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return sourceText(path);
      return path.endsWith(".ts") ? readFileSync(path, "utf8") : "";
    })
    .join("\n");
}

/** docs/operations.md is what operators act on: what it names must exist under those names. */
describe("the operations guide", () => {
  const guide = read("docs/operations.md");

  it("is linked from the README and from deploy/README.md", () => {
    expect(read("README.md")).toContain("(docs/operations.md)");
    expect(read("deploy/README.md")).toContain("(../docs/operations.md)");
    expect(read("deploy/README.md")).not.toMatch(/not written yet/i);
  });

  it("names only files and folders of deploy/ that exist", () => {
    // `deploy/switchyard-…` is kubectl's name for a Deployment, not a path.
    const paths = [...guide.matchAll(/\bdeploy\/(?!switchyard-)[\w./-]*\w/g)].map((m) => m[0]);
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !existsSync(join(REPO_ROOT, p)))).toEqual([]);
  });

  it("names only settings Switchyard reads", () => {
    const names = new Set([...guide.matchAll(/\bSWITCHYARD_[A-Z_]+[A-Z]\b/g)].map((m) => m[0]));
    expect([...names].filter((n) => !CONFIG_VARIABLES.includes(n))).toEqual([]);
  });

  it("names only metrics the planes export", () => {
    const src = sourceText(join(REPO_ROOT, "src"));
    const names = new Set(
      [...guide.matchAll(/\bswitchyard_[a-z_]+[a-z]\b/g)].map((m) => m[0].replace(/_bucket$/, "")),
    );
    expect(names.size).toBeGreaterThan(10);
    expect([...names].filter((n) => !src.includes(`"${n}"`))).toEqual([]);
  });
});
