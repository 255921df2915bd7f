import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { type ControlPlaneProcess, startControlPlaneProcess } from "../support/cli.js";
import { connectClient } from "../support/grpc-clients.js";
import { RawRpcClient } from "../support/raw-rpc-client.js";
import { isServerFailure, type RpcVerdict, readVerdict } from "../support/rpc-verdict.js";
import { type FuzzCase, fuzzCases } from "./control-plane-fuzz-cases.js";
import { recordFigures } from "./support/figures.js";

/**
 * Malformed calls against a real control-plane process (docs/reliability.md): random and truncated bodies, wrong
 * types, bad frames and compression, sizes around the read limits, bad headers, methods and paths, with every kind
 * of token, over h2c and HTTP/1.1. Each must be refused as the caller's fault (never HTTP 5xx, gRPC UNKNOWN or
 * INTERNAL), and the process must stay up, healthy and quiet. SWITCHYARD_FAULTS=full runs more calls;
 * SWITCHYARD_FUZZ_SEED replays another sequence.
 */

const FULL = process.env.SWITCHYARD_FAULTS === "full";
const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 7_2024);
const CALLS = FULL ? 20_000 : 2_000;
/** Calls in flight at once: several misbehaving clients, few enough for a 2-core machine. */
const IN_FLIGHT = 6;

let cp: ControlPlaneProcess;
beforeAll(async () => {
  cp = await startControlPlaneProcess("cp_fuzz");
});
afterAll(async () => {
  await cp?.stop();
});

interface Tally {
  calls: number;
  byProtocol: Map<string, number>;
  byOutcome: Map<string, number>;
  serverFailures: { case: string; verdict: unknown }[];
  noAnswer: number;
  /** No answer to a call small enough that the server had no reason to cut it short. */
  unexplained: string[];
  timeouts: string[];
}

/**
 * Below this a body fits the socket and stream buffers, so the client has sent it all before the server answers:
 * an early answer cannot close the connection under its feet (EPIPE), nor a flood guard end its session.
 */
const SMALL_BODY_BYTES = 64 * 1024;

async function runAll(cases: Iterator<FuzzCase>, url: string): Promise<Tally> {
  const tally: Tally = {
    calls: 0,
    byProtocol: new Map(),
    byOutcome: new Map(),
    serverFailures: [],
    noAnswer: 0,
    unexplained: [],
    timeouts: [],
  };
  let sent = 0;
  const worker = async (client: RawRpcClient): Promise<void> => {
    for (let next = cases.next(); next.done !== true; next = cases.next()) {
      const c = next.value;
      const i = sent++;
      const answer = await client.send(c.call);
      const verdict = readVerdict(answer);
      tally.calls++;
      tally.byProtocol.set(c.protocol, (tally.byProtocol.get(c.protocol) ?? 0) + 1);
      const label = `#${i} ${c.protocol} ${c.call.method} ${c.call.path.slice(0, 80)} token=${c.token} ${c.shape}`;
      const outcome = outcomeOf(verdict);
      tally.byOutcome.set(outcome, (tally.byOutcome.get(outcome) ?? 0) + 1);
      if (isServerFailure(verdict)) tally.serverFailures.push({ case: label, verdict });
      if (verdict.framing === "none") tally.noAnswer++;
      if (verdict.framing === "none" && !explainsNoAnswer(c))
        tally.unexplained.push(`${label}: ${answer.error}`);
      if (answer.error === "timeout") tally.timeouts.push(label);
    }
  };
  const clients = Array.from({ length: IN_FLIGHT }, () => new RawRpcClient(url));
  try {
    await Promise.all(clients.map(worker));
  } finally {
    for (const client of clients) client.close();
  }
  return tally;
}

/**
 * Why a call may rightly get no HTTP answer: a body too large to have been sent before an early answer closed the
 * connection (or, past the unread-body bound, the HTTP/2 session); junk after the HTTP/2 preface; headers past
 * node's HTTP/2 limits (the stream is refused).
 */
