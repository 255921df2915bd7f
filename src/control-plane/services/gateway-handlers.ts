import type {
  AdmitCancel,
  AdmitCancelResult,
  AdmitRequest,
  AdmitResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  ReassertLeases,
  ReleaseRequest,
  ReleaseResponse,
  RenewRequest,
  RenewResponse,
  ReportUsageRequest,
  ReportUsageResponse,
  RerouteRequest,
  RerouteResponse,
} from "../../gen/switchyard/v1/gateway_pb.js";

/** Who is calling, and until when they care. */
export interface OperationContext {
  /** The data-plane instance that owns the leases this operation takes. */
  instanceId: string;
  /** Aborted when the caller goes away (unary call cancelled, channel closed). */
  signal: AbortSignal;
}

/**
 * The lease operations, one method each, shared by the batched channel and the unary RPCs so both have exactly the
 * same semantics. A refusal is thrown as a SwitchyardError; the channel turns it into `OperationResult.failure`, the
 * unary RPCs into a gRPC error with the Failure as detail.
 */
export interface GatewayHandlers {
  authenticate(request: AuthenticateRequest, ctx: OperationContext): Promise<AuthenticateResponse>;
  admit(request: AdmitRequest, ctx: OperationContext): Promise<AdmitResponse>;
  cancelAdmit(request: AdmitCancel, ctx: OperationContext): Promise<AdmitCancelResult>;
  reroute(request: RerouteRequest, ctx: OperationContext): Promise<RerouteResponse>;
  renew(request: RenewRequest, ctx: OperationContext): Promise<RenewResponse>;
  /** Renews (re-asserts) every live lease a data plane lists; resolves with how many are held again. */
  reassert(request: ReassertLeases, ctx: OperationContext): Promise<number>;
  release(request: ReleaseRequest, ctx: OperationContext): Promise<ReleaseResponse>;
  reportUsage(request: ReportUsageRequest, ctx: OperationContext): Promise<ReportUsageResponse>;
}
