import type { Logger } from "../../../shared/logger.js";
import type { ExpiredListener } from "./lease-store.js";

/**
 * The `onExpired` listeners of one store. A listener that throws is logged and skipped, so one faulty consumer
 * cannot break the store operation that happened to prune the lease.
 */
export class ExpiryListeners {
  readonly #listeners = new Set<ExpiredListener>();
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  /** Adds a listener; the returned function removes it. */
  add(listener: ExpiredListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Tells every listener about each expired holder of `key`. */
  report(key: string, holders: readonly string[]): void {
    for (const holder of holders) {
      for (const listener of this.#listeners) {
        try {
          listener(key, holder);
        } catch (err) {
          this.#log?.error({ err, slotKey: key }, "lease expiry listener failed");
        }
      }
    }
  }
}
