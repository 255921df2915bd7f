import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { ErrorCode, SwitchyardError, toConnectError } from "../../shared/errors.js";

/** Who may call a service: holders of the admin token, of the data-plane token, or anyone. */
export type Audience = "admin" | "data-plane" | "open";

/** The two bearer tokens the control plane accepts (and, while one is being rotated, its previous value). */
export interface ControlPlaneTokens {
  /** SWITCHYARD_ADMIN_TOKEN. Empty: no admin call is accepted. */
  admin: string;
  /** SWITCHYARD_DATA_PLANE_TOKEN. Empty: no data-plane call is accepted. */
  dataPlane: string;
  /** SWITCHYARD_ADMIN_TOKEN_PREVIOUS: also accepted for admin calls during a rotation. Empty: none. */
  adminPrevious?: string;
  /** SWITCHYARD_DATA_PLANE_TOKEN_PREVIOUS: also accepted from data planes during a rotation. Empty: none. */
  dataPlanePrevious?: string;
}

/** Why a call is refused: no or an unknown token, or a valid token of the other audience. */
export type TokenRefusal = ErrorCode.UNAUTHENTICATED | ErrorCode.PERMISSION_DENIED;

/**
 * Decides whether an `authorization` header value may call a service of `audience`: null when it may, else the
 * refusal. No token or an unknown one is UNAUTHENTICATED; a valid token for the other audience is PERMISSION_DENIED.
 */
export type TokenCheck = (
  audience: Audience,
  authorization: string | null | undefined,
) => TokenRefusal | null;

/**
 * The one token check, shared by the header gate (before any body is read) and the auth interceptor. Tokens are
 * compared as SHA-256 digests with `timingSafeEqual`, so neither content nor length leaks through timing.
 */
export function createTokenCheck(tokens: ControlPlaneTokens): TokenCheck {
  const admin = [tokens.admin, tokens.adminPrevious ?? ""].map(tokenDigest);
  const dataPlane = [tokens.dataPlane, tokens.dataPlanePrevious ?? ""].map(tokenDigest);
  return (audience, authorization) => {
    if (audience === "open") return null;
    const presented = presentedToken(authorization);
    // Every digest is compared (no early exit), so which one matched does not show in the timing either.
    const isAdmin = admin.map((d) => matches(presented, d)).includes(true);
    const isDataPlane = dataPlane.map((d) => matches(presented, d)).includes(true);
    if (audience === "admin" ? isAdmin : isDataPlane) return null;
    return isAdmin || isDataPlane ? ErrorCode.PERMISSION_DENIED : ErrorCode.UNAUTHENTICATED;
  };
}

/** The audience of a service by fully-qualified name; a service not listed needs the admin token. */
export function audienceOf(audiences: ReadonlyMap<string, Audience>, service: string): Audience {
  return audiences.get(service) ?? "admin";
}

/** Options for {@link createAuthInterceptor}. */
export interface AuthOptions {
  check: TokenCheck;
  /** Audience per fully-qualified service name. */
  audiences: ReadonlyMap<string, Audience>;
}

/**
 * The token check for every RPC, unary and streaming alike (it runs before the implementation is invoked). The
 * header gate refuses most calls earlier, before their body is read; this stays as defense in depth, for calls
 * that reach the router some other way.
 */
export function createAuthInterceptor(options: AuthOptions): Interceptor {
  return (next) => async (req) => {
    const refusal = options.check(
      audienceOf(options.audiences, req.service.typeName),
      req.header.get("authorization"),
    );
    if (refusal !== null) throw toConnectError(new SwitchyardError(refusal));
    return await next(req);
  };
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** The digest of a configured token; null for an empty one, which must never match. */
function tokenDigest(token: string): Buffer | null {
  return token === "" ? null : createHash("sha256").update(token, "utf8").digest();
}

function presentedToken(header: string | null | undefined): Buffer | null {
  const token = header == null ? undefined : BEARER.exec(header)?.[1];
  return token === undefined ? null : createHash("sha256").update(token, "utf8").digest();
}

function matches(presented: Buffer | null, expected: Buffer | null): boolean {
  if (presented === null || expected === null) return false;
  return timingSafeEqual(presented, expected);
}
