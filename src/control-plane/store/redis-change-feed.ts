import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../../shared/logger.js";
import { OutageLog } from "../../shared/outage-log.js";
import { type Change, type ChangeFeed, LocalChangeFeed } from "../domain/change-feed.js";

/**
 * A {@link ChangeFeed} shared by every control-plane replica through Redis pub/sub. Local listeners hear a change
 * at once; other replicas within a pub/sub hop (about a millisecond). While the subscriber is disconnected the feed
 * is not `live` (caches fall back to short max-ages); once it is subscribed again it publishes a local `reset`, since
 * messages sent meanwhile are lost.
 */
export class RedisChangeFeed implements ChangeFeed {
  readonly #local = new LocalChangeFeed();
  readonly #origin = randomBytes(6).toString("hex");
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #log: Logger;
  #live = false;
  #lost = false;
  /** Changes not relayed are logged once per outage (other replicas fall back to short max-ages meanwhile). */
  readonly #relay: OutageLog;
  /** Changes whose relay failed, sent again once the publisher is ready (invalidations only; see `publish`). */
  #unsent: Change[] = [];
  #resendScheduled = false;

  /** `subscriber` must be a dedicated connection (it enters subscribe mode). */
  constructor(options: { publisher: Redis; subscriber: Redis; prefix: string; log: Logger }) {
    this.#publisher = options.publisher;
    this.#subscriber = options.subscriber;
    this.#channel = `${options.prefix}changes`;
    this.#log = options.log;
    this.#relay = new OutageLog(options.log, "change feed relay to other replicas");
  }

  get live(): boolean {
    return this.#live;
  }

  /** Subscribes to the shared channel; resolves once subscribed. */
  async start(): Promise<void> {
    this.#subscriber.on("close", () => {
      this.#live = false;
      this.#lost = true;
    });
    this.#subscriber.on("ready", () => {
      if (!this.#lost) return;
      this.#lost = false;
      // Subscribed again (ioredis resubscribes; asking once more is harmless and tells when it took): what was
      // published meanwhile is lost, so every cache starts over.
      this.#subscriber
        .subscribe(this.#channel)
        .then(() => {
          this.#live = true;
          this.#local.publish({ kind: "reset", id: "" });
          this.#log.info("change feed resubscribed; caches reset");
        })
        .catch((err: unknown) => this.#log.warn({ err }, "change feed resubscribe failed"));
    });
    this.#subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      const parsed = parse(message);
      if (parsed && parsed.origin !== this.#origin) this.#local.publish(parsed.change);
    });
    await this.#subscriber.subscribe(this.#channel);
    this.#live = true;
  }

  /**
   * Applies a change here and relays it to the other replicas. A relay that fails (this replica's connection to
   * Redis dropped, while theirs may not have: they stay `live` and would never hear of it) is sent again once the
   * publisher is ready — except billed usage, a delta that a relay which timed out may have delivered already.
   */
  publish(change: Change): void {
    this.#local.publish(change);
    this.#relayChange(change);
  }

  #relayChange(change: Change): void {
    this.#publisher.publish(this.#channel, JSON.stringify({ origin: this.#origin, change })).then(
      () => this.#relay.ok(),
      (err: unknown) => {
        this.#relay.failed(err);
        if (change.kind === "usage_billed") return;
        if (this.#unsent.length >= MAX_UNSENT) this.#unsent.shift();
        this.#unsent.push(change);
        this.#scheduleResend();
      },
    );
  }

  /** Once the publisher is ready again (or, if it never stopped being, a second from now). */
  #scheduleResend(): void {
    if (this.#resendScheduled) return;
    this.#resendScheduled = true;
    const resend = () => {
      this.#resendScheduled = false;
      const unsent = this.#unsent;
      this.#unsent = [];
      for (const change of unsent) this.#relayChange(change);
    };
    if (this.#publisher.status === "ready") setTimeout(resend, 1_000).unref();
    else this.#publisher.once("ready", resend);
  }

  subscribe(listener: (change: Change) => void): () => void {
    return this.#local.subscribe(listener);
  }
}

/** Invalidations kept for a resend at most (the oldest go first; past this many, caches' max ages bound staleness). */
const MAX_UNSENT = 1_000;

function parse(message: string): { origin: string; change: Change } | null {
  try {
    const value: unknown = JSON.parse(message);
    if (typeof value !== "object" || value === null || !("origin" in value) || !("change" in value))
      return null;
    return value as { origin: string; change: Change };
  } catch {
    return null;
  }
}
