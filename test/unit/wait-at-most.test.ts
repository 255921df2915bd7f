import { describe, expect, it } from "vitest";
import { waitAtMost } from "../../src/shared/wait-at-most.js";

describe("waitAtMost", () => {
  it("answers settled as soon as the work ends, whether it succeeds or fails", async () => {
    expect(await waitAtMost(Promise.resolve(1), 60_000)).toBe("settled");
    expect(await waitAtMost(Promise.reject(new Error("no")), 60_000)).toBe("settled");
  });

  it("answers timed out for work that does not end in time, and leaves it running", async () => {
    let finish = () => {};
    const work = new Promise<string>((resolve) => {
      finish = () => resolve("done later");
    });
    expect(await waitAtMost(work, 10)).toBe("timed out");
    finish();
    expect(await work).toBe("done later");
  });
});
