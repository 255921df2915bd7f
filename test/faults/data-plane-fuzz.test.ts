import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  abandonedValid,
  abortedUpload,
  contentTypeEncoding,
  type FuzzContext,
  halfClosedValid,
  invalidUtf8,
  nestedJson,
  notJson,
  wrongJsonTypes,
} from "../support/fuzz/api-cases.js";
import { keys, queryKey, validKeyInvalidBody } from "../support/fuzz/auth-cases.js";
import {
  badHeaders,
  badMethod,
  badPath,
  garbageRequestLine,
  httpVersion,
  hugeHeaders,
  lengthAndEncoding,
  pipelined,
  slowClient,
  truncatedChunked,
} from "../support/fuzz/http-cases.js";
import { type FuzzCase, Rng } from "../support/fuzz/requests.js";
import { type FuzzOutcome, isOpenAIError, runAll } from "../support/fuzz/runner.js";
import { seedStackTenant, startStack } from "../support/stack.js";
import { recordFigures } from "./support/figures.js";

/**
 * Malformed traffic against a real stack (docs/reliability.md): every request is refused, or abandoned by its
 * client, or (a few) valid and half-closed. The data plane must stay up, answer no 5xx, answer every refusal in
 * the OpenAI error shape, never hang, and leave no lease behind.
 */

const FULL = process.env.SWITCHYARD_FAULTS === "full";
/** Requests sent; SWITCHYARD_FUZZ_REQUESTS overrides (a quick local look, or a longer hunt). */
const TOTAL = Number(process.env.SWITCHYARD_FUZZ_REQUESTS ?? (FULL ? 100_000 : 10_000));
const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 0x5eed);
const CONCURRENCY = 16;
const BODY_LIMIT_BYTES = 65_536;
/** Client timeouts of the data plane under test: short, so the slow clients are answered quickly. */
const CLIENT_TIMEOUT_MS = 1_000;
/** How long a fuzz client waits for an answer or the close: far beyond both client timeouts. */
const PATIENCE_MS = 15_000;
const MODEL = "gpt-4o";

type Generator = (ctx: FuzzContext) => FuzzCase;

/** Relative weights of the categories. */
const CATEGORIES: Array<[Generator, number]> = [
  [garbageRequestLine, 8],
  [badMethod, 6],
  [badPath, 7],
  [badHeaders, 8],
  [hugeHeaders, 3],
  [httpVersion, 3],
  [lengthAndEncoding, 9],
  [truncatedChunked, 7],
  [pipelined, 3],
  [notJson, 7],
  [wrongJsonTypes, 7],
  [nestedJson, 2],
  [invalidUtf8, 4],
  [contentTypeEncoding, 5],
  [keys, 8],
  [queryKey, 3],
  [(ctx) => validKeyInvalidBody(ctx, BODY_LIMIT_BYTES), 5],
  [abortedUpload, 4],
  [abandonedValid, 1.5],
  [halfClosedValid, 1],
  [slowClient, 0.4],
];

/** The seeded list of cases: the same seed gives the same bytes on every run. */
function generate(total: number, seed: number, key: string): FuzzCase[] {
  const ctx: FuzzContext = { rng: new Rng(seed), key, model: MODEL };
  const sum = CATEGORIES.reduce((s, [, w]) => s + w, 0);
  return Array.from({ length: total }, () => {
    let roll = ctx.rng.next() * sum;
    for (const [generator, weight] of CATEGORIES) {
      roll -= weight;
      if (roll < 0) return generator(ctx);
    }
    return garbageRequestLine(ctx);
  });
}

/** What went wrong with one outcome, or null; also counts its statuses. */
function verdict(o: FuzzOutcome): string | null {
  if (o.connectError) return `connect failed: ${o.connectError}`;
  if (o.hung) return "no answer and no close";
  for (const res of o.responses) {
    if (res.status >= 500) return `status ${res.status}: ${res.body.toString("utf8").slice(0, 200)}`;
    if (o.case.expect === "error" && res.status < 400) return `unexpected ${res.status}`;
    // Stricter than "a body, if any, is the OpenAI shape": only answers to HEAD may leave the body out.
    if (res.status >= 400 && !o.case.head && !isOpenAIError(res.body))
      return `${res.status} not in the OpenAI error shape: "${res.body.toString("latin1").slice(0, 200)}"`;
  }
  if (o.case.expect === "success" && o.responses[0]?.status !== 200)
    return "a valid half-closed request failed";
  return null;
}

interface Figures {
  requests: number;
  byCategory: Record<string, number>;
  statuses: Record<string, number>;
  statusesByCategory: Record<string, Record<string, number>>;
  serverErrors: number;
  failures: Array<{ category: string; problem: string; bytes: string }>;
}

