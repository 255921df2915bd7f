import type { Request, Response } from "express";
import type { Registry } from "prom-client";

/** GET /healthz: the process is alive. */
export function healthz(_req: Request, res: Response): void {
  res.status(200).json({ status: "ok" });
}

/** GET /readyz: connected to the control plane with a snapshot, and not shutting down. */
export function readyz(ready: () => boolean) {
  return (_req: Request, res: Response): void => {
    const ok = ready();
    res.status(ok ? 200 : 503).json({ status: ok ? "ready" : "not ready" });
  };
}

/** GET /metrics: Prometheus text. */
export function metrics(registry: Registry) {
  return async (_req: Request, res: Response): Promise<void> => {
    res.setHeader("content-type", registry.contentType);
    res.end(await registry.metrics());
  };
}
