import type { Registry } from "prom-client";
import type { Logger } from "../../shared/logger.js";
import type { NodeHandler } from "./preface-sniffer.js";
import { createUiFiles } from "./ui-files.js";

/**
 * What the port answers besides RPCs: `GET /metrics` (Prometheus text from the registry), the admin web UI under
 * `/ui/` when `uiDir` is given, and 404 for every other path. Used as the Connect adapter's fallback, so RPC paths
 * never reach it.
 */
export function createHttpEndpoints(
  registry: Registry,
  log: Logger,
  uiDir: string | null = null,
): NodeHandler {
  const ui = createUiFiles(uiDir);
  return (req, nodeResponse) => {
    // The part of node:http's and node:http2's response APIs both share.
    const res: PlainResponse = nodeResponse;
    const path = (req.url ?? "").split("?", 1)[0] ?? "";
    if (uiDir !== null && ui(req, nodeResponse, path)) return;
    if (path === "/metrics" && (req.method === "GET" || req.method === "HEAD")) {
      registry.metrics().then(
        (text) => {
          res.statusCode = 200;
          res.setHeader("content-type", registry.contentType);
          endUnlessHead(req.method, res, text);
        },
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, "collecting metrics failed");
          res.statusCode = 500;
          res.end("");
        },
      );
      return;
    }
    res.statusCode = 404;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    endUnlessHead(req.method, res, "not found\n");
  };
}

interface PlainResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
  end(): unknown;
}

/**
 * Ends the answer with `body`, or with none for HEAD: node's HTTP/2 compatibility layer, handed even an empty
 * body for a HEAD request, never finishes the stream, and the client waits for it forever.
 */
function endUnlessHead(method: string | undefined, res: PlainResponse, body: string): void {
  if (method === "HEAD") res.end();
  else res.end(body);
}
