/**
 * Announces changes to durable state that caches and snapshots depend on (a revoked key must stop working on every
 * replica within a second; a new passthrough rule must reach data planes within a second). Mutations publish after
 * their transaction commits; caches and the snapshot builder subscribe. A Redis-backed feed relays changes between
 * control-plane replicas; the local feed serves a single replica.
 */

/** What changed. */
export type ChangeKind =
  | "user"
  | "group"
  | "api_key"
  | "account"
  | "passthrough_rule"
  | "model_price"
  | "subscription"
  | "settings"
  /** Usage was billed: `id` is the user, `billed` the amount and where it went (caches apply it as a delta). */
  | "usage_billed"
  /** Notices may have been lost (the feed's connection dropped): caches drop everything. `id` is empty. */
  | "reset";

/** Money one batch of usage moved for one user and key; what cached key records apply instead of re-reading. */
export interface BilledUsage {
  keyId: string;
  /** The subscription whose windows the usage counts in; null in balance groups. */
  subscriptionId: string | null;
  /** Pico-USD as a decimal string (JSON has no bigint). */
  amountPico: string;
  /** Taken from the user's balance (balance groups). */
  fromBalance: boolean;
}

/** One change: its kind and the id of the changed entity (the model name for prices, the key for settings). */
export interface Change {
  kind: ChangeKind;
  id: string;
  /** Set on `usage_billed`. */
  billed?: BilledUsage;
}

/** Publish/subscribe for {@link Change}s. */
export interface ChangeFeed {
  /**
   * Whether changes made on other replicas are arriving now. While false, caches must not rely on notices and fall
   * back to short max-ages; when it turns true again the feed publishes a `reset` locally.
   */
  readonly live: boolean;
  publish(change: Change): void;
  /** Returns a function that unsubscribes. */
  subscribe(listener: (change: Change) => void): () => void;
}

/** In-process feed: listeners run synchronously in publish order; a throwing listener does not stop the others. */
export class LocalChangeFeed implements ChangeFeed {
  readonly #listeners = new Set<(change: Change) => void>();
  readonly live = true;

  publish(change: Change): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // a cache that fails to invalidate must not block the mutation that already committed
      }
    }
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
