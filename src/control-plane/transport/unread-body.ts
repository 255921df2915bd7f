import type * as http2 from "node:http2";

/**
 * How much of a request body the server reads and drops after it has stopped wanting it, before it closes the
 * connection: room for any normal message sent with a wrong token, far below what a flood sends.
 */
export const UNREAD_BODY_MAX_BYTES = 1024 * 1024;

/**
 * Reads and drops the rest of an HTTP/2 request's body from now on: the call was refused before its body was
 * read, or Connect stopped reading it (a message over the read limit, a bad frame), or the call is over. Destroys
 * the session once more than `maxBytes` arrived that way: the answer has gone out by then, and a client still
 * sending that much is flooding.
 *
 * Why read at all, rather than leave the body or reset the stream: node's http2 server does not give back the
 * connection-level flow-control window for data a stream had buffered unread when it closes, and counts the
 * client's DATA frames arriving after the close as invalid. Measured with node's own client: the third 4 MB
 * request answered early on one session hangs, later ones are refused with ENHANCE_YOUR_CALM, and a gRPC answer
 * to an over-limit message never gets its trailers while the stream is paused. Reading must start before the
 * answer ends the stream. (HTTP/1.1 needs none of this: node's server drops an unread body itself.)
 */
export function dropRequestBody(req: http2.Http2ServerRequest, maxBytes = UNREAD_BODY_MAX_BYTES): void {
  const stream = req.stream;
  if (req.readableEnded || stream.destroyed || stream.readableEnded) return;
  // Nothing else is to read this body any more. The compatibility request (node's http2 compat layer) listens
  // too, and would pause the stream whenever its own buffer is full or it has been destroyed.
  stream.removeAllListeners("data");
  let dropped = 0;
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped <= maxBytes) return;
    stream.off("data", onData);
    stream.pause();
    // Not before the answer is written: the client is to see why.
    const close = (): void => void stream.session?.destroy();
    if (stream.writableFinished || stream.destroyed) close();
    else stream.once("finish", close);
  };
  stream.on("data", onData);
  stream.resume();
}
