import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

/** How a raw call reaches the port: HTTP/2 with prior knowledge, HTTP/1.1 through node:http, or bytes on a socket. */
export type RawTransport = "h2c" | "http/1.1" | "socket";

/** One request exactly as sent: no client library in between to fix what the fuzzer broke on purpose. */
export interface RawCall {
  transport: RawTransport;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** For "socket": the whole request, verbatim (method, path, headers and body are then ignored). */
  raw?: Uint8Array;
  /**
   * For "socket": leave our side open after the request (it says `Connection: close`, so the server closes when
   * done). By default our side is ended, which node's HTTP server takes as an abandoned request.
   */
  keepOpen?: boolean;
  /**
   * For calls that may rightly stay open (server and bidirectional streams): how long after the answer started to
   * wait before cancelling; the call then ends with `error` "open stream".
   */
  openStreamMs?: number;
}

/** What came back. `status` 0: the connection or stream ended without an HTTP answer. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  /** Why there was no (complete) answer: a reset, a refused stream, a timeout. */
  error?: string;
}

const CALL_TIMEOUT_MS = 15_000;
const REFUSED = "refused stream";

/**
 * Sends raw calls to one server, one at a time, over one HTTP/2 session (reopened when the server closes it) or
 * fresh HTTP/1.1 connections. One call at a time per client: the server closes a session that floods it, which
 * would also end the other calls on it.
 */
export class RawRpcClient {
  private session: http2.ClientHttp2Session | undefined;

  constructor(private readonly url: string) {}

  /** Sends `call` and settles with whatever the server answered; never rejects. */
  send(call: RawCall): Promise<RawAnswer> {
    switch (call.transport) {
      case "h2c":
        return this.sendH2WithRetry(call);
      case "http/1.1":
        return sendH1(this.url, call);
      case "socket":
        return sendSocket(this.url, call.raw ?? new Uint8Array(), call.keepOpen === true);
    }
  }

  /** Closes the HTTP/2 session. */
  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }

  private h2Session(): http2.ClientHttp2Session {
    if (this.session === undefined || this.session.closed || this.session.destroyed) {
      // Room for the largest fuzzed body: node's client otherwise refuses its own stream (ENHANCE_YOUR_CALM).
      const session = http2.connect(this.url, { maxSendHeaderBlockLength: 1 << 20, maxSessionMemory: 64 });
      session.on("error", () => undefined);
      session.on("goaway", () => {
        if (this.session === session) this.session = undefined;
      });
      this.session = session;
    }
    return this.session;
  }

  /**
   * A stream refused before the server looked at it (REFUSED_STREAM: the session was going away) is sent again
   * on a new session, once, as HTTP/2 allows and gRPC clients do.
   */
  private async sendH2WithRetry(call: RawCall): Promise<RawAnswer> {
    const answer = await this.sendH2(call);
    if (answer.status !== 0 || answer.error !== REFUSED) return answer;
    this.close();
    return await this.sendH2(call);
  }

  private sendH2(call: RawCall): Promise<RawAnswer> {
    return new Promise((resolve) => {
      const answer = emptyAnswer();
      const chunks: Buffer[] = [];
      let stream: http2.ClientHttp2Stream;
      try {
        // endStream false: node would end a GET or HEAD at its headers, and the fuzzer sends bodies with them too.
        const headers = { ":method": call.method, ":path": call.path, ...call.headers };
        stream = this.h2Session().request(headers, { endStream: false });
      } catch (err) {
        resolve({ ...answer, error: `request refused: ${(err as Error).message}` });
        return;
      }
      const timer = setTimeout(() => {
        resolve({ ...answer, body: Buffer.concat(chunks), error: "timeout" });
        stream.destroy();
      }, CALL_TIMEOUT_MS);
      stream.on("response", (headers) => {
        answer.status = Number(headers[":status"]);
        answer.headers = flatten(headers);
        if (call.openStreamMs !== undefined) {
          setTimeout(() => {
            if (stream.closed) return;
            resolve({ ...answer, body: Buffer.concat(chunks), error: "open stream" });
            stream.close(http2.constants.NGHTTP2_CANCEL);
          }, call.openStreamMs).unref();
        }
      });
      stream.on("trailers", (trailers) => {
        answer.trailers = flatten(trailers);
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (err) => {
        answer.error = err.message;
      });
      stream.on("close", () => {
        clearTimeout(timer);
        if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && answer.status === 0)
          answer.error = REFUSED;
        else if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR && answer.error === undefined)
          answer.error = `reset ${stream.rstCode}`;
        resolve({ ...answer, body: Buffer.concat(chunks) });
      });
      // The server may answer and reset before taking the whole body; that is not the client's error.
      stream.end(call.body, () => undefined);
    });
  }
}

