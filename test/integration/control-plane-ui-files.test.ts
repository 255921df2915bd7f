import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpEndpoints } from "../../src/control-plane/transport/http-endpoints.js";
import { createLogger } from "../../src/shared/logger.js";

/** Serves the control plane's non-RPC endpoints over a real port, with the UI from `dir` (or none). */
async function serve(dir: string | null): Promise<{ server: Server; port: number }> {
  const server = createServer(createHttpEndpoints(new Registry(), createLogger({ level: "silent" }), dir));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe("the admin web UI's files on the control-plane port", () => {
  let root: string;
  let built: { server: Server; port: number };
  let absent: { server: Server; port: number };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "switchyard-ui-"));
    const ui = join(root, "ui");
    mkdirSync(join(ui, "assets"), { recursive: true });
    writeFileSync(join(ui, "index.html"), "<!doctype html><title>ui</title>");
    writeFileSync(join(ui, "assets", "app-abc123.js"), "console.log(1)");
    writeFileSync(join(root, "secret.txt"), "outside the UI");
    built = await serve(ui);
    absent = await serve(join(root, "not-built"));
  });
  afterAll(() => {
    built?.server.close();
    absent?.server.close();
    rmSync(root, { recursive: true, force: true });
  });

  const get = (port: number, path: string, method = "GET") =>
    fetch(`http://127.0.0.1:${port}${path}`, { method, redirect: "manual" });

  it("serves index.html with a strict content security policy, and hashed assets as immutable", async () => {
    const index = await get(built.port, "/ui/");
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(index.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(await index.text()).toContain("<title>ui</title>");

    const asset = await get(built.port, "/ui/assets/app-abc123.js");
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toContain("immutable");
  });

  it("answers the app's own paths with index.html, /ui with a redirect, and HEAD without a body", async () => {
    expect(await (await get(built.port, "/ui/accounts/deep")).text()).toContain("<title>ui</title>");
    const bare = await get(built.port, "/ui");
    expect([bare.status, bare.headers.get("location")]).toEqual([308, "/ui/"]);
    const head = await get(built.port, "/ui/", "HEAD");
    expect([head.status, await head.text()]).toEqual([200, ""]);
    expect((await get(built.port, "/ui/", "POST")).status).toBe(405);
  });

  it("never serves a file outside the UI's folder", async () => {
    for (const path of [
      "/ui/../secret.txt",
      "/ui/%2e%2e/secret.txt",
      "/ui/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
    ]) {
      // Sent as written: fetch would normalise the dots away before they reach the server.
      const answer = await rawGet(built.port, path);
      expect(answer, path).not.toContain("outside the UI");
    }
  });

  it("says how to build it when it is not built, and leaves other paths and /metrics as they were", async () => {
    const missing = await get(absent.port, "/ui/");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain("npm run build");
    expect((await get(built.port, "/metrics")).status).toBe(200);
    expect((await get(built.port, "/elsewhere")).status).toBe(404);
  });
});

/** The whole answer to a GET of `path` sent byte for byte. */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.end(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    let text = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("end", () => resolve(text)).on("error", reject);
  });
}
