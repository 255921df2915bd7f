import type { Lease } from "../../src/gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../../src/gen/switchyard/v1/types_pb.js";
import { hashApiKey } from "../../src/shared/api-key.js";
import { newRequestId } from "../../src/shared/ids.js";

/** An admit of a new request with an issued key, as a data plane sends it (gpt-4o, Responses). */
export function admitOf(key: string, stream = true) {
  return {
    requestId: newRequestId(),
    keySha256: hashApiKey(key),
    model: "gpt-4o",
    stream,
    endpoint: Endpoint.RESPONSES,
  };
}

/** The usage report a data plane sends for `lease` after a completed gpt-4o Responses request. */
export function usageReportOf(
  requestId: string,
  lease: Lease,
  tokens: { inputTokens?: number; outputTokens?: number },
  extra: { durationMs?: number; startedAtMs?: number } = {},
) {
  return {
    requestId,
    leaseId: lease.leaseId,
    ...(lease.principal ? { principal: lease.principal } : {}),
    accountId: lease.target?.accountId ?? "",
    requestedModel: "gpt-4o",
    upstreamModel: "gpt-4o",
    endpoint: Endpoint.RESPONSES,
    stream: true,
    tokens,
    outcome: Outcome.COMPLETED,
    statusCode: 200,
    ...(extra.durationMs === undefined ? {} : { durationMs: extra.durationMs }),
    startedAtMs: BigInt(extra.startedAtMs ?? Date.now()),
  };
}
