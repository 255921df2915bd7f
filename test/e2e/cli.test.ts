import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/control-plane/store/db/migrations/index.js";
import { REPO_ROOT } from "../support/repo-copy.js";
import { createTestDatabase } from "../support/test-database.js";

/** The installed `switchyard` command, as an operator runs it. */
function switchyard(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, "bin/switchyard.js"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the switchyard command", () => {
  it("prints its version", () => {
    const r = switchyard(["version"]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("prints usage for help and exits 2 without a command", () => {
    expect(switchyard(["help"])).toMatchObject({
      status: 0,
      stdout: expect.stringContaining("usage: switchyard"),
    });
    expect(switchyard([]).status).toBe(2);
  });

  it("rejects an unknown command with exit code 2", () => {
    const r = switchyard(["frobnicate"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it("exits 1 with one line naming a malformed variable", () => {
    const r = switchyard(["serve", "all"], { SWITCHYARD_DATA_PLANE_LISTEN: "localhost" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'switchyard: invalid SWITCHYARD_DATA_PLANE_LISTEN: expected host:port, e.g. 127.0.0.1:8080 (got "localhost")\n',
    );
    expect(r.stdout).toBe("");
  });
});

describe("switchyard migrate", () => {
  it("applies the migrations to an empty database once, then finds it up to date", async () => {
    const db = await createTestDatabase("cli_migrate");
    try {
      const first = switchyard(["migrate"], { SWITCHYARD_DATABASE_URL: db.url });
      expect(first).toMatchObject({
        status: 0,
        stdout: `applied: ${MIGRATIONS.map((m) => m.name).join(", ")}\n`,
      });
      const again = switchyard(["migrate"], { SWITCHYARD_DATABASE_URL: db.url });
      expect(again).toMatchObject({ status: 0, stdout: "database is up to date\n" });
    } finally {
      await db.drop();
    }
  });

  it("exits 2 without a database URL", () => {
    const r = switchyard(["migrate"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("switchyard: SWITCHYARD_DATABASE_URL is required for migrate\n");
  });
});
