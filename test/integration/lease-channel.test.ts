import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { type ConnectRouter, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { ChannelRegistry } from "../../src/control-plane/services/channel-registry.js";
import { createChannelHandler } from "../../src/control-plane/services/gateway-channel.js";
import type { GatewayHandlers, OperationContext } from "../../src/control-plane/services/gateway-handlers.js";
import { ControlPlanePool } from "../../src/data-plane/control/control-plane-pool.js";
import { LeaseChannel, type OperationRequest } from "../../src/data-plane/control/lease-channel.js";
import {
  AdmitCancelResultSchema,
  AdmitRequestSchema,
  AdmitResponseSchema,
  AuthenticateResponseSchema,
  type ChannelRequest,
  GatewayService,
  ReassertLeasesSchema,
  ReleaseResponseSchema,
  RenewResponseSchema,
  ReportUsageResponseSchema,
  RerouteResponseSchema,
} from "../../src/gen/switchyard/v1/gateway_pb.js";
import { endpointUrl } from "../../src/shared/control-plane-target.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { createLogger } from "../../src/shared/logger.js";

const silent = createLogger({
  level: "silent",
  destination: new Writable({ write: (_c, _e, done) => done() }),
});

/**
 * Handlers scripted by the request's model: "now" grants at once, "slow:N" after N ms, "hold" until cancelled,
 * "refuse" fails with USER_QUEUE_FULL. Admits are idempotent by request id, like the real ones.
 */
class ScriptedHandlers implements GatewayHandlers {
  readonly admits: string[] = [];
  readonly releases: string[] = [];
  readonly cancels: string[] = [];
  readonly granted = new Map<string, Promise<ReturnType<typeof grant>>>();
  readonly holding = new Map<string, () => void>();
  instances = new Set<string>();

  async authenticate() {
    return create(AuthenticateResponseSchema, { principal: { userId: "u1", keyId: "k1", groupId: "g1" } });
  }
  admit(request: OperationRequest<"admit">, ctx: OperationContext) {
    this.instances.add(ctx.instanceId);
    this.admits.push(request.requestId);
    const existing = this.granted.get(request.requestId);
    if (existing) return existing;
    const answer = this.#decide(request, ctx);
    this.granted.set(request.requestId, answer);
    return answer;
  }
  async #decide(request: OperationRequest<"admit">, ctx: OperationContext) {
    if (request.model === "refuse") throw new SwitchyardError(ErrorCode.USER_QUEUE_FULL);
    if (request.model.startsWith("slow:"))
      await new Promise((r) => setTimeout(r, Number(request.model.slice(5))));
    if (request.model === "hold") {
      await new Promise<void>((resolve, reject) => {
        this.holding.set(request.requestId, resolve);
        ctx.signal.addEventListener("abort", () => reject(new SwitchyardError(ErrorCode.USER_WAIT_TIMEOUT)));
      });
    }
    return grant(request.requestId);
  }
  async cancelAdmit(request: OperationRequest<"cancelAdmit">) {
    this.cancels.push(request.requestId);
    return create(AdmitCancelResultSchema, { withdrawn: false });
  }
  async reroute() {
    return create(RerouteResponseSchema, {});
  }
  async renew() {
    return create(RenewResponseSchema, { expiresAtMs: 123n });
  }
  readonly reasserted: string[][] = [];
  async reassert(request: { leases: Array<{ leaseId: string }> }) {
    this.reasserted.push(request.leases.map((l) => l.leaseId));
    return request.leases.length;
  }
  async release(request: OperationRequest<"release">) {
    this.releases.push(request.leaseId);
    return create(ReleaseResponseSchema, { released: true });
  }
  async reportUsage(request: OperationRequest<"reportUsage">) {
    return create(ReportUsageResponseSchema, { recorded: request.records.length });
  }
}

function grant(requestId: string) {
  return create(AdmitResponseSchema, { lease: { leaseId: `lse_${requestId}`, ttlMs: 30_000, attempt: 1 } });
}

