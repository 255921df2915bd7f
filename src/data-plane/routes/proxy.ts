import type { Request, Response } from "express";
import type { Logger } from "../../shared/logger.js";
import type { RequestObserver } from "../observability/request-observer.js";
import type { ClientApi } from "../pipeline/client-response.js";
import { RequestContext } from "../pipeline/request-context.js";
import { type ServeDeps, serveRequest } from "../pipeline/serve-request.js";

/** POST /v1/responses and POST /v1/chat/completions (and their aliases): the proxied OpenAI APIs. */
export function proxyRoute(api: ClientApi, deps: ServeDeps & { log: Logger; observer: RequestObserver }) {
  return async (req: Request, res: Response): Promise<void> => {
    const ctx = new RequestContext(api, req, res, deps.log, deps.clientAddress);
    deps.observer.started(ctx);
    try {
      await serveRequest(ctx, deps);
    } finally {
      deps.observer.finished(ctx);
    }
  };
}
