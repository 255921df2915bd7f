import type { IncomingMessage, ServerResponse } from "node:http";
import type { Lease } from "../../gen/switchyard/v1/gateway_pb.js";
import { newRequestId } from "../../shared/ids.js";
import type { Logger } from "../../shared/logger.js";
import { NO_TRACE, type RequestTrace } from "../observability/request-trace.js";
import type { Relayed } from "./attempt.js";
import { type ClientAddressSource, clientAddress } from "./client-address.js";
import type { ClientApi } from "./client-response.js";

/** Longest User-Agent kept for usage records. */
const MAX_USER_AGENT_CHARS = 256;

/** Durations shown in the Server-Timing header (ms). */
export interface StageTimings {
  auth?: number;
  admit?: number;
  upstream?: number;
}

/**
 * One client request as it moves through the stages: its id, what was learnt so far, timings, and whether the
 * client is still there. Stages read and fill it; none of them owns it.
 */
export class RequestContext {
  /**
   * The server's own id (the x-request-id the server already set, else a new one), never taken from the client:
   * it is also the admit's idempotency key.
   */
  readonly requestId: string;
  readonly startedAt = performance.now();
  readonly startedAtMs = Date.now();
  readonly timings: StageTimings = {};
  readonly #baseLog: Logger;
  #log: Logger | null = null;
  /** Aborted when the client goes away before its response finished. */
  readonly clientGone: AbortSignal;
  /** The client's address (see {@link clientAddress}) and User-Agent, read once as the request arrives. */
  readonly clientAddress: string;
  readonly userAgent: string;
  model = "";
  stream = false;
  lease: Lease | null = null;
  /** Set once upstream output reaches the client: wait pings stop then. */
  outputStarted = false;
  failovers = 0;
  /** The client's own X-Request-Id when well-formed (logged and echoed, never used as `requestId`). */
  clientRequestId = "";
  /** The request's spans; inert unless tracing is configured. */
  trace: RequestTrace = NO_TRACE;
  /** When the first upstream attempt was sent (performance.now()); 0 before. */
  firstSentAt = 0;
  /** How the request ended upstream, once settled (for the access log and the request span). */
  settled: Relayed | null = null;

  constructor(
    readonly api: ClientApi,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    log: Logger,
    addressSource: ClientAddressSource,
  ) {
    this.clientAddress = clientAddress(req, addressSource);
    this.userAgent = (req.headers["user-agent"] ?? "").slice(0, MAX_USER_AGENT_CHARS);
    const assigned = res.getHeader("x-request-id");
    this.requestId = typeof assigned === "string" ? assigned : newRequestId();
    if (assigned === undefined) res.setHeader("x-request-id", this.requestId);
    this.#baseLog = log;
    const gone = new AbortController();
    this.clientGone = gone.signal;
    // res "close" before the response finished is the client leaving (req "close" fires once the body is read).
    res.once("close", () => {
      if (!res.writableFinished) gone.abort();
    });
  }

  /** The logger stamped with the request id, made on first use: most requests log nothing but the access line. */
  get log(): Logger {
    this.#log ??= this.#baseLog.child({ requestId: this.requestId });
    return this.#log;
  }

  /** Milliseconds since the request arrived. */
  elapsed(): number {
    return performance.now() - this.startedAt;
  }

  /** Runs `stage` and records its duration under `name`. */
  async time<T>(name: keyof StageTimings, stage: () => Promise<T> | T): Promise<T> {
    const started = performance.now();
    try {
      return await stage();
    } finally {
      this.timings[name] = performance.now() - started;
    }
  }

  /** Runs the synchronous `stage` and records its duration under `name` (no promise, no extra turn). */
  timeSync<T>(name: keyof StageTimings, stage: () => T): T {
    const started = performance.now();
    try {
      return stage();
    } finally {
      this.timings[name] = performance.now() - started;
    }
  }

  /** The Server-Timing header value for what has been measured, in the order it was measured. */
  serverTiming(): string {
    let value = "";
    for (const name in this.timings) {
      const ms = this.timings[name as keyof StageTimings];
      if (ms === undefined) continue;
      value += `${value === "" ? "" : ", "}${name};dur=${ms.toFixed(2)}`;
    }
    return value;
  }

  /** The client's IP: the socket's peer, or what a trusted proxy forwarded. */
  clientIp(): string {
    return this.clientAddress;
  }
}
