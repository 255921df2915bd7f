/**
 * Waits for `work` to settle, but for at most `ms`: past it, resolves `"timed out"` and leaves `work` running (its
 * own handlers still see how it ends). Never rejects — `work`'s failure is its own handlers' business.
 */
export function waitAtMost(work: Promise<unknown>, ms: number): Promise<"settled" | "timed out"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("timed out"), ms);
    const settled = () => {
      clearTimeout(timer);
      resolve("settled");
    };
    work.then(settled, settled);
  });
}
