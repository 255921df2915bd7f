import { startControlPlane } from "../control-plane/main.js";
import { startDataPlane } from "../data-plane/main.js";
import type { Config } from "../shared/config.js";
import { createLogger, type Logger } from "../shared/logger.js";
import type { Tracing } from "../shared/telemetry/tracing.js";
import { serveAll } from "./serve-all.js";

/** `switchyard serve control-plane | data-plane | all`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function serve(config: Config, args: readonly string[]): Promise<number> {
  const [plane] = args;
  const log = createLogger({ level: config.logLevel, name: plane ?? "switchyard" });
  switch (plane) {
    case "control-plane": {
      const tracing = await startConfiguredTracing(config, "switchyard-control-plane", log);
      const running = await startControlPlane(config, log, { tracer: tracing?.tracer ?? null });
      await untilSignal();
      log.info("shutting down");
      await running.close();
      await tracing?.shutdown();
      log.flush();
      return 0;
    }
    case "data-plane": {
      const tracing = await startConfiguredTracing(config, "switchyard-data-plane", log);
      const running = await startDataPlane(config, log, "dev", tracing?.tracer ?? null);
      await untilSignal();
      log.info("shutting down");
      await running.shutdown();
      await tracing?.shutdown();
      log.flush();
      return 0;
    }
    case "all": {
      const tracing = await startConfiguredTracing(config, "switchyard", log);
      const code = await serveAll(config, log, untilSignal, tracing?.tracer ?? null);
      await tracing?.shutdown();
      return code;
    }
    default:
      process.stderr.write("switchyard: usage: switchyard serve control-plane | data-plane | all\n");
      return 2;
  }
}

/**
 * The OTel SDK when the OTEL_* variables ask for traces (config.telemetry.tracing), else null; the SDK's modules are
 * only loaded then.
 */
async function startConfiguredTracing(
  config: Config,
  serviceName: string,
  log: Logger,
): Promise<Tracing | null> {
  if (!config.telemetry.tracing) return null;
  const { startTracing } = await import("../shared/telemetry/otel-sdk.js");
  return startTracing({ serviceName, version: "dev", log });
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
