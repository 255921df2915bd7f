import type { AddressInfo } from "node:net";
import type { Writable } from "node:stream";
import express, { type Request, type Response } from "express";
import { Agent } from "undici";
import type { OperationRequest } from "../../src/data-plane/control/lease-channel.js";

/**
 * The baseline gateway: Express 5 + undici `stream()` passing POST /v1/responses through to one upstream, with no
 * auth, admission, accounting or rewriting. What Switchyard adds is measured against this. Prints {"url": …}.
 *
 * With a second argument, the URL of a lease-channel server (bench/support/echo-gateway-server.ts), each request
 * first waits for one admit on the data plane's lease channel and releases after its response, off its path: the
 * design's floor (DESIGN.md §2, one blocking round trip to the control plane per request) with nothing else added.
 */
const upstream = new URL(process.argv[2] ?? "http://127.0.0.1:9");
const agent = new Agent({ keepAliveTimeout: 30_000 });
// Imported only for the floor, so the plain baseline loads nothing it does not use.
const floor = process.argv[3]
  ? {
      ...(await import("../../src/gen/switchyard/v1/types_pb.js")),
      channel: (await import("./lease-channel-client.js")).leaseChannelTo(process.argv[3], "unused"),
    }
  : null;
await floor?.channel.waitConnected(10_000);
const KEY = new Uint8Array(32);
let requests = 0;

/** One admit before the request, one release after it (not awaited, as the data plane does). */
async function admitted(run: () => Promise<void>): Promise<void> {
  if (!floor) return run();
  const { channel, Endpoint, Outcome } = floor;
  const admit = {
    requestId: `req_floor_${requests++}`,
    keySha256: KEY,
    model: "gpt-4o",
    endpoint: Endpoint.RESPONSES,
  };
  const { lease } = await channel.call("admit", admit as OperationRequest<"admit">, { timeoutMs: 30_000 });
  try {
    await run();
  } finally {
    const release = { leaseId: lease?.leaseId ?? "", outcome: Outcome.COMPLETED, upstreamStatus: 200 };
    channel
      .call("release", release as OperationRequest<"release">, { timeoutMs: 30_000 })
      .catch(() => undefined);
  }
}

const app = express();
app.disable("x-powered-by");
app.set("etag", false);
app.post("/v1/responses", async (req, res) => {
  try {
    await admitted(() => forward(req, res));
  } catch {
    if (!res.headersSent) res.status(502).end();
  }
});

async function forward(req: Request, res: Response): Promise<void> {
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
}
const server = app.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