async function startServer(handlers: GatewayHandlers, port = 0, registry = new ChannelRegistry()) {
  const batches: number[] = [];
  const channel = createChannelHandler(handlers, {
    serverId: "cp-test",
    leaseTtlMs: 30_000,
    maxOutstanding: 10_000,
    registry,
    log: silent,
  });
  const routes = (router: ConnectRouter) =>
    router.service(GatewayService, {
      channel: (requests: AsyncIterable<ChannelRequest>, ctx) =>
        channel(
          (async function* () {
            for await (const r of requests) {
              batches.push(r.operations.length);
              yield r;
            }
          })(),
          ctx,
        ),
    });
  const server = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    batches,
    async stop() {
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function connect(port: number) {
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
  const channel = new LeaseChannel({
    client: createClient(GatewayService, transport),
    instanceId: "dp-test-1",
    version: "test",
    log: silent,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
  });
  channel.start();
  return channel;
}

const admit = (requestId: string, model: string) => ({ requestId, model }) as OperationRequest<"admit">;

describe("the lease channel", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup() {
    const handlers = new ScriptedHandlers();
    const server = await startServer(handlers);
    const channel = connect(server.port);
    cleanup.push(
      () => server.stop(),
      () => channel.close(),
    );
    await channel.waitConnected(5_000);
    return { handlers, server, channel };
  }

  it("matches every answer to its operation and batches operations sent together", async () => {
    const { server, channel, handlers } = await setup();
    const ids = Array.from({ length: 500 }, (_, i) => `req_${i}`);
    const leases = await Promise.all(
      ids.map((id) => channel.call("admit", admit(id, "now"), { timeoutMs: 5_000 })),
    );
    expect(leases.map((l) => l.lease?.leaseId)).toEqual(ids.map((id) => `lse_${id}`));
    expect(handlers.instances).toEqual(new Set(["dp-test-1"]));
    const opsSeen = server.batches.reduce((a, b) => a + b, 0);
    expect(opsSeen).toBe(500);
    expect(server.batches.filter((n) => n > 0).length).toBeLessThan(50);
  });

  it("answers fast operations while an earlier admit is still waiting", async () => {
    const { channel } = await setup();
    const slow = channel.call("admit", admit("req_slow", "slow:1500"), { timeoutMs: 5_000 });
    const started = Date.now();
    const renewed = await channel.call("renew", { leaseId: "lse_x" } as OperationRequest<"renew">, {
      timeoutMs: 5_000,
    });
    expect(renewed.expiresAtMs).toBe(123n);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await slow).lease?.leaseId).toBe("lse_req_slow");
  });

  it("delivers a refusal as a SwitchyardError with its code", async () => {
    const { channel } = await setup();
    const err = await channel
      .call("admit", admit("req_r", "refuse"), { timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchyardError);
    expect((err as SwitchyardError).code).toBe(ErrorCode.USER_QUEUE_FULL);
    expect((err as SwitchyardError).message).toBe("Too many pending requests, please retry later");
  });

  it("gives up after the deadline, withdraws the admit, and releases a lease that arrives late", async () => {
    const { channel, handlers } = await setup();
    const err = await channel
      .call("admit", admit("req_late", "hold"), { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect((err as SwitchyardError).code).toBe(ErrorCode.CONTROL_PLANE_UNAVAILABLE);
    await expect.poll(() => handlers.cancels).toEqual(["req_late"]);
    handlers.holding.get("req_late")?.();
    await expect.poll(() => handlers.releases).toEqual(["lse_req_late"]);
  });

  it("resends an unanswered admit after the control plane restarts and gets the same lease", async () => {
    const handlers = new ScriptedHandlers();
    const first = await startServer(handlers);
    const channel = connect(first.port);
    cleanup.push(() => channel.close());
    await channel.waitConnected(5_000);
    const pending = channel.call("admit", admit("req_resent", "slow:400"), { timeoutMs: 10_000 });
    await expect.poll(() => handlers.admits).toEqual(["req_resent"]);
    await first.stop();
    const second = await startServer(handlers, first.port);
    cleanup.push(() => second.stop());
    const lease = await pending;
    expect(lease.lease?.leaseId).toBe("lse_req_resent");
    expect(handlers.admits).toEqual(["req_resent", "req_resent"]);
    expect(channel.connected).toBe(true);
  });
});

/** Grants every admit at once, whatever its model (a replica that is not busy). */
class GrantingHandlers extends ScriptedHandlers {
  override admit(request: OperationRequest<"admit">, ctx: OperationContext) {
    return super.admit(create(AdmitRequestSchema, { requestId: request.requestId, model: "now" }), ctx);
  }
}

describe("the pool of lease channels, one per control-plane replica", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it("moves a call waiting on a replica that goes away to another one at once, and fails fast with none left", async () => {
    const busy = new ScriptedHandlers();
    const idle = new GrantingHandlers();
    const a = await startServer(busy);
    const b = await startServer(idle);
    const pool = new ControlPlanePool({
      target: { kind: "static", endpoints: [] },
      tls: false,
      resolveIntervalMs: 60_000,
      resolve: async () => [a.port, b.port].map((port) => ({ host: "127.0.0.1", port, tls: false })),
      connect: (endpoint) => ({
        client: createClient(GatewayService, createGrpcTransport({ baseUrl: endpointUrl(endpoint) })),
        close: () => {},
      }),
      instanceId: "dp-pool-1",
      version: "test",
      log: silent,
      unavailableAfterMs: 300,
      reassertion: () => create(ReassertLeasesSchema, {}),
    });
    pool.start();
    cleanup.push(
      () => pool.close(),
      () => b.stop(),
      () => a.stop(),
    );
    await expect.poll(() => pool.replicas().filter((r) => r.connected).length).toBe(2);

    // Both idle: the first replica takes it, and holds it.
    const waiting = pool.call("admit", admit("req_moved", "hold"), { timeoutMs: 20_000 });
    await expect.poll(() => busy.admits).toContain("req_moved");
    await a.stop();
    const { lease } = await waiting;
    expect(lease?.leaseId).toBe("lse_req_moved");
    expect(idle.admits).toContain("req_moved");

    await b.stop();
    await expect.poll(() => pool.connected).toBe(false);
    const started = Date.now();
    const refused = await pool.call("admit", admit("req_none", "now"), { timeoutMs: 20_000 }).catch((e) => e);
    expect(refused).toBeInstanceOf(SwitchyardError);
    expect((refused as SwitchyardError).code).toBe(ErrorCode.CONTROL_PLANE_UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
