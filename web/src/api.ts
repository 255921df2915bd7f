import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "../../src/gen/switchyard/v1/admin_pb.js";
import { describeServerError } from "../../src/shared/rpc-error-text.js";

/** The AdminService client every screen uses. */
export type Admin = Client<typeof AdminService>;

const TOKEN_KEY = "switchyard.adminToken";

/** The admin token of this tab: session storage only, so it leaves with the tab and never enters a URL. */
export const tokenStore = {
  get: (): string => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/**
 * The one interceptor every call goes through: it sends the token as the CLI does (`authorization: Bearer …`) and
 * tells the app when the control plane refuses it, so the app can ask for it again.
 */
function adminTokenInterceptor(token: () => string, onUnauthenticated: () => void): Interceptor {
  return (next) => async (req) => {
    req.header.set("authorization", `Bearer ${token()}`);
    try {
      return await next(req);
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.Unauthenticated) onUnauthenticated();
      throw err;
    }
  };
}

/** A client on this page's origin (the control plane serves the UI and the RPCs on one port), Connect protocol. */
export function createAdmin(onUnauthenticated: () => void): Admin {
  const transport = createConnectTransport({
    baseUrl: window.location.origin,
    interceptors: [adminTokenInterceptor(tokenStore.get, onUnauthenticated)],
    defaultTimeoutMs: 30_000,
  });
  return createClient(AdminService, transport);
}

/** The line shown for a failed call: the server's code and message, worded as the CLI words them. */
export function describeError(err: unknown): string {
  if (err instanceof ConnectError) {
    if (err.code === Code.Unavailable || err.code === Code.Canceled)
      return `cannot reach the control plane (${err.rawMessage})`;
    return describeServerError(err);
  }
  return err instanceof Error ? err.message : String(err);
}

/** The field a server message names ("name: required" → "name"), to mark it in a form. */
export function fieldOf(err: unknown): string | null {
  if (!(err instanceof ConnectError) || err.code !== Code.InvalidArgument) return null;
  return /^([a-z_.]+):/.exec(err.rawMessage)?.[1] ?? null;
}
