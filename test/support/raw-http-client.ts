import { connect, type Socket } from "node:net";

/**
 * An HTTP/1.1 client over a plain socket, for what fetch will not send or hide: garbage request lines, slow or
 * half-closed requests, several answers on one connection. It writes bytes as told and parses whatever comes
 * back into responses (interim 1xx answers are skipped).
 */

/** One parsed answer. */
export interface RawResponse {
  status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
}

/** Where a {@link RawConnection} connects from and to. */
export interface RawConnectOptions {
  /** A loopback source address (127.x.y.z), so per-IP limits see distinct clients. */
  localAddress?: string;
  /** The requests are HEAD requests: their answers have no body, whatever content-length says. */
  head?: boolean;
}

interface Head {
  status: number;
  headers: Record<string, string>;
  bodyStart: number;
}

function parseHead(buf: Buffer): Head | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end === -1) return null;
  const [statusLine = "", ...lines] = buf.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, bodyStart: end + 4 };
}

/** The decoded chunked body and where it ended in `buf`, or null while incomplete. */
function parseChunked(buf: Buffer, start: number): { body: Buffer; end: number } | null {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = buf.indexOf("\r\n", at);
    if (lineEnd === -1) return null;
    const size = Number.parseInt(buf.subarray(at, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) throw new Error("malformed chunked answer");
    if (size === 0) {
      const trailerEnd = buf.indexOf("\r\n\r\n", lineEnd);
      return trailerEnd === -1 ? null : { body: Buffer.concat(parts), end: trailerEnd + 4 };
    }
    if (buf.length < lineEnd + 2 + size + 2) return null;
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** One raw connection: bytes out as told, parsed responses in. */
export class RawConnection {
  readonly responses: RawResponse[] = [];
  /** Resolves when the socket closed (whoever closed it). */
  readonly closed: Promise<void>;
  #buf = Buffer.alloc(0);
  #received: Buffer[] = [];
  #isClosed = false;
  #ended = false;
  #waiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    private readonly head = false,
  ) {
    socket.on("data", (chunk: Buffer) => {
      this.#received.push(chunk);
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#parse(false);
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#parse(true);
    });
    socket.on("error", () => {
      // A reset or a write after the server closed: the answers read so far are what the test looks at.
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.#isClosed = true;
        this.#parse(true);
        resolve();
      }),
    );
  }

  /** Connects to `baseUrl`'s host and port, half-open allowed (ending our side keeps reading). */
  static open(baseUrl: string, options: RawConnectOptions = {}): Promise<RawConnection> {
    const url = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect({
        port: Number(url.port),
        host: url.hostname,
        allowHalfOpen: true,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      });
      socket.once("connect", () => resolve(new RawConnection(socket, options.head)));
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Writes bytes; resolves once handed to the kernel, or at once when the socket is already gone. */
  write(data: string | Buffer): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** Sends FIN after `data`: the request is complete, the client still reads. */
  end(data?: string | Buffer): void {
    if (this.socket.destroyed) return;
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }

  /** Closes the socket (FIN, or a reset when answers are left unread). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Closes the socket with a reset. */
  reset(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  /** Resolves once `count` responses were parsed or the server ended; rejects after `timeoutMs`. */
  async responsesOrClose(count: number, timeoutMs: number): Promise<RawResponse[]> {
    await this.#until(() => this.responses.length >= count || this.#ended || this.#isClosed, timeoutMs);
    return this.responses;
  }

  /** The `index`-th response; rejects when the server ends first or after `timeoutMs`. */
  async response(index: number, timeoutMs: number): Promise<RawResponse> {
    await this.responsesOrClose(index + 1, timeoutMs);
    const res = this.responses[index];
    if (!res) throw new Error(`connection closed after ${this.responses.length} responses`);
    return res;
  }

  /** Everything received so far, as latin1 text (answers still arriving included). */
  get receivedText(): string {
    return Buffer.concat(this.#received).toString("latin1");
  }

  /** Resolves once what was received satisfies `done`; rejects when the server ends first or after `timeoutMs`. */
  async until(done: (received: string) => boolean, timeoutMs: number): Promise<void> {
    await this.#until(() => done(this.receivedText) || this.#ended || this.#isClosed, timeoutMs);
    if (!done(this.receivedText)) throw new Error("raw connection: the server ended first");
  }

  /** Resolves once the server ended its side (FIN) or the socket closed; rejects after `timeoutMs`. */
  async waitEnded(timeoutMs: number): Promise<void> {
    await this.#until(() => this.#ended || this.#isClosed, timeoutMs);
  }

  /** Resolves when the socket closed; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<void> {
    await this.#until(() => this.#isClosed, timeoutMs);
  }

  /**
   * After the server's FIN: proves it also let go of the connection. Bytes sent to a socket the server destroyed
   * are answered with a reset, which shows on the write after it (a server still reading takes them silently),
   * so a byte goes out every 50 ms until the socket closes.
   */
  async waitServerGone(timeoutMs: number): Promise<void> {
    await this.waitEnded(timeoutMs);
    const probe = setInterval(() => {
      if (!this.socket.destroyed) this.socket.write("\r\n");
    }, 50);
    try {
      await this.waitClosed(timeoutMs);
    } finally {
      clearInterval(probe);
    }
  }

  #until(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`raw connection: no outcome in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = (): void => {
        if (!done()) {
          this.#waiters.push(check);
          return;
        }
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(check);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  #parse(atClose: boolean): void {
    for (;;) {
      const head = parseHead(this.#buf);
      if (!head) break;
      const taken = this.#take(head, atClose);
      if (taken === null) break;
      if (head.status >= 200)
        this.responses.push({ status: head.status, headers: head.headers, body: taken.body });
      this.#buf = this.#buf.subarray(taken.end);
    }
    this.#wake();
  }

  #take(head: Head, atClose: boolean): { body: Buffer; end: number } | null {
    const { status, headers, bodyStart } = head;
    if (this.head || status < 200 || status === 204 || status === 304)
      return { body: Buffer.alloc(0), end: bodyStart };
    if (headers["transfer-encoding"]?.includes("chunked")) return parseChunked(this.#buf, bodyStart);
    const length = headers["content-length"];
    if (length !== undefined) {
      const end = bodyStart + Number(length);
      return this.#buf.length >= end ? { body: this.#buf.subarray(bodyStart, end), end } : null;
    }
    return atClose ? { body: this.#buf.subarray(bodyStart), end: this.#buf.length } : null;
  }
}
