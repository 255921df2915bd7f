import { startControlPlane } from "../control-plane/main.js";
import { startDataPlane } from "../data-plane/main.js";
import type { Config } from "../shared/config.js";
import { createLogger } from "../shared/logger.js";
import { serveAll } from "./serve-all.js";

/** `switchyard serve control-plane | data-plane | all`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function serve(config: Config, args: readonly string[]): Promise<number> {
  const [plane] = args;
  const log = createLogger({ level: config.logLevel, name: plane ?? "switchyard" });
  switch (plane) {
    case "control-plane": {
      const running = await startControlPlane(config, log);
      await untilSignal();
      log.info("shutting down");
      await running.close();
      log.flush();
      return 0;
    }
    case "data-plane": {
      const running = await startDataPlane(config, log);
      await untilSignal();
      log.info("shutting down");
      await running.shutdown();
      log.flush();
      return 0;
    }
    case "all":
      return serveAll(config, log, untilSignal);
    default:
      process.stderr.write("switchyard: usage: switchyard serve control-plane | data-plane | all\n");
      return 2;
  }
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGTERM", done);
      process.off("SIGINT", done);
      resolve();
    };
    process.on("SIGTERM", done);
    process.on("SIGINT", done);
  });
}
