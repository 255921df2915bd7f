import { startControlPlane } from "../../src/control-plane/main.js";
import { loadConfigOrExit } from "../../src/shared/config.js";
import { createLogger } from "../../src/shared/logger.js";

/** The real control plane (as `switchyard serve control-plane` runs it), announcing its URL on stdout. */
const config = loadConfigOrExit();
const running = await startControlPlane(
  config,
  createLogger({ level: config.logLevel, name: "control-plane" }),
);
process.stdout.write(`${JSON.stringify({ url: running.url })}\n`);
process.on("SIGTERM", () => {
  // A normal exit (not process.exit in a signal handler) lets --cpu-prof write its profile.
  void running.close().then(() => {
    process.exitCode = 0;
    setTimeout(() => process.exit(0), 2_000).unref();
  });
});
