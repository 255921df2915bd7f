import type { DescMethod } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { SwitchyardError, toConnectError } from "../../shared/errors.js";
import { type Audience, audienceOf, type TokenCheck } from "./auth.js";
import type { NodeHandler } from "./preface-sniffer.js";
import { answerWithError, requestPath } from "./rpc-refusal.js";

/** Options for {@link createTokenGate}. */
export interface TokenGateOptions {
  check: TokenCheck;
  /** Audience per fully-qualified service name. */
  audiences: ReadonlyMap<string, Audience>;
  /** The RPCs by request path; other paths pass through unchecked (they answer 404 or are not RPCs). */
  procedures: ReadonlyMap<string, DescMethod>;
  /** Told about each refused call, so metrics and logs count it like the calls the router refuses. */
  onRefused(method: DescMethod, error: ConnectError): void;
}

/**
 * Checks each RPC's token from its headers before anything reads its body, and answers a refused call at once
 * (rpc-refusal.ts). Connect reads and parses the whole request message before interceptors run, so without this
 * gate anyone who can reach the port could make the control plane buffer a message up to its read limit, or fail
 * on garbage, per call and without a token. The auth interceptor stays behind it.
 */
export function createTokenGate(handler: NodeHandler, options: TokenGateOptions): NodeHandler {
  return (req, res) => {
    const method = options.procedures.get(requestPath(req));
    if (method === undefined) {
      handler(req, res);
      return;
    }
    const refusal = options.check(
      audienceOf(options.audiences, method.parent.typeName),
      singleHeader(req.headers.authorization),
    );
    if (refusal === null) {
      handler(req, res);
      return;
    }
    const error = toConnectError(new SwitchyardError(refusal));
    options.onRefused(method, error);
    answerWithError(req, res, error);
  };
}

/** A repeated header joined as Connect's Headers would join it, so the gate and the interceptor agree. */
function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
