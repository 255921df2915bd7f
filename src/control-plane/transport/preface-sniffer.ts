import type { Socket } from "node:net";
import type { connectNodeAdapter } from "@connectrpc/connect-node";

/** A request listener for both node:http and node:http2 (what `connectNodeAdapter` returns). */
export type NodeHandler = ReturnType<typeof connectNodeAdapter>;

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Reads a new connection's first bytes until they either are the HTTP/2 preface or cannot be, puts them back on
 * the socket, and reports which it was. No HTTP/1.1 request line starts with "PRI *", so one mismatching byte
 * decides. A connection that stays silent for `timeoutMs` is destroyed.
 */
export function sniffHttp2Preface(
  socket: Socket,
  timeoutMs: number,
  decide: (isHttp2: boolean) => void,
): void {
  let seen = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs).unref();
  const stop = (): void => {
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.off("close", stop);
  };
  const onReadable = (): void => {
    for (let chunk = socket.read(); chunk !== null; chunk = socket.read()) {
      seen = Buffer.concat([seen, chunk as Buffer]);
    }
    const n = Math.min(seen.length, HTTP2_PREFACE.length);
    const isPrefix = seen.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    if (n === 0 || (isPrefix && n < HTTP2_PREFACE.length)) return;
    stop();
    socket.unshift(seen);
    decide(isPrefix);
  };
  socket.on("readable", onReadable);
  socket.once("close", stop);
}
