/** What the registry needs of an open lease channel. */
export interface ReassertingChannel {
  /** Asks the data plane to re-assert its live leases; resolves when it has (or when the channel ends). */
  askReassert(): Promise<void>;
}

/**
 * The lease channels open on this replica, so it can ask every connected data plane at once to re-assert its live
 * leases — after its lease store came back from an outage that may have wiped them (docs/adr/0004).
 */
export class ChannelRegistry {
  readonly #channels = new Set<ReassertingChannel>();

  /** Adds a channel; returns a function that removes it. */
  add(channel: ReassertingChannel): () => void {
    this.#channels.add(channel);
    return () => this.#channels.delete(channel);
  }

  /** Channels open now. */
  get size(): number {
    return this.#channels.size;
  }

  /**
   * Asks every open channel to re-assert; resolves when all have answered or after `timeoutMs` (a frozen data plane
   * must not hold admissions up for longer).
   */
  async requestReassert(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    const answers = Promise.all([...this.#channels].map((c) => c.askReassert().catch(() => undefined)));
    try {
      await Promise.race([answers, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
