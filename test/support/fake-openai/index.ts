import type { AddressInfo, Socket } from "node:net";
import { createFakeServer } from "./fake-server.js";
import { createFakeState, resetFakeState } from "./fake-state.js";
import type { FakeOpenAI, FakeOpenAIOptions, ReceivedRequest, ScriptRule } from "./types.js";

export type {
  Behaviour,
  FakeOpenAI,
  FakeOpenAIOptions,
  ReceivedRequest,
  ResetMode,
  RuleMatch,
  ScriptedError,
  ScriptedUsage,
  ScriptRule,
  StallMode,
  TrafficStats,
  Trickle,
} from "./types.js";

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Starts a fake OpenAI upstream on `host:port` (default 127.0.0.1, a free port) and resolves once it listens.
 * The caller must `close()` it.
 */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const host = options.host ?? "127.0.0.1";
  const state = createFakeState(options.recordRequests ?? true);
  const server = createFakeServer(state);
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const { traffic, book } = state;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    get requests(): ReceivedRequest[] {
      return traffic.requests;
    },
    get inFlight(): number {
      return traffic.inFlight;
    },
    get maxInFlight(): number {
      return traffic.maxInFlight;
    },
    get total(): number {
      return traffic.total;
    },
    script: (rule: ScriptRule) => book.add(rule),
    reset: () => resetFakeState(state),
    waitForInFlight: (n: number, timeoutMs = 5000) => traffic.waitForInFlight(n, timeoutMs),
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      }).then(() => traffic.waitForInFlight(0, 1000).catch(() => undefined));
      return closing;
    },
  };
}
