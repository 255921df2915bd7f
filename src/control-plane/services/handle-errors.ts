import { ConnectError } from "@connectrpc/connect";
import { ErrorCode, SwitchyardError, toConnectError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { databaseUnavailable, isDatabaseUnavailable } from "../store/db/database-errors.js";

/**
 * The one error boundary of an RPC implementation: a SwitchyardError keeps its code (and message, which is written
 * for the caller); a ConnectError passes as it is; anything else is a bug or an outage, so it is logged (database
 * errors by type and SQLSTATE only: the logger's error serializer) and answered as INTERNAL with a generic message
 * that carries no internal detail.
 */
export function translateRpcError(err: unknown, method: string, log: Logger): ConnectError {
  if (err instanceof SwitchyardError || err instanceof ConnectError) return toConnectError(err);
  // An outage, not a bug: UNAVAILABLE (the caller retries), logged once per outage by the stores, not per call.
  if (isDatabaseUnavailable(err)) return toConnectError(databaseUnavailable(err));
  log.error({ rpc: method, err }, "rpc failed unexpectedly");
  return toConnectError(new SwitchyardError(ErrorCode.INTERNAL));
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}

async function* translatedStream(
  source: AsyncIterable<unknown>,
  method: string,
  log: Logger,
): AsyncGenerator<unknown> {
  try {
    yield* source;
  } catch (err) {
    throw translateRpcError(err, method, log);
  }
}

type AnyMethod = (...args: unknown[]) => unknown;

/**
 * Wraps every method of an RPC implementation object with {@link translateRpcError}: unary handlers (sync or
 * async) and server-streaming handlers (async iterables) alike. Returns an object of the same type.
 */
export function withErrorTranslation<T extends object>(impl: T, log: Logger): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(impl)) {
    if (typeof value !== "function") {
      wrapped[name] = value;
      continue;
    }
    const method = value as AnyMethod;
    wrapped[name] = (...args: unknown[]) => {
      let result: unknown;
      try {
        result = method.apply(impl, args);
      } catch (err) {
        throw translateRpcError(err, name, log);
      }
      if (isPromiseLike(result)) {
        return Promise.resolve(result).catch((err: unknown) => {
          throw translateRpcError(err, name, log);
        });
      }
      return isAsyncIterable(result) ? translatedStream(result, name, log) : result;
    };
  }
  return wrapped as T;
}
