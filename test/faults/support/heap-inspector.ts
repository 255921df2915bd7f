import { WebSocket } from "undici";

interface CdpReply {
  id?: number;
  result?: { result?: { type?: string; value?: unknown; description?: string } };
  error?: { message: string };
}

/**
 * A DevTools-protocol session with a process started with `--inspect=127.0.0.1:0`, used from outside to read its
 * heap after garbage collection (a number the process itself could not report without disturbing it).
 */
export class HeapInspector {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, { resolve: (reply: CdpReply) => void; reject: (err: Error) => void }>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      const reply = JSON.parse(String(event.data)) as CdpReply;
      if (reply.id === undefined) return;
      const waiter = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.error) waiter?.reject(new Error(`inspector: ${reply.error.message}`));
      else waiter?.resolve(reply);
    });
    socket.addEventListener("close", () => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error("inspector connection closed"));
      this.#pending.clear();
    });
  }

  /** Connects to the `ws://…` URL the process printed ("Debugger listening on ws://…"). */
  static async connect(url: string): Promise<HeapInspector> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`cannot reach the inspector at ${url}`)), {
        once: true,
      });
    });
    return new HeapInspector(socket);
  }

  /**
   * `process.memoryUsage().heapUsed` right after full garbage collections (several: finalizers and weak
   * callbacks of one collection free more in the next).
   */
  async heapUsedAfterGc(collections = 3): Promise<number> {
    for (let i = 0; i < collections; i++) await this.#send("HeapProfiler.collectGarbage");
    const reply = await this.#send("Runtime.evaluate", {
      expression: "process.memoryUsage().heapUsed",
      returnByValue: true,
    });
    const value = reply.result?.result?.value;
    if (typeof value !== "number") throw new Error(`inspector: unexpected heapUsed ${JSON.stringify(reply)}`);
    return value;
  }

  /** Closes the session (the process keeps running). */
  close(): void {
    this.#socket.close();
  }

  #send(method: string, params: Record<string, unknown> = {}): Promise<CdpReply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }
}

/** The DevTools URL a process started with `--inspect` prints on stderr. */
export const INSPECTOR_URL = /Debugger listening on (ws:\/\/\S+)/;
