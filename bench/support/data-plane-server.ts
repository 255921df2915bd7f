import { startDataPlane } from "../../src/data-plane/main.js";
import { loadConfigOrExit } from "../../src/shared/config.js";
import { createLogger } from "../../src/shared/logger.js";

/** The real data plane (as `switchyard serve data-plane` runs it), announcing its URL once ready. */
const config = loadConfigOrExit();
const running = await startDataPlane(config, createLogger({ level: config.logLevel, name: "data-plane" }));
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
