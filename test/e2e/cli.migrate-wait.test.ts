import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/control-plane/store/db/migrations/index.js";
import { runCli } from "../support/cli.js";
import { REPO_ROOT } from "../support/repo-copy.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

/** Every migration of this build, as the CLI names them (the list itself is checked by database-migrations.test.ts). */
const ALL = MIGRATIONS.map((m) => m.name).join(", ");
const PENDING = `pending migrations: ${ALL}`;

/** `switchyard migrate --wait …` running in the background, as the control plane's init container runs it. */
function startWaiting(databaseUrl: string, extra: string[] = []) {
  const child: ChildProcess = spawn(
    process.execPath,
    [join(REPO_ROOT, "bin/switchyard.js"), "migrate", "--wait", ...extra],
    {
      env: { PATH: process.env.PATH ?? "", SWITCHYARD_DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves once it has printed `text` on stdout (it has looked at the database and is waiting). */
    async printed(text: string): Promise<void> {
      while (!stdout.includes(text)) {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stdout}${stderr}`);
        await Promise.race([once(child.stdout ?? child, "data"), exited]);
      }
    },
  };
}

describe("switchyard migrate --wait", () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase("cli_migrate_wait");
  });
  afterEach(async () => {
    await db.drop();
  });

  it("waits on an empty database, applies nothing, and exits 0 once another process has migrated", async () => {
    const waiting = startWaiting(db.url);
    await waiting.printed(`waiting: ${PENDING}\n`);
    // Still waiting: it applied nothing itself, so the migrate run below finds every migration to apply.
    expect(waiting.child.exitCode).toBeNull();
    const migrated = await runCli(["migrate"], { SWITCHYARD_DATABASE_URL: db.url });
    expect(migrated).toMatchObject({
      status: 0,
      stdout: `applied: ${ALL}\n`,
    });
    expect(await waiting.exited).toBe(0);
    expect(waiting.output()).toEqual({
      stdout: `waiting: ${PENDING}\ndatabase is up to date\n`,
      stderr: "",
    });
  });

  it("exits 0 at once when the schema is already current", async () => {
    await runCli(["migrate"], { SWITCHYARD_DATABASE_URL: db.url });
    const r = await runCli(["migrate", "--wait", "--timeout-ms", "10000"], {
      SWITCHYARD_DATABASE_URL: db.url,
    });
    expect(r).toEqual({ status: 0, stdout: "database is up to date\n", stderr: "" });
  });

  it("exits 1 after --timeout-ms with one line naming what is still pending", async () => {
    const r = await runCli(["migrate", "--wait", "--timeout-ms", "700"], { SWITCHYARD_DATABASE_URL: db.url });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`switchyard: migrations not applied within 700 ms: ${PENDING}\n`);
  });

  it("stops waiting on SIGTERM (the pod is being deleted) instead of holding the termination grace period", async () => {
    const waiting = startWaiting(db.url);
    await waiting.printed("waiting: ");
    waiting.child.kill("SIGTERM");
    expect(await waiting.exited).toBe(1);
    expect(waiting.output().stderr).toBe(`switchyard: stopped while waiting for migrations: ${PENDING}\n`);
  });

  it("never creates a database that does not exist (the Job or the operator does)", async () => {
    const missing = new URL(db.url);
    missing.pathname = `${missing.pathname}_missing`;
    const name = missing.pathname.slice(1);
    const r = await runCli(["migrate", "--wait", "--timeout-ms", "300"], {
      SWITCHYARD_DATABASE_URL: missing.toString(),
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `switchyard: migrations not applied within 300 ms: database not reachable: database "${name}" does not exist\n`,
    );
  });

  it("refuses --timeout-ms without --wait, and a malformed one, with exit 2", async () => {
    const env = { SWITCHYARD_DATABASE_URL: db.url };
    expect(await runCli(["migrate", "--timeout-ms", "5"], env)).toMatchObject({
      status: 2,
      stderr: expect.stringContaining("--timeout-ms applies only with --wait"),
    });
    expect(await runCli(["migrate", "--wait", "--timeout-ms", "soon"], env)).toMatchObject({
      status: 2,
      stderr: expect.stringContaining(
        '--timeout-ms expects a whole number of milliseconds (0: no limit), got "soon"',
      ),
    });
  });
});