function explainsNoAnswer(c: FuzzCase): boolean {
  if ((c.call.raw ?? c.call.body).byteLength > SMALL_BODY_BYTES) return true;
  if (c.shape === "h2-preface-then-junk") return true;
  return c.call.transport === "h2c" && c.shape.endsWith("+huge-headers");
}

/** A short name for what a call got: "grpc 16", "connect unauthenticated", "http 415", "no answer". */
function outcomeOf(v: RpcVerdict): string {
  if (v.grpcStatus !== undefined) return `grpc ${v.grpcStatus}`;
  if (v.connectCode !== undefined) return `connect ${v.connectCode}`;
  return v.framing === "none" ? "no answer" : `http ${v.httpStatus}`;
}

/** Log lines that mean an unexpected failure rather than a refused call. */
function unexpectedLogLines(output: string): string[] {
  return output
    .split("\n")
    .filter((line) =>
      /rpc failed unexpectedly|handler for rpc .* failed|"stack"|\n\s+at .+:\d+:\d+/.test(line),
    );
}

describe("the control plane under malformed calls", () => {
  it("refuses every one as the caller's fault, and stays up, healthy and quiet", async () => {
    const cases = fuzzCases(SEED, CALLS, { admin: cp.adminToken, dataPlane: cp.dataPlaneToken });
    const started = performance.now();
    const tally = await runAll(cases, cp.url);
    const seconds = (performance.now() - started) / 1000;

    const healthStarted = performance.now();
    const health = connectClient(Health, cp.url, { protocol: "grpc" });
    let status: HealthCheckResponse_ServingStatus | undefined;
    try {
      status = (await health.client.check({ service: "" })).status;
    } catch {
      status = undefined;
    } finally {
      health.close();
    }
    const crashed = cp.running() ? 0 : 1;
    if (crashed) console.log(`the control plane exited; its last output:\n${cp.output().slice(-3000)}`);

    console.log(
      [
        `control-plane fuzz: seed ${SEED}, ${tally.calls} malformed calls in ${seconds.toFixed(1)} s (${FULL ? "full" : "reduced"} matrix)`,
        ...[...tally.byProtocol].sort().map(([protocol, n]) => `  ${protocol}: ${n}`),
        `  HTTP 5xx / gRPC UNKNOWN or INTERNAL / Connect unknown or internal: ${tally.serverFailures.length}`,
        `  outcomes: ${[...tally.byOutcome]
          .sort((a, b) => b[1] - a[1])
          .map(([o, n]) => `${o} ×${n}`)
          .join(", ")}`,
        `  no HTTP answer (a large body still being sent when the connection closed, junk after the HTTP/2 preface, HTTP/2 headers past node's limits): ${tally.noAnswer}`,
        `  timeouts: ${tally.timeouts.length}`,
        `  crashes: ${crashed}`,
        `  health afterwards: ${status === undefined ? "no answer" : HealthCheckResponse_ServingStatus[status]} (in ${Math.round(performance.now() - healthStarted)} ms)`,
      ].join("\n"),
    );
    recordFigures("control-plane fuzz", {
      "malformed calls (seed)": `${tally.calls} (${SEED})`,
      "duration (s)": Math.round(seconds),
      "calls by protocol and transport": [...tally.byProtocol]
        .sort()
        .map(([p, n]) => `${p} ${n}`)
        .join(", "),
      "HTTP 5xx, gRPC UNKNOWN/INTERNAL, Connect unknown/internal": tally.serverFailures.length,
      "no HTTP answer (body still being sent at close, junk after the HTTP/2 preface, headers past limits)":
        tally.noAnswer,
      timeouts: tally.timeouts.length,
      crashes: crashed,
      "health afterwards": status === undefined ? "no answer" : HealthCheckResponse_ServingStatus[status],
    });
    expect(tally.calls).toBe(CALLS);
    expect(tally.serverFailures.slice(0, 20)).toEqual([]);
    expect(tally.timeouts).toEqual([]);
    expect(tally.unexplained.slice(0, 10)).toEqual([]);
    expect(crashed).toBe(0);
    expect(status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(unexpectedLogLines(cp.output()).slice(0, 5)).toEqual([]);
  });
});
