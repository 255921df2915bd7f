import { describe, expect, it } from "vitest";
import { endpointUrl, parseControlPlaneTarget } from "../../src/shared/control-plane-target.js";

describe("SWITCHYARD_CONTROL_PLANE_URL", () => {
  it("takes one URL or a comma-separated list, https:// meaning TLS", () => {
    expect(parseControlPlaneTarget("http://127.0.0.1:50051")).toEqual({
      kind: "static",
      endpoints: [{ host: "127.0.0.1", port: 50051, tls: false }],
    });
    const list = parseControlPlaneTarget(" https://cp-0.cp:443, http://[::1]:50051 ,http://cp-2:7 ");
    expect(list).toEqual({
      kind: "static",
      endpoints: [
        { host: "cp-0.cp", port: 443, tls: true },
        { host: "::1", port: 50051, tls: false },
        { host: "cp-2", port: 7, tls: false },
      ],
    });
    if (list.kind === "static") expect(list.endpoints.map(endpointUrl)).toContain("http://[::1]:50051");
  });

  it("takes gRPC's dns: names, with or without a resolver of their own", () => {
    expect(parseControlPlaneTarget("dns:///switchyard-cp-headless.ns.svc:50051")).toEqual({
      kind: "dns",
      name: "switchyard-cp-headless.ns.svc",
      port: 50051,
      resolver: null,
    });
    expect(parseControlPlaneTarget("dns://127.0.0.1:5353/cp.test:9000")).toEqual({
      kind: "dns",
      name: "cp.test",
      port: 9000,
      resolver: { host: "127.0.0.1", port: 5353 },
    });
  });

  it.each([
    "",
    "ftp://x",
    "http://h:1/path",
    "dns:///name",
    "dns:name:1",
    "dns://resolver/name:1",
    "http://h:1,nope",
  ])("refuses %j with a message", (value) => {
    expect(() => parseControlPlaneTarget(value)).toThrow(/expected/);
  });
});
