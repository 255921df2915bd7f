import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SnapshotWatcher } from "../../src/data-plane/control/snapshot-watcher.js";
import {
  GatewayService,
  type Snapshot,
  SnapshotSchema,
  WatchSnapshotResponseSchema,
} from "../../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../../src/shared/logger.js";

const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });

/** A GatewayService whose WatchSnapshot plays `script` (snapshots, or a thrown error) on each call in turn. */
function serverPlaying(calls: Array<Array<Snapshot | Error>>) {
  let call = 0;
  const transport = createRouterTransport(({ service }) =>
    service(GatewayService, {
      async *watchSnapshot() {
        const script = calls[Math.min(call++, calls.length - 1)] ?? [];
        for (const step of script) {
          if (step instanceof Error) throw step;
          yield create(WatchSnapshotResponseSchema, { snapshot: step });
        }
        await new Promise(() => {});
      },
    }),
  );
  return createClient(GatewayService, transport);
}

const snapshot = (version: number, revision: bigint, ruleId: string) =>
  create(SnapshotSchema, { version, revision, passthroughRules: [{ id: ruleId }] });

describe("the snapshot watcher", () => {
  it("keeps the last good snapshot when one of an unknown version arrives", async () => {
    const watcher = new SnapshotWatcher({
      client: serverPlaying([
        [snapshot(1, 10n, "a"), snapshot(2, 11n, "from-the-future"), snapshot(1, 12n, "b")],
      ]),
      instanceId: "dp",
      log,
    });
    const seen: string[] = [];
    watcher.onSnapshot((s) => seen.push(s.passthroughRules[0]?.id ?? ""));
    watcher.start();
    await expect.poll(() => seen).toEqual(["a", "b"]);
    expect(watcher.current?.revision).toBe(12n);
    watcher.stop();
  });

  it("keeps serving with the last snapshot while the stream is broken, and reconnects", async () => {
    const watcher = new SnapshotWatcher({
      client: serverPlaying([
        [snapshot(1, 5n, "first"), new Error("control plane gone")],
        [snapshot(1, 6n, "second")],
      ]),
      instanceId: "dp",
      log,
    });
    watcher.start();
    expect((await watcher.waitForFirst(2_000)).revision).toBe(5n);
    expect(watcher.current?.passthroughRules[0]?.id).toBe("first");
    await expect.poll(() => watcher.current?.passthroughRules[0]?.id, { timeout: 3_000 }).toBe("second");
    watcher.stop();
  });

  it("ignores a snapshot older than the one it holds", async () => {
    const watcher = new SnapshotWatcher({
      client: serverPlaying([[snapshot(1, 9n, "new"), snapshot(1, 3n, "old")]]),
      instanceId: "dp",
      log,
    });
    watcher.start();
    await watcher.waitForFirst(2_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(watcher.current?.passthroughRules[0]?.id).toBe("new");
    watcher.stop();
  });
});
