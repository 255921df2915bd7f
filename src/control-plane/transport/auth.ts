import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { ErrorCode, SwitchyardError, toConnectError } from "../../shared/errors.js";

/** Who may call a service: holders of the admin token, of the data-plane token, or anyone. */
export type Audience = "admin" | "data-plane" | "open";

/** The two bearer tokens the control plane accepts. */
export interface ControlPlaneTokens {
  /** SWITCHYARD_ADMIN_TOKEN. Empty: no admin call is accepted. */
  admin: string;
  /** SWITCHYARD_DATA_PLANE_TOKEN. Empty: no data-plane call is accepted. */
  dataPlane: string;
}

/** Options for {@link createAuthInterceptor}. */
export interface AuthOptions {
  tokens: ControlPlaneTokens;
  /** Audience per fully-qualified service name; services not listed need the admin token. */
  audiences: ReadonlyMap<string, Audience>;
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The token check for every RPC, unary and streaming alike (it runs before the implementation is invoked).
 * No token or an unknown one answers UNAUTHENTICATED; a valid token for the other audience answers
 * PERMISSION_DENIED. Tokens are compared as SHA-256 digests with `timingSafeEqual`, so neither content nor length
 * leaks through timing.
 */
export function createAuthInterceptor(options: AuthOptions): Interceptor {
  const admin = tokenDigest(options.tokens.admin);
  const dataPlane = tokenDigest(options.tokens.dataPlane);
  return (next) => async (req) => {
    const audience = options.audiences.get(req.service.typeName) ?? "admin";
    if (audience !== "open") {
      const presented = presentedToken(req.header.get("authorization"));
      const isAdmin = matches(presented, admin);
      const isDataPlane = matches(presented, dataPlane);
      const allowed = audience === "admin" ? isAdmin : isDataPlane;
      if (!allowed) {
        const code = isAdmin || isDataPlane ? ErrorCode.PERMISSION_DENIED : ErrorCode.UNAUTHENTICATED;
        throw toConnectError(new SwitchyardError(code));
      }
    }
    return await next(req);
  };
}

/** The digest of a configured token; null for an empty one, which must never match. */
function tokenDigest(token: string): Buffer | null {
  return token === "" ? null : createHash("sha256").update(token, "utf8").digest();
}

function presentedToken(header: string | null): Buffer | null {
  const token = header === null ? undefined : BEARER.exec(header)?.[1];
  return token === undefined ? null : createHash("sha256").update(token, "utf8").digest();
}

function matches(presented: Buffer | null, expected: Buffer | null): boolean {
  if (presented === null || expected === null) return false;
  return timingSafeEqual(presented, expected);
}
