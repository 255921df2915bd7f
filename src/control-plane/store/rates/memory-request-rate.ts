import type { RequestRate } from "./request-rate.js";

/** {@link RequestRate} in memory: each key's request times in arrival order, pruned as they leave the window. */
export class MemoryRequestRate implements RequestRate {
  readonly #windows = new Map<string, { ids: Set<string>; entries: { id: string; at: number }[] }>();

  async take(key: string, id: string, limit: number, windowMs: number, now: number): Promise<number> {
    const window = this.#windows.get(key) ?? { ids: new Set<string>(), entries: [] };
    while (window.entries.length > 0 && (window.entries[0]?.at ?? now) <= now - windowMs) {
      const gone = window.entries.shift();
      if (gone) window.ids.delete(gone.id);
    }
    if (window.ids.has(id)) return 0;
    if (window.entries.length >= limit) return Math.max(1, (window.entries[0]?.at ?? now) + windowMs - now);
    window.entries.push({ id, at: now });
    window.ids.add(id);
    this.#windows.set(key, window);
    return 0;
  }
}