function summarize(outcomes: FuzzOutcome[]): Figures {
  const figures: Figures = {
    requests: outcomes.length,
    byCategory: {},
    statuses: {},
    statusesByCategory: {},
    serverErrors: 0,
    failures: [],
  };
  const bump = (map: Record<string, number>, key: string) => {
    map[key] = (map[key] ?? 0) + 1;
  };
  for (const o of outcomes) {
    const category = o.case.category;
    bump(figures.byCategory, category);
    figures.statusesByCategory[category] ??= {};
    const seen =
      o.responses.length === 0 ? [o.case.expect === "none" ? "not read" : "closed, no answer"] : [];
    for (const res of o.responses) seen.push(String(res.status));
    for (const s of seen) {
      bump(figures.statuses, s);
      bump(figures.statusesByCategory[category] ?? {}, s);
    }
    figures.serverErrors += o.responses.filter((r) => r.status >= 500).length;
    const problem = verdict(o);
    if (problem)
      figures.failures.push({ category, problem, bytes: o.case.bytes.subarray(0, 300).toString("latin1") });
  }
  return figures;
}

function printFigures(figures: Figures, seconds: number): void {
  const lines = [
    `data-plane fuzz: ${figures.requests} requests in ${seconds.toFixed(1)} s (seed ${SEED}, ${FULL ? "full" : "reduced"})`,
    `5xx answers: ${figures.serverErrors}; failed checks: ${figures.failures.length}`,
    `statuses: ${JSON.stringify(figures.statuses)}`,
    "by category (requests: statuses):",
    ...Object.entries(figures.byCategory)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, n]) => `  ${c}: ${n}: ${JSON.stringify(figures.statusesByCategory[c])}`),
  ];
  console.log(lines.join("\n"));
}

/** The data plane's error-level log lines, counted by message. */
function errorLogCounts(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of output.split("\n")) {
    if (!line.includes('"level":"error"')) continue;
    const message = /"msg":"([^"]*)"/.exec(line)?.[1] ?? "?";
    counts[message] = (counts[message] ?? 0) + 1;
  }
  return counts;
}

/** A few exchanges that were closed without any answer, to show what the parser made of them. */
function printUnanswered(outcomes: FuzzOutcome[]): void {
  const unanswered = outcomes.filter((o) => o.case.expect !== "none" && o.responses.length === 0);
  for (const o of unanswered.slice(0, 5)) {
    console.log(
      `closed without an answer (${o.case.category}): ${JSON.stringify(o.case.bytes.toString("latin1").slice(0, 300))}`,
    );
  }
}

describe("data-plane fuzz", () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let tenant: Awaited<ReturnType<typeof seedStackTenant>>;

  beforeAll(async () => {
    stack = await startStack({
      label: "dp_fuzz",
      dataPlaneEnv: {
        SWITCHYARD_REQUEST_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
        SWITCHYARD_CLIENT_HEADERS_TIMEOUT_MS: String(CLIENT_TIMEOUT_MS),
        SWITCHYARD_CLIENT_BODY_TIMEOUT_MS: String(CLIENT_TIMEOUT_MS),
      },
    });
    // Only MODEL is served, so other model names are refused (404) instead of reaching the upstream.
    tenant = await seedStackTenant(stack, {
      userConcurrency: 50,
      accounts: [{ concurrency: 50, modelMapping: { [MODEL]: "" } }],
    });
  });
  afterAll(() => stack?.stop());

  it(`answers ${TOTAL} malformed requests without a crash, a 5xx, a hang, a foreign error shape or a leaked lease`, async () => {
    const cases = generate(TOTAL, SEED, tenant.key);
    const started = performance.now();
    const outcomes = await runAll(stack.dataPlane.url, cases, CONCURRENCY, PATIENCE_MS);
    const figures = summarize(outcomes);
    const seconds = (performance.now() - started) / 1000;
    printFigures(figures, seconds);
    console.log(`requests that reached the upstream: ${stack.fake.total}`);
    console.log(`data-plane error log lines: ${JSON.stringify(errorLogCounts(stack.dataPlane.output()))}`);
    printUnanswered(outcomes);

    const crashes = [stack.dataPlane, stack.controlPlane].filter((p) => p.child.exitCode !== null).length;
    const health = await fetch(`${stack.dataPlane.url}/healthz`);
    const ready = await fetch(`${stack.dataPlane.url}/readyz`);
    recordFigures("data-plane fuzz", {
      "malformed requests (seed)": `${figures.requests} (${SEED})`,
      "duration (s)": Math.round(seconds),
      "statuses (status: count)": JSON.stringify(figures.statuses),
      "5xx answers": figures.serverErrors,
      "answers not in the OpenAI error shape, and other failed checks": figures.failures.length,
      crashes,
      "health and readiness afterwards": `${health.status}, ${ready.status}`,
    });
    expect(crashes).toBe(0);
    expect([health.status, ready.status]).toEqual([200, 200]);
    expect(figures.serverErrors).toBe(0);
    expect(figures.failures.slice(0, 20)).toEqual([]);
    expect(stack.dataPlane.output()).not.toContain("unhandled request error");
    await expectNoLeases(stack, tenant.userId);
  });
});

/** Polls the control plane until the user holds no lease (abandoned requests settle after their client left). */
async function expectNoLeases(stack: Awaited<ReturnType<typeof startStack>>, userId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let leases = (await stack.admin.listLeases({ userId })).leases;
  while (leases.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    leases = (await stack.admin.listLeases({ userId })).leases;
  }
  expect(leases.map((l) => l.leaseId)).toEqual([]);
}
