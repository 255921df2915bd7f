import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { ChannelRegistry } from "../../src/control-plane/services/channel-registry.js";
import { createChannelHandler } from "../../src/control-plane/services/gateway-channel.js";
import type { GatewayHandlers } from "../../src/control-plane/services/gateway-handlers.js";
import {
  AdmitCancelResultSchema,
  AdmitResponseSchema,
  AuthenticateResponseSchema,
  GatewayService,
  ReleaseResponseSchema,
  RenewResponseSchema,
  ReportUsageResponseSchema,
  RerouteResponseSchema,
} from "../../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../../src/shared/logger.js";

/**
 * The baseline for the lease benchmark: the same channel server and transport, with handlers that answer at once
 * from memory. What the real control plane adds on top of this is the cost of the lease logic itself.
 *
 * With `--redis <url>` each admit and each release also goes through one Lua script on a user slot and an account
 * slot (sorted sets scored by expiry, pruned on every touch: DESIGN.md §3's leases with no other logic): the least
 * the design's admit can cost, a channel round trip plus a Redis round trip. What arrives in one event-loop turn
 * runs as one script, as the control plane batches its own. Keys live under a prefix of their own, deleted at exit.
 */
const lease = {
  leaseId: "lse_echo",
  ttlMs: 30_000,
  attempt: 1,
  target: { accountId: "a", baseUrl: "http://x" },
};
const redisUrl =
  process.argv.indexOf("--redis") >= 0 ? process.argv[process.argv.indexOf("--redis") + 1] : undefined;
const slots = redisUrl ? minimalSlots(redisUrl) : null;
let holders = 0;

const handlers: GatewayHandlers = {
  authenticate: async () => create(AuthenticateResponseSchema, {}),
  admit: async () => {
    if (slots) await slots.acquire(`h${holders++}`);
    return create(AdmitResponseSchema, { lease });
  },
  cancelAdmit: async () => create(AdmitCancelResultSchema, {}),
  reroute: async () => create(RerouteResponseSchema, { lease }),
  renew: async () => create(RenewResponseSchema, {}),
  reassert: async (request) => request.leases.length,
  release: async () => {
    if (slots) await slots.release(`h${--holders}`);
    return create(ReleaseResponseSchema, { released: true });
  },
  reportUsage: async () => create(ReportUsageResponseSchema, {}),
};
const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });
const channel = createChannelHandler(handlers, {
  serverId: "echo",
  leaseTtlMs: 30_000,
  maxOutstanding: 100_000,
  registry: new ChannelRegistry(),
  log,
});
const server = http2.createServer(
  connectNodeAdapter({ routes: (router) => router.service(GatewayService, { channel }) }),
);
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.on("SIGTERM", () => {
  void (slots?.drop() ?? Promise.resolve()).finally(() => process.exit(0));
});

/**
 * A user slot and an account slot in Redis. Acquires check both limits and add the holder to both; releases remove
 * it. What is asked for during one event-loop turn runs as one script (as the control plane batches its own).
 */
function minimalSlots(url: string) {
  const redis = new Redis(url, { enableAutoPipelining: true });
  const prefix = `sybench:echo:${randomBytes(4).toString("hex")}:`;
  const keys = [`${prefix}user`, `${prefix}account`] as const;
  redis.defineCommand("slotBatch", {
    numberOfKeys: 2,
    lua: `
local now = tonumber(redis.call('TIME')[1]) * 1000
for i = 1, 2 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
local out = {}
for j = 1, #ARGV, 2 do
  local holder = ARGV[j + 1]
  if ARGV[j] == 'a' then
    local room = 1
    for i = 1, 2 do if redis.call('ZCARD', KEYS[i]) >= 100000 then room = 0 end end
    if room == 1 then
      for i = 1, 2 do redis.call('ZADD', KEYS[i], now + 30000, holder) end
    end
    out[#out + 1] = room
  else
    out[#out + 1] = redis.call('ZREM', KEYS[1], holder) + redis.call('ZREM', KEYS[2], holder)
  end
end
for i = 1, 2 do redis.call('PEXPIRE', KEYS[i], 60000) end
return out`,
  });
  const batch = redis as unknown as {
    slotBatch(user: string, account: string, ...ops: string[]): Promise<number[]>;
  };
  let queued: {
    op: "a" | "r";
    holder: string;
    done: (ok: number) => void;
    failed: (err: unknown) => void;
  }[] = [];
  const flush = () => {
    const ops = queued;
    queued = [];
    batch.slotBatch(keys[0], keys[1], ...ops.flatMap((o) => [o.op, o.holder])).then(
      (results) => {
        for (const [i, o] of ops.entries()) o.done(results[i] ?? 0);
      },
      (err: unknown) => {
        for (const o of ops) o.failed(err);
      },
    );
  };
  const run = (op: "a" | "r", holder: string) =>
    new Promise<number>((done, failed) => {
      if (queued.length === 0) setImmediate(flush);
      queued.push({ op, holder, done, failed });
    });
  return {
    acquire: (holder: string) => run("a", holder),
    release: (holder: string) => run("r", holder),
    drop: async () => {
      await redis.del(...keys);
      redis.disconnect();
    },
  };
}
