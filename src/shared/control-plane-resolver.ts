import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import type { ControlPlaneEndpoint, ControlPlaneTarget } from "./control-plane-target.js";

/** How long one DNS lookup may take before it fails. */
const LOOKUP_TIMEOUT_MS = 2_000;

/**
 * The replicas a target names right now: a static list as it is; a dns: name's A and AAAA records (a headless
 * Service's ready pods), asked of its own resolver when it names one, else of the system's. `tls` applies to dns:
 * targets (URLs carry their own scheme). Rejects when the name cannot be resolved or has no address.
 */
export async function resolveControlPlane(
  target: ControlPlaneTarget,
  tls: boolean,
): Promise<ControlPlaneEndpoint[]> {
  if (target.kind === "static") return target.endpoints;
  if (isIP(target.name) !== 0) return [{ host: target.name, port: target.port, tls }];
  const resolver = new Resolver({ timeout: LOOKUP_TIMEOUT_MS, tries: 2 });
  if (target.resolver) {
    const host = isIP(target.resolver.host) === 6 ? `[${target.resolver.host}]` : target.resolver.host;
    resolver.setServers([`${host}:${target.resolver.port}`]);
  }
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(target.name), resolver.resolve6(target.name)]);
  const addresses = [
    ...(v4.status === "fulfilled" ? v4.value : []),
    ...(v6.status === "fulfilled" ? v6.value : []),
  ];
  if (addresses.length === 0) {
    const reason = v4.status === "rejected" ? v4.reason : v6.status === "rejected" ? v6.reason : undefined;
    throw new Error(`no address for ${target.name}`, reason === undefined ? {} : { cause: reason });
  }
  return [...new Set(addresses)].sort().map((host) => ({ host, port: target.port, tls }));
}

/** The name a replica's certificate is checked against: the setting, else the dns: name or the URL's host. */
export function serverNameOf(
  target: ControlPlaneTarget,
  endpoint: ControlPlaneEndpoint,
  configured: string,
): string {
  if (configured !== "") return configured;
  return target.kind === "dns" ? target.name : endpoint.host;
}
