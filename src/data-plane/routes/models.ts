import type { Request, Response } from "express";
import { hashApiKey } from "../../shared/api-key.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import type { ControlPlaneCalls } from "../control/lease-channel.js";
import type { SnapshotWatcher } from "../control/snapshot-watcher.js";
import type { AuthFailureLimiter } from "../pipeline/auth-failure-limiter.js";
import { type ClientAddressSource, clientAddress } from "../pipeline/client-address.js";
import { sendFailure } from "../pipeline/client-response.js";
import { extractApiKey } from "../pipeline/credentials.js";

/** When the list says a model was created; the gateway does not know, so one fixed instant. */
const CREATED = 1_700_000_000;

/** GET /v1/models: the models the key's group serves, in OpenAI's list shape. */
export function modelsRoute(deps: {
  channel: ControlPlaneCalls;
  snapshots: SnapshotWatcher;
  limiter: AuthFailureLimiter;
  controlTimeoutMs: number;
  clientAddress: ClientAddressSource;
}) {
  return async (req: Request, res: Response): Promise<void> => {
    const ip = clientAddress(req, deps.clientAddress);
    try {
      deps.limiter.check(ip);
      const key = extractApiKey(req.headers, new URL(req.originalUrl, "http://x").search.slice(1));
      const { principal } = await deps.channel.call(
        "authenticate",
        { keySha256: hashApiKey(key) },
        { timeoutMs: deps.controlTimeoutMs },
      );
      const groupId = principal?.groupId ?? "";
      const snapshot = deps.snapshots.current;
      if (!snapshot) throw new SwitchyardError(ErrorCode.CONTROL_PLANE_UNAVAILABLE);
      const models = snapshot.groupModels.find((g) => g.groupId === groupId)?.models ?? [];
      res.json({
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: CREATED, owned_by: "switchyard" })),
      });
    } catch (err) {
      if (err instanceof SwitchyardError && err.code === ErrorCode.INVALID_API_KEY)
        deps.limiter.recordFailure(ip);
      sendFailure(res, "responses", err, "");
    }
  };
}
