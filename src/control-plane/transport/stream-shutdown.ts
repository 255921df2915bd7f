import type { Interceptor } from "@connectrpc/connect";
import { ErrorCode, SwitchyardError, toConnectError } from "../../shared/errors.js";

/**
 * Ends streaming calls when the server shuts down, while unary calls run to completion. A stream's handler signal
 * is aborted (so implementations stop their work), and its response ends with UNAVAILABLE ("server is shutting
 * down") even if the implementation is blocked reading the client's messages — the client then reconnects to
 * another replica.
 */
export function createStreamShutdownInterceptor(shutdown: AbortSignal): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) return await next(req);
    const res = await next({ ...req, signal: AbortSignal.any([req.signal, shutdown]) });
    if (!res.stream) return res;
    return { ...res, message: endOnAbort(res.message, shutdown) };
  };
}

/** The source's items until `signal` aborts; then an UNAVAILABLE error instead of the next item. */
function endOnAbort<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = source[Symbol.asyncIterator]();
      let onAbort = (): void => undefined;
      const stopped = new Promise<never>((_, reject) => {
        onAbort = () => reject(toConnectError(new SwitchyardError(ErrorCode.SHUTTING_DOWN)));
      });
      stopped.catch(() => undefined);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      const release = (): void => signal.removeEventListener("abort", onAbort);
      return {
        next: async () => {
          try {
            const result = await Promise.race([it.next(), stopped]);
            if (result.done === true) release();
            return result;
          } catch (err) {
            release();
            // Let the implementation unwind in the background; it may be blocked on the client's next message.
            void it.return?.().catch(() => undefined);
            throw err;
          }
        },
        return: async (value?: unknown) => {
          release();
          return (await it.return?.(value)) ?? { done: true, value: undefined };
        },
        throw: async (err?: unknown) => {
          release();
          if (it.throw) return await it.throw(err);
          throw err;
        },
      };
    },
  };
}
