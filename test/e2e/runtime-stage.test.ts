import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execForm, readDockerfile, stageEnv } from "../support/dockerfile.js";
import { grpcJsClient, grpcUnary } from "../support/grpc-clients.js";
import { type InstalledProcess, startInstalled, until } from "../support/installed-process.js";
import { type RedisNamespace, redisNamespace } from "../support/redis-namespace.js";
import { REPO_ROOT } from "../support/repo-copy.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const run = promisify(execFile);

/**
 * The image's final stage without Docker: deploy/runtime-stage.sh (the script the Dockerfile RUNs) installs into a
 * temporary directory from this checkout's build, then the planes are started from that install the way the image
 * starts them (its ENTRYPOINT and ENV) and in the order the Kubernetes manifests enforce: `migrate --wait` (the
 * control plane's init container) holds until `migrate` (the Job) has run, then the control plane with
 * migrate-on-start off, then a data plane. A runtime dependency missing from `dependencies` fails here.
 */
describe("the image's runtime stage, started as the manifests start it", () => {
  const { stages } = readDockerfile();
  const image = stages.at(-1);
  if (image === undefined) throw new Error("deploy/Dockerfile has no stage");
  let root: string;
  let app: string;
  let db: TestDatabase;
  let redis: RedisNamespace;
  const processes: InstalledProcess[] = [];
  const adminToken = `admin-${randomBytes(12).toString("hex")}`;
  const dataPlaneToken = `dp-${randomBytes(12).toString("hex")}`;
  let controlPlanePort = 0;
  let dataPlanePort = 0;

  /** The image's ENTRYPOINT with /app as this install, and its ENV under the test's own settings. */
  const start = (args: string[], env: Record<string, string>) => {
    const [program, ...entry] = execForm(image, "ENTRYPOINT");
    const argv = [
      program === "node" ? process.execPath : (program ?? ""),
      ...entry.map((a) => a.replace(/^\/app\//, `${app}/`)),
      ...args,
    ];
    const started = startInstalled(
      argv,
      { PATH: dirname(process.execPath), ...stageEnv(image), SWITCHYARD_LOG_LEVEL: "warn", ...env },
      app,
    );
    processes.push(started);
    return started;
  };
  const database = () => ({ SWITCHYARD_DATABASE_URL: db.url });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "switchyard-runtime-"));
    app = join(root, "app");
    // Module resolution walks up from the install: a node_modules above it would hide a missing dependency.
    expect(
      [join(root, "node_modules"), join(tmpdir(), "node_modules"), "/node_modules"].filter(existsSync),
    ).toEqual([]);
    await run("sh", [join(REPO_ROOT, "deploy/runtime-stage.sh"), REPO_ROOT, app], { cwd: root });
    db = await createTestDatabase("runtime_stage");
    redis = redisNamespace("runtime-stage");
    [controlPlanePort, dataPlanePort] = [await freePort(), await freePort()];
  }, 240_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await db?.drop();
    await redis?.drop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("holds only the runtime: package files, bin/, dist/ and production dependencies (no tsx, TypeScript or tests)", () => {
    expect(readdirSync(app).sort()).toEqual([
      "bin",
      "dist",
      "node_modules",
      "package-lock.json",
      "package.json",
    ]);
    for (const dev of [
      "tsx",
      "typescript",
      "vitest",
      "@biomejs",
      "@bufbuild/buf",
      "openai",
      "@grpc/grpc-js",
    ]) {
      expect(existsSync(join(app, "node_modules", dev)), dev).toBe(false);
    }
    expect(existsSync(join(app, "node_modules", "@mikro-orm", "postgresql"))).toBe(true);
  });

  it("migrate --wait (the init container) holds until migrate (the Job) has applied the schema", async () => {
    const waiting = start(["migrate", "--wait", "--timeout-ms", "60000"], database());
    await until(
      "migrate --wait reports what it waits for",
      async () =>
        waiting.output().includes("waiting: pending migrations: 0001-initial-schema") ? true : undefined,
      waiting,
    );
    const job = start(["migrate"], database());
    expect(await job.exited, job.output()).toBe(0);
    expect(job.output()).toMatch(/^applied: 0001-initial-schema, /);
    expect(await waiting.exited, waiting.output()).toBe(0);
    expect(waiting.output()).toMatch(/database is up to date\n$/);
  });

  it("serves the control plane with migrate-on-start off: grpc.health.v1 SERVING, /metrics and the admin UI", async () => {
    const controlPlane = start(["serve", "control-plane"], {
      ...database(),
      SWITCHYARD_MIGRATE_ON_START: "false",
      SWITCHYARD_CONTROL_PLANE_LISTEN: `127.0.0.1:${controlPlanePort}`,
      SWITCHYARD_REDIS_URL: redis.url,
      SWITCHYARD_REDIS_PREFIX: redis.prefix,
      SWITCHYARD_SECRET_KEY: randomBytes(32).toString("hex"),
      SWITCHYARD_ADMIN_TOKEN: adminToken,
      SWITCHYARD_DATA_PLANE_TOKEN: dataPlaneToken,
    });
    // What a kubelet gRPC probe asks: Check with an empty service name, from a stock gRPC client.
    const health = grpcJsClient("grpc.health.v1.Health", `127.0.0.1:${controlPlanePort}`);
    try {
      const status = await until(
        "the control plane reports SERVING",
        async () => {
          const r = await grpcUnary<{ status: string }>(health, "Check", { service: "" });
          return r.response?.status === "SERVING" ? r.response.status : undefined;
        },
        controlPlane,
      );
      expect(status).toBe("SERVING");
    } finally {
      health.close();
    }
    const metrics = await fetch(`http://127.0.0.1:${controlPlanePort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("grpc_server_handled_total");
    // The admin web UI ships built in dist/ui, without Vite (a development dependency) in the install.
    const ui = await fetch(`http://127.0.0.1:${controlPlanePort}/ui/`);
    expect([ui.status, ui.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
  });

  it("starts a data plane that connects to it and turns /readyz 200 (/healthz 200 from the start)", async () => {
    const dataPlane = start(["serve", "data-plane"], {
      SWITCHYARD_DATA_PLANE_LISTEN: `127.0.0.1:${dataPlanePort}`,
      SWITCHYARD_CONTROL_PLANE_URL: `http://127.0.0.1:${controlPlanePort}`,
      SWITCHYARD_DATA_PLANE_TOKEN: dataPlaneToken,
    });
    const base = `http://127.0.0.1:${dataPlanePort}`;
    const ready = await until(
      "the data plane is ready",
      async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined),
      dataPlane,
    );
    expect(ready).toBe(true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain("switchyard_requests_in_flight");
  });

  it("answers an admin call from the installed CLI", async () => {
    const cli = start(["admin", "users", "create", "--name", "runtime-stage-check", "--json"], {
      SWITCHYARD_CONTROL_PLANE_URL: `http://127.0.0.1:${controlPlanePort}`,
      SWITCHYARD_ADMIN_TOKEN: adminToken,
    });
    expect(await cli.exited, cli.output()).toBe(0);
    expect(JSON.parse(cli.output())).toMatchObject({ user: { name: "runtime-stage-check" } });
  });

  it("stops both planes on SIGTERM with exit 0 (the signal reaches Node, which drains), having written nothing", async () => {
    const [controlPlane, dataPlane] = processes.filter((p) => p.child.exitCode === null);
    expect(dataPlane, "both planes are still running").toBeDefined();
    expect(await dataPlane?.stop(), dataPlane?.output()).toBe(0);
    expect(await controlPlane?.stop(), controlPlane?.output()).toBe(0);
    // Nothing was written into the install (no ORM cache, no data dir): the root filesystem can be read-only.
    expect(readdirSync(app).sort()).toEqual([
      "bin",
      "dist",
      "node_modules",
      "package-lock.json",
      "package.json",
    ]);
  });
});

/** A port the OS just handed out and released. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
