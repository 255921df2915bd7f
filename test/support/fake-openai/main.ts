import { parseArgs } from "node:util";
import { startFakeOpenAI } from "./index.js";

/**
 * Runs the fake upstream as its own process:
 * `node --import tsx test/support/fake-openai/main.ts --port N [--host H] [--no-record]`.
 * Prints `{"url":"http://host:port"}` once listening; SIGTERM or SIGINT close it and exit 0.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
      "no-record": { type: "boolean", default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`--port must be an integer in 0..65535, got ${values.port}\n`);
    process.exit(2);
  }
  const fake = await startFakeOpenAI({ host: values.host, port, recordRequests: !values["no-record"] });
  const stop = () => {
    fake.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`fake-openai: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
