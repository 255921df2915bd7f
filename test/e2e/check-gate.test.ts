import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { copyRepo } from "../support/repo-copy.js";

/** `npm run check` is the gate: each kind of defect below must make it fail, and name the step that caught it. */
describe("npm run check", () => {
  let repo: { dir: string; remove: () => void };

  beforeEach(() => {
    repo = copyRepo();
  });
  afterEach(() => repo.remove());

  const check = () => {
    const r = spawnSync("npm", ["run", "--silent", "check"], { cwd: repo.dir, encoding: "utf8" });
    return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
  };
  const edit = (file: string, change: (text: string) => string) => {
    const path = join(repo.dir, file);
    writeFileSync(path, change(readFileSync(path, "utf8")));
  };
  const failedSteps = (output: string) => /check: FAILED: (.*)/.exec(output)?.[1]?.split(" ") ?? [];

  it("passes on the unchanged tree", () => {
    const r = check();
    expect(r.output).toContain("check: all passed");
    expect(r.status).toBe(0);
  });

  it("fails on a Biome error", () => {
    appendFileSync(join(repo.dir, "src/shared/clock.ts"), "\nexport const loose: any = 1;\n");
    const r = check();
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("noExplicitAny");
    expect(failedSteps(r.output)).toEqual(["format-lint"]);
  });

  it("fails on a type error", () => {
    appendFileSync(join(repo.dir, "src/shared/clock.ts"), '\nexport const notANumber: number = "seven";\n');
    const r = check();
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/error TS2322/);
    expect(failedSteps(r.output)).toEqual(["types"]);
  });

  it("fails on a buf lint violation", () => {
    edit("proto/switchyard/v1/types.proto", (t) => `${t}\n// A badly named message.\nmessage bad_name {}\n`);
    const r = check();
    expect(r.status).not.toBe(0);
    expect(r.output).toContain(`Message name "bad_name" should be PascalCase`);
    expect(failedSteps(r.output)).toContain("proto-lint");
  });

  it("fails when src/gen is stale after a proto edit", () => {
    edit("proto/switchyard/v1/types.proto", (t) =>
      t.replace(
        "  string param = 4;\n}",
        "  string param = 4;\n  // Where the failure was raised, for logs.\n  string origin = 5;\n}",
      ),
    );
    const r = check();
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("src/gen is stale");
    expect(failedSteps(r.output)).toEqual(["generated"]);
  });

  it("fails on a breaking change against main", () => {
    edit("proto/switchyard/v1/types.proto", (t) =>
      t.replace(
        "  // The request field the failure is about, when there is one (OpenAI's `param`).\n  string param = 4;\n",
        "",
      ),
    );
    const r = check();
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/Previously present field "4"/);
    expect(failedSteps(r.output)).toContain("proto-breaking");
  });
});
