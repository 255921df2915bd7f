import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { Change } from "../../src/control-plane/domain/change-feed.js";
import { RedisChangeFeed } from "../../src/control-plane/store/redis-change-feed.js";
import { createLogger } from "../../src/shared/logger.js";

const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, done) => done() }) });
const connections: Redis[] = [];
const connect = () => {
  const r = new Redis({ host: "127.0.0.1", port: 6379 });
  connections.push(r);
  return r;
};
afterAll(() => {
  for (const c of connections) c.disconnect();
});

describe("the change feed across replicas", () => {
  it("delivers a change once to local listeners and to every other replica", async () => {
    const prefix = `sytest:feed:${randomBytes(4).toString("hex")}:`;
    const replicas = [0, 1, 2].map(
      () => new RedisChangeFeed({ publisher: connect(), subscriber: connect(), prefix, log }),
    );
    await Promise.all(replicas.map((r) => r.start()));
    const heard: Change[][] = replicas.map(() => []);
    for (const [i, r] of replicas.entries()) r.subscribe((c) => heard[i]?.push(c));

    const started = performance.now();
    replicas[0]?.publish({ kind: "api_key", id: "key-1" });
    await expect.poll(() => heard.every((h) => h.length === 1), { interval: 2, timeout: 1_000 }).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 50));
    for (const h of heard) expect(h).toEqual([{ kind: "api_key", id: "key-1" }]);
  });

  it("sends a change again once its replica's connection is back, when only that connection dropped", async () => {
    const prefix = `sytest:feed:${randomBytes(4).toString("hex")}:`;
    // Fail-closed, as the control plane opens it: a command while disconnected fails at once.
    const publisher = new Redis({
      host: "127.0.0.1",
      port: 6379,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 100,
    });
    publisher.on("error", () => undefined);
    connections.push(publisher);
    const dropped = new RedisChangeFeed({ publisher, subscriber: connect(), prefix, log });
    const other = new RedisChangeFeed({ publisher: connect(), subscriber: connect(), prefix, log });
    await Promise.all([dropped.start(), other.start()]);
    const heard: Change[] = [];
    other.subscribe((c) => heard.push(c));
    await expect.poll(() => publisher.status).toBe("ready");

    publisher.stream.destroy(); // this replica's connection alone drops; the other replica stays live
    await expect.poll(() => publisher.status).not.toBe("ready");
    dropped.publish({ kind: "api_key", id: "key-revoked" }); // e.g. a revocation: must reach the other replica
    const billed = { keyId: "k", subscriptionId: null, amountPico: "1", fromBalance: true };
    dropped.publish({ kind: "usage_billed", id: "user-1", billed }); // a delta: not sent twice
    await expect.poll(() => heard, { timeout: 5_000 }).toEqual([{ kind: "api_key", id: "key-revoked" }]);
    expect(other.live).toBe(true);
  });
});
