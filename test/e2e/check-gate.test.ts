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

  // One tree with a defect of each kind (running the whole gate once per defect took a minute): every step fails,
  // each naming its own defect.
  it("fails each step on its kind of defect, naming it", () => {
    appendFileSync(join(repo.dir, "src/shared/clock.ts"), "\nexport const loose: any = 1;\n");
    appendFileSync(join(repo.dir, "src/shared/money.ts"), '\nexport const notANumber: number = "seven";\n');
    edit("proto/switchyard/v1/types.proto", (t) =>
      t
        .replace(
          "  // The request field the failure is about, when there is one (OpenAI's `param`).\n  string param = 4;\n",
          "",
        )
        .concat("\n// A badly named message.\nmessage bad_name {}\n"),
    );
    const r = check();
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("noExplicitAny");
    expect(r.output).toMatch(/error TS2322/);
    expect(r.output).toContain(`Message name "bad_name" should be PascalCase`);
    expect(r.output).toMatch(/Previously present field "4"/);
    expect(r.output).toContain("src/gen is stale");
    expect(failedSteps(r.output).sort()).toEqual(
      ["format-lint", "generated", "proto-breaking", "proto-lint", "types"].sort(),
    );
  });
});
