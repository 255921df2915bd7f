import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../../shared/logger.js";
import { type Change, type ChangeFeed, LocalChangeFeed } from "../domain/change-feed.js";

/**
 * A {@link ChangeFeed} shared by every control-plane replica through Redis pub/sub. Local listeners hear a change
 * at once; other replicas within a pub/sub hop (about a millisecond). A replica that misses messages while
 * disconnected is covered by the caches' own short max-age.
 */
export class RedisChangeFeed implements ChangeFeed {
  readonly #local = new LocalChangeFeed();
  readonly #origin = randomBytes(6).toString("hex");
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #log: Logger;

  /** `subscriber` must be a dedicated connection (it enters subscribe mode). */
  constructor(options: { publisher: Redis; subscriber: Redis; prefix: string; log: Logger }) {
    this.#publisher = options.publisher;
    this.#subscriber = options.subscriber;
    this.#channel = `${options.prefix}changes`;
    this.#log = options.log;
  }

  /** Subscribes to the shared channel; resolves once subscribed. */
  async start(): Promise<void> {
    this.#subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      const parsed = parse(message);
      if (parsed && parsed.origin !== this.#origin) this.#local.publish(parsed.change);
    });
    await this.#subscriber.subscribe(this.#channel);
  }

  publish(change: Change): void {
    this.#local.publish(change);
    this.#publisher
      .publish(this.#channel, JSON.stringify({ origin: this.#origin, change }))
      .catch((err: unknown) => this.#log.warn({ err, change }, "change not relayed to other replicas"));
  }

  subscribe(listener: (change: Change) => void): () => void {
    return this.#local.subscribe(listener);
  }
}

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
