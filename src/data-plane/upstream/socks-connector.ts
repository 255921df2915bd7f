import { lookup } from "node:dns/promises";
import { SocksClient } from "socks";
import { buildConnector } from "undici";

/** A SOCKS5 proxy as an account's proxy URL names it: `socks5://` or `socks5h://`, optionally with credentials. */
export interface SocksProxy {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  /** `socks5h`: the proxy resolves the upstream's name; `socks5`: this data plane resolves it and sends the IP. */
  readonly remoteDns: boolean;
}

/** The SOCKS port when a proxy URL names none. */
const DEFAULT_SOCKS_PORT = 1080;

/** A `socks5://` or `socks5h://` URL as a {@link SocksProxy}; null for any other scheme. */
export function socksProxyOf(url: URL): SocksProxy | null {
  if (url.protocol !== "socks5:" && url.protocol !== "socks5h:") return null;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? DEFAULT_SOCKS_PORT : Number(url.port),
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    remoteDns: url.protocol === "socks5h:",
  };
}

/**
 * An undici connector that reaches the upstream through a SOCKS5 proxy (the `socks` package does the handshake and
 * the RFC 1929 username/password auth), then, for https origins, runs TLS over that tunnel with undici's own
 * connector — so certificate checks, SNI and session reuse stay undici's. `timeoutMs` bounds the proxy handshake
 * and, separately, the TLS handshake.
 */
export function socksConnector(proxy: SocksProxy, timeoutMs: number): buildConnector.connector {
  const tlsOverTunnel = buildConnector({ timeout: timeoutMs });
  return (options, callback) => {
    const https = options.protocol === "https:";
    const host = options.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = options.port === "" ? (https ? 443 : 80) : Number(options.port);
    openTunnel(proxy, host, port, timeoutMs).then(
      (socket) => {
        if (https) tlsOverTunnel({ ...options, httpSocket: socket }, callback);
        else callback(null, socket);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
    );
  };
}

async function openTunnel(proxy: SocksProxy, host: string, port: number, timeoutMs: number) {
  const destination = proxy.remoteDns ? host : (await lookup(host)).address;
  const { socket } = await SocksClient.createConnection({
    command: "connect",
    proxy: {
      host: proxy.host,
      port: proxy.port,
      type: 5,
      ...(proxy.username !== "" ? { userId: proxy.username, password: proxy.password } : {}),
    },
    destination: { host: destination, port },
    timeout: timeoutMs,
    set_tcp_nodelay: true,
  });
  return socket;
}