function sendH1(url: string, call: RawCall): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const answer = emptyAnswer();
    const chunks: Buffer[] = [];
    const done = (error?: string): void => {
      resolve({ ...answer, body: Buffer.concat(chunks), ...(error === undefined ? {} : { error }) });
    };
    let req: http.ClientRequest;
    try {
      req = http.request(`${url}${call.path}`, {
        method: call.method,
        headers: { "content-length": String(call.body.byteLength), ...call.headers },
        agent: false,
        timeout: CALL_TIMEOUT_MS,
      });
    } catch (err) {
      done(`request refused: ${(err as Error).message}`);
      return;
    }
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("response", (res) => {
      answer.status = res.statusCode ?? 0;
      answer.headers = flatten(res.headers);
      if (call.openStreamMs !== undefined) {
        setTimeout(() => {
          if (res.complete) return;
          done("open stream");
          req.destroy();
        }, call.openStreamMs).unref();
      }
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        answer.trailers = flatten(res.trailers);
        done();
      });
      res.on("error", (err) => done(err.message));
    });
    // A write error (the server answered early and closed) may come before the answer is parsed: wait for close.
    let writeError: string | undefined;
    req.on("error", (err) => {
      writeError = err.message;
    });
    req.on("close", () => {
      if (answer.status === 0) done(writeError ?? "closed");
    });
    writeUntilAnswered(req, call.body, () => answer.status !== 0);
  });
}

/**
 * Writes the body in pieces, and stops once the server has answered: a server that answers early closes the
 * connection, and a client that keeps writing gets EPIPE instead of reading the answer (curl and Connect's
 * clients stop the same way).
 */
function writeUntilAnswered(req: http.ClientRequest, body: Uint8Array, answered: () => boolean): void {
  const piece = 64 * 1024;
  let at = 0;
  const pump = (): void => {
    while (at < body.length && !answered() && !req.destroyed) {
      const chunk = body.subarray(at, at + piece);
      at += chunk.length;
      if (!req.write(chunk)) {
        req.once("drain", pump);
        return;
      }
    }
    if (!answered() && !req.destroyed) req.end();
  };
  pump();
}

/** Writes bytes on a fresh connection and reads until the server closes it (or the timeout); parses the head. */
function sendSocket(url: string, raw: Uint8Array, keepOpen: boolean): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname);
    socket.setTimeout(CALL_TIMEOUT_MS, () => socket.destroy(new Error("timeout")));
    let error: string | undefined;
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (err) => {
      error = err.message;
    });
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      // The final status: an interim one (100 Continue) may come first.
      const status = /^(?:HTTP\/1\.[01] 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)*HTTP\/1\.[01] (\d{3})/.exec(
        text,
      );
      resolve({
        ...emptyAnswer(),
        status: status ? Number(status[1]) : 0,
        body: Buffer.concat(chunks),
        ...(status === null && error !== undefined ? { error } : {}),
      });
    });
    if (keepOpen) socket.write(raw);
    else socket.end(raw);
  });
}

function emptyAnswer(): RawAnswer {
  return { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0) };
}

function flatten(headers: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !name.startsWith(":"))
      out[name] = Array.isArray(value) ? value.join(", ") : `${value}`;
  }
  return out;
}
