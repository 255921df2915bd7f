/** One control-plane replica a client can dial. */
export interface ControlPlaneEndpoint {
  host: string;
  port: number;
  tls: boolean;
}

/**
 * Where the control plane is (SWITCHYARD_CONTROL_PLANE_URL): a fixed list of URLs, or a DNS name whose A/AAAA
 * records are the replicas (a Kubernetes headless Service), re-resolved periodically and on failure.
 */
export type ControlPlaneTarget =
  | { kind: "static"; endpoints: ControlPlaneEndpoint[] }
  | {
      kind: "dns";
      /** The name to resolve and the port every replica listens on. */
      name: string;
      port: number;
      /** A resolver of its own (`dns://HOST:PORT/name:port`, gRPC's authority form); null for the system's. */
      resolver: { host: string; port: number } | null;
    };

const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/;

/**
 * Parses `http://h:p`, `https://h:p`, a comma-separated list of them, `dns:///name:port` or
 * `dns://resolver:port/name:port`. Throws an Error whose message says what is wrong (for config validation).
 */
export function parseControlPlaneTarget(value: string): ControlPlaneTarget {
  const text = value.trim();
  if (text.startsWith("dns:")) return parseDnsTarget(text);
  const parts = text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new Error("expected a URL, a comma-separated list of URLs, or dns:///name:port");
  return { kind: "static", endpoints: parts.map(parseUrl) };
}

function parseUrl(text: string): ControlPlaneEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error("expected an http:// or https:// URL, a list of them, or dns:///name:port");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error("expected an http:// or https:// URL, a list of them, or dns:///name:port");
  if (url.pathname !== "/" && url.pathname !== "") throw new Error("expected a URL without a path");
  const tls = url.protocol === "https:";
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || (tls ? 443 : 80)), tls };
}

function parseDnsTarget(text: string): ControlPlaneTarget {
  const match = /^dns:\/\/([^/]*)\/(.+)$/.exec(text);
  if (!match) throw new Error("expected dns:///name:port or dns://resolver:port/name:port");
  const [, authority = "", target = ""] = match;
  const { host: name, port } = hostPort(target, "the name");
  const resolver = authority === "" ? null : hostPort(authority, "the resolver");
  return { kind: "dns", name, port, resolver };
}

function hostPort(text: string, what: string): { host: string; port: number } {
  const i = text.lastIndexOf(":");
  const host = i < 0 ? "" : text.slice(0, i);
  const port = Number(text.slice(i + 1));
  if (i < 0 || !HOST.test(host) || !Number.isInteger(port) || port < 1 || port > 65_535)
    throw new Error(`expected host:port for ${what}`);
  return { host: host.replace(/^\[|\]$/g, ""), port };
}

/** The URL of an endpoint, for transports and logs. */
export function endpointUrl(e: ControlPlaneEndpoint): string {
  const host = e.host.includes(":") ? `[${e.host}]` : e.host;
  return `${e.tls ? "https" : "http"}://${host}:${e.port}`;
}
