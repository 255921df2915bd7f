import type { Http2Session } from "node:http2";

/** HTTP/2 liveness probing of a peer; neither node's http2 server nor connect-node does it by itself. */
export interface Http2KeepaliveOptions {
  /** How long a session may stay silent before the server pings it. */
  intervalMs: number;
  /** How long the server waits for the ping's acknowledgement before it destroys the session. */
  timeoutMs: number;
}

/**
 * Pings a session whenever its peer has sent nothing for `intervalMs`, and calls `onUnresponsive` when a ping goes
 * unanswered for `timeoutMs`. A frozen or partitioned data plane keeps its TCP connection open without sending
 * RST or FIN; this is how the control plane notices it (DESIGN.md §3a) and frees its streams.
 */
export function keepSessionAlive(
  session: Http2Session,
  options: Http2KeepaliveOptions,
  onUnresponsive: () => void,
): void {
  let lastRead = bytesRead(session);
  let deadline: NodeJS.Timeout | undefined;
  const ping = (): void => {
    if (session.destroyed || session.closed || deadline !== undefined) return;
    const read = bytesRead(session);
    if (read !== lastRead) {
      lastRead = read;
      return;
    }
    deadline = setTimeout(onUnresponsive, options.timeoutMs);
    const settle = (): void => {
      clearTimeout(deadline);
      deadline = undefined;
      lastRead = bytesRead(session);
    };
    try {
      session.ping(settle);
    } catch {
      // Too many pings in flight or the session is going away: the next tick decides again.
      settle();
    }
  };
  const timer = setInterval(ping, options.intervalMs).unref();
  session.once("close", () => {
    clearInterval(timer);
    clearTimeout(deadline);
  });
}

/** Bytes received from the peer so far; any traffic proves it alive, so busy sessions are not pinged. */
function bytesRead(session: Http2Session): number {
  try {
    return session.socket?.bytesRead ?? 0;
  } catch {
    return 0;
  }
}
