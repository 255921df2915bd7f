import { create } from "@bufbuild/protobuf";
import {
  AdmitCancelResultSchema,
  AdmitResponseSchema,
  AuthenticateResponseSchema,
  type Lease,
  LeaseSchema,
  ReleaseResponseSchema,
  ReleaseScope,
  type RenewRequest,
  RenewResponseSchema,
  RerouteResponseSchema,
  type SubscriptionUsage,
  type UpstreamFailure,
  UpstreamFailureKind,
} from "../../gen/switchyard/v1/gateway_pb.js";
import { Endpoint, Outcome } from "../../gen/switchyard/v1/types_pb.js";
import { ErrorCode, SwitchyardError } from "../../shared/errors.js";
import type { AttemptFailure } from "../domain/admission/account-penalty.js";
import type { AdmissionService, Grant } from "../domain/admission/admission-service.js";
import type { LeaseKeeping, RenewInput } from "../domain/admission/lease-keeping.js";
import type { TrafficWindow } from "../domain/admission/traffic-window.js";
import type { ReportedUsage } from "../domain/oauth/usage-windows.js";
import type { UpstreamFailureView } from "../domain/scheduling/index.js";
import type { GatewayHandlers } from "./gateway-handlers.js";
import type { UsageRecorder } from "./usage-recorder.js";

const FAILURE_KINDS: Record<UpstreamFailureKind, UpstreamFailureView["kind"]> = {
  [UpstreamFailureKind.UNSPECIFIED]: "http_status",
  [UpstreamFailureKind.HTTP_STATUS]: "http_status",
  [UpstreamFailureKind.TRANSPORT]: "transport",
  [UpstreamFailureKind.HEADERS_TIMEOUT]: "headers_timeout",
  [UpstreamFailureKind.EMPTY_STREAM]: "empty_stream",
};

/** Outcomes of an admitted request that count as errors on the overview. */
const FAILED_OUTCOMES = new Set([Outcome.FAILED_UPSTREAM, Outcome.TRUNCATED]);

/**
 * The gateway operations over the admission domain: proto in, proto out, nothing else. Every authenticate refusal,
 * admit and failed outcome is counted in `traffic`.
 */
export function createAdmissionHandlers(
  admission: AdmissionService,
  keeping: LeaseKeeping,
  usage: UsageRecorder,
  traffic: TrafficWindow,
): GatewayHandlers {
  return {
    async authenticate(request) {
      const key = await admission.authenticate(keyHash(request.keySha256)).catch((err: unknown) => {
        traffic.refused();
        throw err;
      });
      return create(AuthenticateResponseSchema, {
        principal: { userId: key.userId, keyId: key.keyId, groupId: key.groupId },
      });
    },

    async admit(request, ctx) {
      if (request.requestId === "" || request.requestId.length > 128)
        throw invalid("request_id", "1–128 chars");
      if (request.model === "") throw invalid("model", "required");
      if (request.endpoint === Endpoint.UNSPECIFIED) throw invalid("endpoint", "required");
      const grant = await admitCounted(
        traffic,
        {
          requestId: request.requestId,
          keySha256: keyHash(request.keySha256),
          model: request.model,
          stream: request.stream,
          endpoint: request.endpoint,
          sessionHash: request.sessionHash,
          previousResponseId: request.previousResponseId,
          maxWaitMs: request.maxWaitMs,
          clientIp: request.clientIp.slice(0, 64),
          resend: request.resend,
          instanceId: ctx.instanceId,
          signal: ctx.signal,
        },
        admission,
      );
      return create(AdmitResponseSchema, { lease: toLease(grant) });
    },

    async cancelAdmit(request) {
      return create(AdmitCancelResultSchema, { withdrawn: admission.cancelAdmit(request.requestId) });
    },

    async reroute(request, ctx) {
      const grant = await admission.reroute(
        request.leaseId,
        attemptFailure(request.failure),
        request.excludedAccountIds,
        ctx.signal,
      );
      return create(RerouteResponseSchema, { lease: toLease(grant) });
    },

    async renew(request) {
      const renewal = await keeping.renew(renewInput(request));
      return create(RenewResponseSchema, {
        expiresAtMs: BigInt(renewal.expiresAt),
        reasserted: renewal.reasserted,
      });
    },

    async reassert(request) {
      return keeping.reassertAll(request.leases.map(renewInput));
    },

    async release(request) {
      // The release opens the lease's ticket first; the usage record it carries is its last use.
      const releasing = keeping.release({
        leaseId: request.leaseId,
        userSlotOnly: request.scope === ReleaseScope.USER_SLOT,
        upstreamStatus: request.upstreamStatus,
        responseId: request.responseId,
        ...(request.failure ? { failure: attemptFailure(request.failure) } : {}),
        ticket: request.ticket,
        ...(request.subscriptionUsage ? { usage: reportedUsage(request.subscriptionUsage) } : {}),
      });
      const carried = request.usage;
      if (!carried) return create(ReleaseResponseSchema, { released: await releasing });
      if (FAILED_OUTCOMES.has(carried.outcome)) traffic.failed();
      const recording = usage.recordCarried(carried);
      // Written whatever the release answers: a record that fails with it is sent again by its data plane.
      const [released, usageRecorded] = await Promise.all([releasing, recording]);
      return create(ReleaseResponseSchema, { released, usageRecorded });
    },

    async reportUsage(request) {
      for (const record of request.records) if (FAILED_OUTCOMES.has(record.outcome)) traffic.failed();
      return usage.record(request.records);
    },
  };
}

