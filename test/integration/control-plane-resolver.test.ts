import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveControlPlane, serverNameOf } from "../../src/shared/control-plane-resolver.js";
import { parseControlPlaneTarget } from "../../src/shared/control-plane-target.js";
import { startDnsServer, type TestDnsServer } from "../support/dns-server.js";

describe("resolving the control plane's replicas", () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer();
  });
  afterAll(() => dns?.close());

  it("takes every A record of a dns: name as a replica, asking the resolver the name gives", async () => {
    dns.set("cp.switchyard.test", ["127.0.0.4", "127.0.0.2", "127.0.0.3"]);
    const target = parseControlPlaneTarget(`dns://127.0.0.1:${dns.port}/cp.switchyard.test:50051`);
    expect(await resolveControlPlane(target, false)).toEqual([
      { host: "127.0.0.2", port: 50051, tls: false },
      { host: "127.0.0.3", port: 50051, tls: false },
      { host: "127.0.0.4", port: 50051, tls: false },
    ]);
    dns.set("cp.switchyard.test", ["127.0.0.2"]);
    expect((await resolveControlPlane(target, true)).map((e) => [e.host, e.tls])).toEqual([
      ["127.0.0.2", true],
    ]);
    expect(dns.queries("cp.switchyard.test")).toBeGreaterThanOrEqual(2);
    expect(serverNameOf(target, { host: "127.0.0.2", port: 50051, tls: true }, "")).toBe(
      "cp.switchyard.test",
    );
  });

  it("rejects a name with no address, and passes a static list through", async () => {
    const unknown = parseControlPlaneTarget(`dns://127.0.0.1:${dns.port}/nobody.switchyard.test:50051`);
    await expect(resolveControlPlane(unknown, false)).rejects.toThrow(/no address/);
    const list = parseControlPlaneTarget("http://127.0.0.1:1,https://cp:2");
    expect((await resolveControlPlane(list, false)).map((e) => e.tls)).toEqual([false, true]);
  });
});
