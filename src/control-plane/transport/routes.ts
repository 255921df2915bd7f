import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { AdminService } from "../../gen/switchyard/v1/admin_pb.js";
import { GatewayService } from "../../gen/switchyard/v1/gateway_pb.js";
import {
  ADMIN_READ_MAX_BYTES,
  GATEWAY_READ_MAX_BYTES,
  OPEN_READ_MAX_BYTES,
} from "../../shared/rpc-limits.js";
import type { Audience } from "./auth.js";

/**
 * The RPC implementations the control plane serves. Each may be partial (or absent) so the server can start before
 * every method exists; a missing method answers UNIMPLEMENTED after authentication.
 */
export interface ServiceImplementations {
  admin?: Partial<ServiceImpl<typeof AdminService>>;
  gateway?: Partial<ServiceImpl<typeof GatewayService>>;
}

/** What {@link createRoutes} registers besides the Switchyard services. */
export interface RouteDeps extends ServiceImplementations {
  health: ServiceImpl<typeof Health>;
  reflection: ServiceImpl<typeof ServerReflection>;
}

/** Every service on the port, in the order reflection lists them. */
export const SERVED_SERVICES: readonly DescService[] = [
  AdminService,
  GatewayService,
  Health,
  ServerReflection,
];

/** Who may call each service: admin tools, data planes, or anyone (probes and reflection). */
export const SERVICE_AUDIENCES: ReadonlyMap<string, Audience> = new Map<string, Audience>([
  [AdminService.typeName, "admin"],
  [GatewayService.typeName, "data-plane"],
  [Health.typeName, "open"],
  [ServerReflection.typeName, "open"],
]);

/** Every RPC on the port by its request path ("/switchyard.v1.AdminService/GetUser"). */
export const PROCEDURES: ReadonlyMap<string, DescMethod> = new Map(
  SERVED_SERVICES.flatMap((s) => s.methods.map((m) => [`/${s.typeName}/${m.name}`, m] as const)),
);

/** The services whose health a probe may ask about by name. */
export const HEALTH_CHECKED_SERVICES: readonly string[] = [AdminService.typeName, GatewayService.typeName];

/**
 * The one routes function: every service the control plane serves, registered on one router, each with the
 * largest request message it reads (src/shared/rpc-limits.ts); a larger one is refused with RESOURCE_EXHAUSTED.
 */
export function createRoutes(deps: RouteDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AdminService, deps.admin ?? {}, { readMaxBytes: ADMIN_READ_MAX_BYTES });
    router.service(GatewayService, deps.gateway ?? {}, { readMaxBytes: GATEWAY_READ_MAX_BYTES });
    router.service(Health, deps.health, { readMaxBytes: OPEN_READ_MAX_BYTES });
    router.service(ServerReflection, deps.reflection, { readMaxBytes: OPEN_READ_MAX_BYTES });
  };
}

/**
 * The routes of the plaintext health port: grpc.health.v1 alone. Probes there need no TLS and no token, so nothing
 * else may answer on it; every other RPC path falls through to 404 (UNIMPLEMENTED to gRPC clients).
 */
export function createHealthRoutes(health: ServiceImpl<typeof Health>): (router: ConnectRouter) => void {
  return (router) => {
    router.service(Health, health, { readMaxBytes: OPEN_READ_MAX_BYTES });
  };
}
