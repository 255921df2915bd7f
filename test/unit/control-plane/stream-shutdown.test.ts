import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createStreamShutdownInterceptor } from "../../../src/control-plane/transport/stream-shutdown.js";
import {
  GatewayService,
  type WatchSnapshotResponse,
  WatchSnapshotResponseSchema,
} from "../../../src/gen/switchyard/v1/gateway_pb.js";

/** V8's gc(), reachable inside vitest: the flag must be set before a new context asks for it. */
function forcedGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/**
 * How many of the referenced objects survive full collections. WeakRefs are only cleared between jobs, so each
 * round yields to the event loop before collecting.
 */
async function survivors(refs: readonly WeakRef<object>[], gc: () => void): Promise<number> {
  let alive = refs.length;
  for (let round = 0; round < 5 && alive > 0; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    alive = refs.filter((r) => r.deref() !== undefined).length;
  }
  return alive;
}

/** A snapshot of about 64 KiB, so a leak of a few hundred of them is not subtle. */
function sizeableSnapshot(revision: number): WatchSnapshotResponse {
  return create(WatchSnapshotResponseSchema, {
    snapshot: { version: 1, revision: BigInt(revision), groupModels: [{ groupId: "x".repeat(64 * 1024) }] },
  });
}

describe("the stream shutdown interceptor on a long-lived stream", () => {
  it("keeps no sent message reachable while the stream stays open, and still ends it with UNAVAILABLE", async () => {
    const gc = forcedGc();
    const shutdown = new AbortController();
    const sent: WeakRef<object>[] = [];
    const total = 300;
    const transport = createRouterTransport(
      (router) =>
        router.service(GatewayService, {
          async *watchSnapshot(_req, ctx) {
            for (let i = 1; i <= total; i++) {
              const message = sizeableSnapshot(i);
              sent.push(new WeakRef(message));
              yield message;
            }
            // Then blocked until the call ends, as a lease channel waiting for the data plane's next message.
            await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          },
        }),
      { router: { interceptors: [createStreamShutdownInterceptor(shutdown.signal)] } },
    );
    const stream = createClient(GatewayService, transport).watchSnapshot({})[Symbol.asyncIterator]();
    for (let i = 1; i <= total; i++) {
      const { value } = await stream.next();
      expect(value?.snapshot?.revision).toBe(BigInt(i));
    }

    // The stream is still open (its implementation is blocked); what it already sent must be collectable.
    expect(await survivors(sent.slice(0, total - 2), gc)).toBe(0);

    const ending = stream.next().then(
      () => "more",
      (err: unknown) => ConnectError.from(err),
    );
    shutdown.abort();
    expect(await ending).toMatchObject({ code: Code.Unavailable, rawMessage: "Server is shutting down" });
  });
});
