import { load } from "./support/load.js";
import { startServerProcess } from "./support/processes.js";

/**
 * How fast the fake OpenAI upstream answers, against a bare node:http server measured in the same run. Data-plane
 * benchmarks use the fake as their upstream, so it must not be what limits them.
 */
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const CONNECTIONS = 50;

const bare = await startServerProcess("bench/support/bare-http-server.ts");
const fake = await startServerProcess("test/support/fake-openai/main.ts", ["--port", "0", "--no-record"]);
try {
  const nonStream = JSON.stringify({ model: "gpt-4o", input: "hello" });
  const stream = JSON.stringify({ model: "gpt-4o", input: "hello", stream: true });
  const baseline = await load({
    url: `${bare.url}/v1/responses`,
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    body: nonStream,
  });
  const plain = await load({
    url: `${fake.url}/v1/responses`,
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    body: nonStream,
  });
  const sse = await load({
    url: `${fake.url}/v1/responses`,
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    body: stream,
  });
  const row = (name: string, r: typeof baseline) =>
    `| ${name} | ${Math.round(r.requestsPerSecond)} | ${(r.requestsPerSecond / baseline.requestsPerSecond).toFixed(2)}× | ${r.p50Ms} | ${r.p99Ms} | ${r.errors + r.non2xx} |`;
  process.stdout.write(
    [
      `### Fake upstream capacity (c=${CONNECTIONS}, ${DURATION_S} s each)`,
      "",
      "| target | req/s | vs bare node:http | p50 ms | p99 ms | errors |",
      "|---|---|---|---|---|---|",
      row("bare node:http, small JSON (baseline)", baseline),
      row("fake upstream, non-stream /v1/responses", plain),
      row("fake upstream, stream /v1/responses (~10 SSE events)", sse),
      "",
    ].join("\n"),
  );
} finally {
  await Promise.all([bare.stop(), fake.stop()]);
}
