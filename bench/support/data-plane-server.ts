import { pino } from "pino";
import { startDataPlane } from "../../src/data-plane/main.js";
import { loadConfigOrExit } from "../../src/shared/config.js";
import { createLogger } from "../../src/shared/logger.js";

/**
 * The real data plane (as `switchyard serve data-plane` runs it), announcing its URL once ready. Its log lines (the
 * access log among them) go to BENCH_DATA_PLANE_LOG (default /dev/null): written as in production, kept off the
 * stdout the benchmark reads.
 */
const config = loadConfigOrExit();
const destination = pino.destination({ dest: process.env.BENCH_DATA_PLANE_LOG ?? "/dev/null", sync: false });
const running = await startDataPlane(
  config,
  createLogger({ level: config.logLevel, name: "data-plane", destination }),
);
for (let i = 0; i < 200; i++) {
  const ready = await fetch(`${running.url}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) break;
  await new Promise((r) => setTimeout(r, 50));
}
process.stdout.write(`${JSON.stringify({ url: running.url })}\n`);
process.on("SIGTERM", () => {
  void running.shutdown().then(() => {
    process.exitCode = 0;
    setTimeout(() => process.exit(0), 2_000).unref();
  });
});
