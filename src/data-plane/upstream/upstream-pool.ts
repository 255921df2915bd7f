import { EventEmitter } from "node:events";
import type { Writable } from "node:stream";
import { Agent, type Dispatcher, ProxyAgent } from "undici";
import { type SocksProxy, socksConnector, socksProxyOf } from "./socks-connector.js";
import type { HeaderBag } from "./upstream-adapter.js";

/**
 * Timeouts and keep-alive of the upstream connections (BEHAVIOUR.md "Forwarding" defaults). undici checks the
 * headers and body timeouts on a coarse timer (ticks of about 0.5 s), so they fire up to about a second late.
 */
export interface UpstreamPoolOptions {
  /** TCP + TLS (and proxy tunnel) setup; default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Request sent → response headers (first byte); default 600 s. */
  readonly headersTimeoutMs?: number;
  /** Longest silence between body chunks; default 180 s. */
  readonly bodyIdleTimeoutMs?: number;
  /** How long an idle connection is kept for reuse (an upstream's own `Keep-Alive: timeout` hint wins); 30 s. */
  readonly keepAliveTimeoutMs?: number;
}

/** One upstream call. */
export interface UpstreamCall {
  /** Absolute URL, as the adapter built it. */
  readonly url: string;
  readonly method?: "POST" | "GET";
  readonly headers: Record<string, string>;
  readonly body?: Buffer | string;
  /** The account's proxy (`http://`, `https://`, `socks5://`, `socks5h://`); empty or absent for a direct connection. */
  readonly proxyUrl?: string;
  /** Aborts the call (client gone, lease lost); the returned promise then rejects. */
  readonly signal?: AbortSignal | UpstreamAbort;
}

/**
 * Aborts one upstream call, like an AbortController: `abort()` fails the call with the same `AbortError`. undici
 * takes an EventEmitter with `aborted` and `reason` where it takes an AbortSignal, and this one costs a fraction of
 * an AbortController (whose signal is an EventTarget) on every attempt.
 */
export class UpstreamAbort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new DOMException("This operation was aborted", "AbortError");
    this.emit("abort");
  }
}

/** The status line and headers of an upstream answer, before its body. */
export interface UpstreamResponseHead {
  readonly status: number;
  readonly headers: HeaderBag;
}

/** Chooses where the body of an answer goes, once its head is known (the client, or a buffer for errors). */
export type UpstreamBodySink = (head: UpstreamResponseHead) => Writable;

/** Thrown for a proxy this data plane cannot use; it is an upstream transport failure of that account. */
export class UnsupportedProxyError extends Error {
  override readonly name = "UnsupportedProxyError";
}

const DEFAULTS = {
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 600_000,
  bodyIdleTimeoutMs: 180_000,
  keepAliveTimeoutMs: 30_000,
} as const;

/**
 * Keep-alive connections to upstreams: one undici dispatcher per (origin, proxy URL), so accounts behind the same
 * proxy and origin share sockets and a proxy never carries another's traffic.
 *
 * Calls go through `dispatcher.stream()`, not `request()`: `stream()` writes each body chunk straight into the
 * Writable chosen from the response head (the client response, through the SSE tap), where `request()` adds a
 * Readable that must then be piped — one more stream and its buffering per request. STACK.md measured `stream()`
 * 1.3–1.9× faster on small bodies; error bodies are collected by a small Writable the caller returns instead.
 */
export class UpstreamPool {
  readonly #options: Required<UpstreamPoolOptions>;
  readonly #dispatchers = new Map<string, Dispatcher>();
  #closed = false;

  constructor(options: UpstreamPoolOptions = {}) {
    this.#options = { ...DEFAULTS, ...definedOnly(options) };
  }

  /**
   * Sends a call; `sink` is asked for the body's destination once the head arrives. Resolves when the whole body
   * was written to it; rejects on transport failure, headers timeout (undici `UND_ERR_HEADERS_TIMEOUT`), body idle
   * timeout (`UND_ERR_BODY_TIMEOUT`), abort or an unsupported proxy — see `classifyTransportError`.
   */
  async stream(call: UpstreamCall, sink: UpstreamBodySink): Promise<void> {
    const url = new URL(call.url);
    const dispatcher = this.dispatcherFor(url.origin, call.proxyUrl ?? "");
    await dispatcher.stream(
      {
        origin: url.origin,
        path: url.pathname + url.search,
        method: call.method ?? "POST",
        headers: call.headers,
        body: call.body ?? null,
        signal: call.signal ?? null,
      },
      ({ statusCode, headers }) => sink({ status: statusCode, headers }),
    );
  }

  /** The shared dispatcher for an origin reached directly (`proxyUrl` empty) or through a proxy. */
  dispatcherFor(origin: string, proxyUrl: string): Dispatcher {
    if (this.#closed) throw new Error("upstream pool is closed");
    const key = `${origin} ${proxyUrl}`;
    let dispatcher = this.#dispatchers.get(key);
    if (dispatcher === undefined) {
      dispatcher = this.#create(proxyUrl);
      this.#dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  /** Connections per (origin, proxy) and what they are doing; for metrics and tests. */
  stats(): Array<{ origin: string; proxied: boolean; connected: number; running: number }> {
    const out: Array<{ origin: string; proxied: boolean; connected: number; running: number }> = [];
    for (const [key, dispatcher] of this.#dispatchers) {
      if (!(dispatcher instanceof Agent)) continue;
      const [origin = "", proxyUrl = ""] = key.split(" ");
      for (const stats of Object.values(dispatcher.stats)) {
        const connected = typeof stats.connected === "boolean" ? Number(stats.connected) : stats.connected;
        out.push({ origin, proxied: proxyUrl !== "", connected, running: stats.running });
      }
    }
    return out;
  }

  /** Closes every connection once its requests finish; later calls fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const dispatchers = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
  }

  #create(proxyUrl: string): Dispatcher {
    const o = this.#options;
    const common = {
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyIdleTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
    };
    if (proxyUrl === "") return new Agent({ ...common, connect: { timeout: o.connectTimeoutMs } });
    const proxy = checkedProxy(proxyUrl);
    if (typeof proxy !== "string") {
      return new Agent({ ...common, connect: socksConnector(proxy, o.connectTimeoutMs) });
    }
    return new ProxyAgent({
      ...common,
      uri: proxy,
      proxyTls: { timeout: o.connectTimeoutMs },
      requestTls: { timeout: o.connectTimeoutMs },
    });
  }
}

/**
 * An HTTP(S) proxy URL for undici's `ProxyAgent`, or a SOCKS5 proxy for {@link socksConnector} (undici 7's own
 * `Socks5ProxyAgent` is experimental and has no `socks5h`). Messages never echo the URL: it may hold the proxy's
 * password.
 */
function checkedProxy(proxyUrl: string): string | SocksProxy {
  let url: URL;
  try {
    url = new URL(proxyUrl);
  } catch {
    throw new UnsupportedProxyError("invalid proxy URL");
  }
  if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  const socks = socksProxyOf(url);
  if (socks !== null) return socks;
  throw new UnsupportedProxyError(`unsupported proxy scheme ${url.protocol.slice(0, -1)}`);
}

function definedOnly(options: UpstreamPoolOptions): UpstreamPoolOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
