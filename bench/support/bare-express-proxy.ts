import type { AddressInfo } from "node:net";
import type { Writable } from "node:stream";
import express from "express";
import { Agent } from "undici";

/**
 * The baseline gateway: Express 5 + undici `stream()` passing POST /v1/responses through to one upstream, with no
 * auth, admission, accounting or rewriting. What Switchyard adds is measured against this. Prints {"url": …}.
 */
const upstream = new URL(process.argv[2] ?? "http://127.0.0.1:9");
const agent = new Agent({ keepAliveTimeout: 30_000 });
const app = express();
app.disable("x-powered-by");
app.set("etag", false);
app.post("/v1/responses", async (req, res) => {
  try {
    await agent.stream(
      {
        origin: upstream.origin,
        path: "/v1/responses",
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
        body: req,
      },
      ({ statusCode, headers }) => {
        res.status(statusCode);
        const type = headers["content-type"];
        if (typeof type === "string") res.setHeader("content-type", type);
        return res as unknown as Writable;
      },
    );
  } catch {
    if (!res.headersSent) res.status(502).end();
  }
});
const server = app.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
