import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai/index.js";
import { REPO_ROOT } from "../support/repo-copy.js";

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  return typeof address === "object" && address ? address.port : 0;
}

/**
 * `npm start` as a newcomer runs it (here on free ports and a throwaway data directory): the package's start script,
 * exec'd by a shell so SIGTERM reaches the server itself (npm would answer a signal by dying of it).
 */
function startQuickstart(env: Record<string, string>): { child: ChildProcess; output: Promise<string> } {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: { start: string };
  };
  const child = spawn("sh", ["-c", `exec ${pkg.scripts.start}`], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  let text = "";
  const output = new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("Then point an OpenAI SDK")) resolve(text);
    });
    child.once("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${text}`)));
  });
  return { child, output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill("SIGTERM");
  const [code] = (await once(child, "exit")) as [number | null];
  return code;
}

describe("the quickstart: npm start on embedded storage", () => {
  let dataDir: string;
  let fake: FakeOpenAI;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "switchyard-quickstart-"));
    fake = await startFakeOpenAI();
    env = {
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_CONTROL_PLANE_LISTEN: `127.0.0.1:${await freePort()}`,
      SWITCHYARD_DATA_PLANE_LISTEN: `127.0.0.1:${await freePort()}`,
      SWITCHYARD_LOG_LEVEL: "warn",
    };
  });
  afterAll(async () => {
    await fake?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prints the admin token and the next commands, which set up a working key; data survives a restart", async () => {
    const first = startQuickstart(env);
    const welcome = await first.output;
    const token = /admin token:\s+(sy-admin-\S+)/.exec(welcome)?.[1] ?? "";
    const controlPlaneUrl = /control plane:\s+(\S+)/.exec(welcome)?.[1] ?? "";
    const apiUrl = /OpenAI-compatible API:\s+(\S+)/.exec(welcome)?.[1] ?? "";
    expect(token).not.toBe("");
    const cli = (...args: string[]) => {
      const r = spawnSync("npm", ["run", "--silent", "cli", "--", "admin", ...args, "--json"], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: { ...process.env, SWITCHYARD_ADMIN_TOKEN: token, SWITCHYARD_CONTROL_PLANE_URL: controlPlaneUrl },
      });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, Record<string, string>>;
    };
    cli("users", "create", "--name", "me", "--balance", "10");
    cli("groups", "create", "--name", "default");
    cli(
      "accounts",
      "create",
      "--name",
      "openai",
      "--base-url",
      fake.url,
      "--api-key",
      "sk-upstream",
      "--group",
      "default",
    );
    const { key } = cli("keys", "create", "--user", "me", "--group", "default") as unknown as { key: string };

    const client = new OpenAI({ apiKey: key, baseURL: apiUrl, maxRetries: 0 });
    const response = await client.responses.create({ model: "gpt-4o", input: "hello" });
    expect(response.status).toBe("completed");
    expect(fake.requests.at(-1)?.apiKey).toBe("sk-upstream");
    expect(await stop(first.child)).toBe(0);

    const second = startQuickstart(env);
    const again = await second.output;
    expect(again).not.toContain(token);
    expect(again).toContain("secrets.json");
    expect(again).not.toContain("users create");
    // The second banner's commands work as printed: its export reads the token from the data directory.
    const exportLine = again.split("\n").find((line) => line.trim().startsWith("export ")) ?? "";
    const listed = spawnSync(
      "sh",
      ["-c", `${exportLine.trim()} && npm run --silent cli -- admin users list --json`],
      {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      },
    );
    expect(listed.status, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { users: { name: string }[] }).users.map((u) => u.name)).toEqual([
      "me",
    ]);
    expect(again).toContain("npm run cli -- admin keys list");
    const after = new OpenAI({ apiKey: key, baseURL: apiUrl, maxRetries: 0 });
    expect((await after.responses.create({ model: "gpt-4o", input: "again" })).status).toBe("completed");
    expect(await stop(second.child)).toBe(0);
  }, 120_000);
});
