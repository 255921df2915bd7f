/** A small seeded PRNG (mulberry32): the same seed gives the same calls, so a failure can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A source of numbers in [0, 1). */
export type Rng = () => number;
/** One of `items`, chosen by `rng`. */
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
/** `n` random bytes. */
export const bytes = (rng: Rng, n: number): Uint8Array =>
  Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
