import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser.js";
import { postJson } from "../support/e2e-sse.js";
import { REPO_ROOT } from "../support/repo-copy.js";
import { startStack } from "../support/stack.js";

type Stack = Awaited<ReturnType<typeof startStack>>;

/**
 * The admin web UI in headless Chromium against a real control plane and data plane (processes, as deployed): the
 * operator signs in, builds a tenant through the forms, watches a request in usage and on the overview, sees a live
 * lease and a waiting request, and revokes the key. The cases run in order and share one stack.
 *
 * With SWITCHYARD_UI_SCREENSHOTS=1 the last case also writes docs/ui/*.png (1280 px and 390 px, light and dark).
 */
describe("the admin web UI in a browser", () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let uiUrl: string;
  const tag = Date.now().toString(36);
  const upstreamKey = `sk-upstream-ui-${tag}`;
  let apiKey = "";
  let userId = "";

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack({ label: "admin_ui" }), launchChromium()]);
    uiUrl = `${stack.controlPlaneUrl}/ui/`;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const go = async (screen: string) => {
    await page.goto(`${uiUrl}#/${screen}`);
    await page.locator("main h1").waitFor();
  };
  const responses = (key: string, body: Record<string, unknown>) =>
    postJson(`${stack.dataPlane.url}/v1/responses`, key, { model: "gpt-4o", input: "hello", ...body });

  it("refuses a wrong token with the server's words, then signs in with the admin token", async () => {
    await page.goto(uiUrl);
    await page.getByLabel("Admin token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^unauthenticated: /);

    await page.getByLabel("Admin token").fill(stack.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    // Kept for the tab only, and never in the address.
    expect(await page.evaluate('sessionStorage.getItem("switchyard.adminToken")')).toBe(stack.adminToken);
    expect(page.url()).not.toContain(stack.adminToken);
  });

  it("creates a group, an account, a user and a key through the forms; the key is shown once", async () => {
    await go("catalog");
    const groupForm = page.locator("#group-form");
    await groupForm.getByLabel("Name").fill(`team-${tag}`);
    await groupForm.getByLabel("Rate multiplier").fill("-2");
    await groupForm.getByRole("button", { name: "Create group" }).click();
    // Validated by the server, in its words, at the field it names.
    await groupForm.locator(".field-error").waitFor();
    expect(await groupForm.locator(".field-error").textContent()).toMatch(/^rate_multiplier: /);
    await groupForm.getByLabel("Rate multiplier").fill("1");
    await groupForm.getByRole("button", { name: "Create group" }).click();
    await page.locator("#groups-table").getByText(`team-${tag}`, { exact: true }).waitFor();

    await go("accounts");
    const accountForm = page.locator("#account-form");
    await accountForm.getByLabel("Name").fill(`upstream-${tag}`);
    await accountForm.getByLabel("Base URL").fill(stack.fake.url);
    await accountForm.getByLabel("Upstream API key").fill(upstreamKey);
    await accountForm.getByLabel("Concurrency").fill("4");
    await accountForm.getByLabel(`team-${tag}`).check();
    await accountForm.getByRole("button", { name: "Create account" }).click();
    const accountRow = page.locator("#accounts-table tr", { hasText: `upstream-${tag}` });
    await accountRow.waitFor();
    expect(await accountRow.textContent()).toContain("0 / 4");

    await go("users");
    const userForm = page.locator("#user-form");
    await userForm.getByLabel("Name").fill(`alice-${tag}`);
    await userForm.getByLabel("Balance, USD").fill("25");
    await userForm.getByLabel("Concurrency (0 = unlimited)").fill("1");
    await userForm.getByRole("button", { name: "Create user" }).click();
    await page.getByRole("heading", { name: `alice-${tag}: settings and API keys` }).waitFor();
    const keyForm = page.locator("#key-form");
    await keyForm.getByLabel("Group").selectOption({ label: `team-${tag}` });
    await keyForm.getByLabel("Label (optional)").fill("laptop");
    await keyForm.getByRole("button", { name: "Create key" }).click();
    apiKey = (await page.locator("#new-key-value").textContent()) ?? "";
    expect(apiKey).toMatch(/^sk-sy-[A-Za-z0-9_-]{43}$/);
    await page.locator("#keys-table").getByText("laptop", { exact: true }).waitFor();

    const { users } = await stack.admin.listUsers({ pageSize: 500 });
    userId = users.find((u) => u.name === `alice-${tag}`)?.id ?? "";
    expect(userId).not.toBe("");
  });

  it("shows a request made with that key in usage and on the overview", async () => {
    stack.fake.script({
      match: { apiKey: upstreamKey },
      usage: { input_tokens: 1000, cached_tokens: 400, output_tokens: 50 },
    });
    const answer = await responses(apiKey, {});
    expect(answer.status).toBe(200);

    await go("usage");
    const row = page.locator("#usage-table tbody tr", { hasText: `alice-${tag}` });
    // Usage reaches the database in the data plane's next batch: apply the filters again until it is there.
    await waitUntil(async () => {
      await page.locator("#usage-filters").getByRole("button", { name: "Apply" }).click();
      return (await row.count()) > 0;
    });
    expect(await row.first().textContent()).toMatch(/gpt-4o.*completed \(200\).*1,000 \/ 400 \/ 50/);
    await page.getByRole("img", { name: "Requests over time" }).waitFor();

    await go("overview");
    const tile = (label: string) => page.locator(`[data-tile="${label}"]`);
    await waitUntil(async () =>
      /[1-9]\d* requests since midnight/.test((await tile("Spend today").textContent()) ?? ""),
    );
    expect(await tile("Requests / s").textContent()).toMatch(/[1-9]\d* in the last minute/);
    expect(await tile("Cache-hit ratio today").textContent()).toMatch(/400 of 1,000 input tokens cached/);
  });

  it("shows the live lease and the waiting request while a slow request holds the user's only slot", async () => {
    stack.fake.reset();
    stack.fake.script({ match: { apiKey: upstreamKey }, events: 40, eventDelayMs: 100, times: 1 });
    stack.fake.script({ match: { apiKey: upstreamKey } });
    await go("live");
    const holder = responses(apiKey, { stream: true });
    await stack.fake.waitForInFlight(1);
    const waiter = responses(apiKey, { stream: true });

    const lease = page.locator("#leases-table tbody tr", { hasText: `upstream-${tag}` });
    const waiting = page.locator("#waiting-table tbody tr", { hasText: `alice-${tag}` });
    await waiting.waitFor();
    await lease.waitFor();
    expect(await waiting.textContent()).toContain("a user slot");
    expect(await lease.textContent()).toContain("gpt-4o");

    const [held, waited] = await Promise.all([holder, waiter]);
    await Promise.all([held.text(), waited.text()]);
    expect([held.status, waited.status]).toEqual([200, 200]);
    await page.getByText("No request is waiting").waitFor();
  });

  it("revokes the key after a confirmation, and the next request is refused", async () => {
    await go("users");
    await page
      .locator("#users-table tr", { hasText: `alice-${tag}` })
      .getByRole("button", { name: "Keys & settings" })
      .click();
    await page.locator("#keys-table").getByRole("button", { name: "Revoke" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("This cannot be undone").waitFor();
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await page.locator("#keys-table").getByText("revoked", { exact: true }).waitFor();

    let status = 0;
    await waitUntil(async () => {
      const answer = await responses(apiKey, {});
      await answer.text();
      status = answer.status;
      return status !== 200;
    });
    expect(status).toBe(401);
  });

  it.runIf(process.env.SWITCHYARD_UI_SCREENSHOTS === "1")("captures every screen for the docs", async () => {
    const dir = join(REPO_ROOT, "docs", "ui");
    mkdirSync(dir, { recursive: true });
    // Something to see on the live screens: a slow request holding the user's slot and one waiting for it.
    const { key, apiKey: meta } = await stack.admin.createApiKey({
      userId,
      groupId: await groupIdOf(stack, `team-${tag}`),
    });
    stack.fake.reset();
    stack.fake.script({ match: { apiKey: upstreamKey }, events: 600, eventDelayMs: 100 });
    const abort = new AbortController();
    const holder = postJson(
      `${stack.dataPlane.url}/v1/responses`,
      key,
      { model: "gpt-4o", input: "hi", stream: true },
      abort.signal,
    );
    await stack.fake.waitForInFlight(1);
    // A waiter gives up after 30 s: each pass starts its own.
    const waiters: Promise<Response>[] = [];
    const wait = () =>
      waiters.push(
        postJson(
          `${stack.dataPlane.url}/v1/responses`,
          key,
          { model: "gpt-4o", input: "hi", stream: true },
          abort.signal,
        ),
      );
    try {
      const screens = ["overview", "accounts", "users", "catalog", "live", "usage", "sessions"];
      for (const [width, height, size] of [
        [1280, 900, "wide"],
        [390, 844, "phone"],
      ] as const) {
        await page.setViewportSize({ width, height });
        for (const theme of ["light", "dark"]) {
          await page.evaluate(`localStorage.setItem("switchyard.theme", "${theme}")`);
          await page.reload();
          wait();
          for (const screen of screens) {
            await go(screen);
            if (screen === "users") {
              await page
                .locator("#users-table tr", { hasText: `alice-${tag}` })
                .getByRole("button")
                .first()
                .click();
              await page.locator("#keys-table").waitFor();
            }
            // What each screen shows once its calls have answered (a hash change does not wait for them).
            await page
              .locator(READY[screen] ?? "main")
              .first()
              .waitFor();
            await page.screenshot({
              path: join(dir, `${screen}-${size}-${theme}.png`),
              fullPage: size === "wide",
            });
          }
        }
      }
    } finally {
      abort.abort();
      await Promise.allSettled([holder, ...waiters]);
      await stack.admin.revokeApiKey({ id: meta?.id ?? "" });
    }
  });
});

/** A sign that a screen has loaded, for the screenshots. */
const READY: Record<string, string> = {
  overview: "[data-tile]",
  accounts: "#accounts-table tbody tr",
  users: "#keys-table tbody tr",
  catalog: "#groups-table tbody tr",
  live: "#waiting-table tbody tr",
  usage: "#usage-table tbody tr",
  sessions: "#sessions-table tbody tr, main .empty",
};

async function groupIdOf(stack: Stack, name: string): Promise<string> {
  const { group } = await stack.admin.getGroup({ name });
  return group?.id ?? "";
}

/** Polls `condition` every 100 ms until it holds, for at most `timeoutMs`. */
async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
