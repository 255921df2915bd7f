import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SchedulableAccount } from "../../src/control-plane/domain/catalog/index.js";
import { PostgresDirectory } from "../../src/control-plane/store/db/directory-store.js";
import { type AdminHarness, startAdminHarness } from "../support/admin-fixtures.js";
import { testLogger } from "../support/control-plane.js";

describe("the directory's account table", () => {
  let h: AdminHarness;
  let directory: PostgresDirectory;
  const reads = { all: 0, one: [] as string[] };
  /** While set, account reads never answer (a frozen database). */
  let frozen = false;
  const never = <T>() => new Promise<T>(() => {});

  beforeAll(async () => {
    h = await startAdminHarness("directory_accounts");
    const accounts = h.catalog.accounts;
    directory = new PostgresDirectory({
      orm: h.orm,
      accounts: {
        listAllForScheduling: (): Promise<SchedulableAccount[]> => {
          reads.all++;
          return frozen ? never() : accounts.listAllForScheduling();
        },
        getForScheduling: (id: string) => {
          reads.one.push(id);
          return frozen ? never() : accounts.getForScheduling(id);
        },
      },
      feed: h.feed,
      clock: h.clock,
      log: testLogger(),
    });
  });
  afterAll(async () => {
    directory?.close();
    await h?.close();
  });

  it("re-reads only the account a change names, and serves a stale table while reloading it", async () => {
    const { group } = await h.client.createGroup({ name: "directory" });
    const groupId = group?.id ?? "";
    const create = async (name: string) =>
      (
        await h.client.createAccount({
          name,
          baseUrl: "http://127.0.0.1:9",
          credential: `sk-${name}`,
          groupIds: [groupId],
        })
      ).account?.id ?? "";
    const a = await create("a");
    const b = await create("b");
    const members = async () =>
      (await directory.accountsOfGroup(groupId)).map((e) => [e.name, e.view.concurrency, e.view.status]);

    expect(await members()).toEqual([
      ["a", 3, "active"],
      ["b", 3, "active"],
    ]);
    expect(reads.all).toBe(1);

    await h.client.updateAccount({ id: a, concurrency: 7 });
    await vi.waitFor(async () =>
      expect(await members()).toEqual([
        ["a", 7, "active"],
        ["b", 3, "active"],
      ]),
    );
    const { group: other } = await h.client.createGroup({ name: "elsewhere" });
    await h.client.updateAccount({ id: b, replaceGroupIds: true, groupIds: [other?.id ?? ""] });
    await vi.waitFor(async () => expect(await members()).toEqual([["a", 7, "active"]]));
    await h.client.deleteAccount({ id: a });
    await vi.waitFor(async () => expect(await members()).toEqual([]));
    expect((await directory.accountsOfGroup(other?.id ?? "")).map((e) => e.name)).toEqual(["b"]);
    expect(reads.all).toBe(1);
    expect(reads.one).toEqual([a, b, a]);

    // Past its age the table is still answered at once, and reloaded in the background.
    const c = await create("c");
    await vi.waitFor(async () => expect(await members()).toEqual([["c", 3, "active"]]));
    h.clock.advance(6_000);
    expect(await members()).toEqual([["c", 3, "active"]]);
    await vi.waitFor(() => expect(reads.all).toBe(2));
    expect(reads.one.at(-1)).toBe(c);
  });

  it("waits at most a second for accounts read again when the database stops answering, then schedules by what it has", async () => {
    const { group } = await h.client.createGroup({ name: "frozen-db" });
    const groupId = group?.id ?? "";
    const { account } = await h.client.createAccount({
      name: "d",
      baseUrl: "http://127.0.0.1:9",
      credential: "sk-d",
      groupIds: [groupId],
    });
    const names = async () => (await directory.accountsOfGroup(groupId)).map((e) => e.name);
    await vi.waitFor(async () => expect(await names()).toEqual(["d"]));
    frozen = true;
    try {
      // A change names the account: it is re-read before the next admit schedules it, but the read never answers.
      h.feed.publish({ kind: "account", id: account?.id ?? "" });
      let started = performance.now();
      expect(await names()).toEqual(["d"]);
      expect(performance.now() - started).toBeLessThan(3_000);
      // The read still hangs; later admits do not wait for it again.
      started = performance.now();
      expect(await names()).toEqual(["d"]);
      expect(performance.now() - started).toBeLessThan(500);
      // Notices may have been lost (the feed reconnected): the whole table is read again, and never answers.
      h.feed.publish({ kind: "reset", id: "" });
      started = performance.now();
      expect(await names()).toEqual(["d"]);
      expect(performance.now() - started).toBeLessThan(3_000);
      started = performance.now();
      expect(await names()).toEqual(["d"]);
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      frozen = false;
    }
  });
});
