import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";

/** A stock grpc-js client, with no generated code, must be able to use the contract straight from proto/. */
const load = (file: string) =>
  grpc.loadPackageDefinition(
    protoLoader.loadSync(file, { includeDirs: ["proto"], keepCase: false, longs: String, enums: String }),
  );

type ServiceCtor = {
  service: Record<string, { requestStream: boolean; responseStream: boolean; path: string }>;
};

function service(root: grpc.GrpcObject, path: string): ServiceCtor["service"] {
  let node: unknown = root;
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  expect(typeof node, `${path} is a service constructor`).toBe("function");
  return (node as ServiceCtor).service;
}

describe("the proto contract under a stock grpc-js client", () => {
  it("loads GatewayService with the lease channel, unary operations and the snapshot stream", () => {
    const methods = service(load("switchyard/v1/gateway.proto"), "switchyard.v1.GatewayService");
    expect(Object.keys(methods).sort()).toEqual(
      [
        "Admit",
        "Authenticate",
        "Channel",
        "Release",
        "Renew",
        "ReportUsage",
        "Reroute",
        "WatchSnapshot",
      ].sort(),
    );
    expect(methods.Channel).toMatchObject({ requestStream: true, responseStream: true });
    expect(methods.WatchSnapshot).toMatchObject({ requestStream: false, responseStream: true });
    expect(methods.Admit).toMatchObject({
      requestStream: false,
      responseStream: false,
      path: "/switchyard.v1.GatewayService/Admit",
    });
  });

  it("loads AdminService with CRUD for every resource", () => {
    const methods = Object.keys(service(load("switchyard/v1/admin.proto"), "switchyard.v1.AdminService"));
    for (const resource of ["User", "Group", "ApiKey", "Account", "PassthroughRule", "Subscription"]) {
      const plural = resource === "PassthroughRule" ? "PassthroughRules" : `${resource}s`;
      expect(methods).toEqual(
        expect.arrayContaining([`Create${resource}`, `Get${resource}`, `List${plural}`]),
      );
      expect(methods).toContain(`Update${resource}`);
    }
    expect(methods).toEqual(
      expect.arrayContaining([
        "RevokeApiKey",
        "ClearAccountCooldown",
        "SetModelPrice",
        "ListModelPrices",
        "ListStickySessions",
        "ClearStickySessions",
        "ListLeases",
        "ListUsage",
        "SummarizeUsage",
        "GetSettings",
        "UpdateSettings",
      ]),
    );
  });

  it("loads the standard health and reflection services", () => {
    const health = service(load("grpc/health/v1/health.proto"), "grpc.health.v1.Health");
    expect(health.Check?.path).toBe("/grpc.health.v1.Health/Check");
    expect(health.Watch).toMatchObject({ responseStream: true });
    const reflection = service(
      load("grpc/reflection/v1/reflection.proto"),
      "grpc.reflection.v1.ServerReflection",
    );
    expect(reflection.ServerReflectionInfo).toMatchObject({ requestStream: true, responseStream: true });
  });

  it("encodes and decodes a batched channel message", () => {
    const root = load("switchyard/v1/gateway.proto");
    const methods = service(root, "switchyard.v1.GatewayService");
    const channel = methods.Channel as unknown as {
      requestSerialize: (v: object) => Buffer;
      requestDeserialize: (b: Buffer) => Record<string, unknown>;
    };
    const bytes = channel.requestSerialize({
      operations: [
        {
          correlationId: 1,
          admit: { requestId: "req_1", model: "gpt-4o", stream: true, endpoint: "ENDPOINT_RESPONSES" },
        },
        { correlationId: 2, release: { leaseId: "lse_1", scope: "RELEASE_SCOPE_USER_SLOT" } },
      ],
    });
    const decoded = channel.requestDeserialize(bytes);
    expect(decoded.operations).toMatchObject([
      {
        correlationId: 1,
        admit: { requestId: "req_1", model: "gpt-4o", stream: true, endpoint: "ENDPOINT_RESPONSES" },
      },
      { correlationId: 2, release: { leaseId: "lse_1", scope: "RELEASE_SCOPE_USER_SLOT" } },
    ]);
  });
});