/** Admits and counts the outcome: a grant, or a refusal unless the data plane withdrew the request itself. */
async function admitCounted(
  traffic: TrafficWindow,
  input: Parameters<AdmissionService["admit"]>[0],
  admission: AdmissionService,
): Promise<Grant> {
  try {
    const grant = await admission.admit(input);
    if (!input.resend) traffic.admitted();
    return grant;
  } catch (err) {
    if (!input.signal.aborted) traffic.refused();
    throw err;
  }
}

function attemptFailure(failure: UpstreamFailure | undefined): AttemptFailure {
  return {
    kind: FAILURE_KINDS[failure?.kind ?? UpstreamFailureKind.UNSPECIFIED] ?? "http_status",
    status: failure?.status ?? 0,
    resetAfterMs: failure?.resetAfterMs ?? 0,
    message: (failure?.message ?? "").slice(0, 200),
    skipMonitoring: failure?.skipMonitoring ?? false,
  };
}

function renewInput(request: RenewRequest): RenewInput {
  return {
    leaseId: request.leaseId,
    ticket: request.ticket,
    userSlotReleased: request.userSlotReleased,
  };
}

function toLease(grant: Grant): Lease {
  const { record, account } = grant;
  return create(LeaseSchema, {
    leaseId: record.leaseId,
    expiresAtMs: BigInt(record.expiresAt),
    ttlMs: record.ttlMs,
    principal: { userId: record.userId, keyId: record.keyId, groupId: record.groupId },
    target: {
      accountId: account.view.id,
      accountName: account.name,
      kind: account.kind,
      baseUrl: account.baseUrl,
      credential: account.credential,
      proxyUrl: account.proxyUrl,
      upstreamModel: record.upstreamModel,
      chatgptAccountId: account.oauth?.chatgptAccountId ?? "",
    },
    attempt: record.attempt,
    sticky: record.sticky,
    userWaitMs: Math.round(grant.userWaitMs),
    accountWaitMs: Math.round(grant.accountWaitMs),
    ticket: grant.ticket,
  });
}

function reportedUsage(usage: SubscriptionUsage): ReportedUsage {
  const window = (w: SubscriptionUsage["primary"]) =>
    w === undefined || !Number.isFinite(w.usedPercent)
      ? null
      : {
          usedPercent: w.usedPercent,
          windowMinutes: w.windowMinutes,
          resetAfterSeconds: w.resetAfterSeconds,
        };
  return { primary: window(usage.primary), secondary: window(usage.secondary) };
}

function keyHash(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 32) throw new SwitchyardError(ErrorCode.INVALID_API_KEY);
  return bytes;
}

function invalid(field: string, what: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.INVALID_ARGUMENT, { message: `${field}: ${what}`, param: field });
}
