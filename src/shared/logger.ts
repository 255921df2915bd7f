import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/**
 * Paths pino censors wherever they appear (one and two levels deep): credentials, tokens, API keys, and the
 * request/response bodies that may hold prompts.
 */
const REDACTED_KEYS = [
  "authorization",
  "credential",
  "apiKey",
  "api_key",
  "x-api-key",
  "api-key",
  "token",
  "adminToken",
  "dataPlaneToken",
  "secretKey",
  "password",
  "key",
  "cookie",
  "body",
];

const REDACT_PATHS = REDACTED_KEYS.flatMap((k) => {
  const p = /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `["${k}"]`;
  const dot = p.startsWith("[") ? p : `.${p}`;
  return [p, `*${dot}`, `*.*${dot}`];
});

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level?: string;
  /** Component name, e.g. "control-plane". */
  name?: string;
  /** Defaults to stdout; tests pass a stream to read the lines. */
  destination?: DestinationStream;
}

/** The process logger: JSON lines, credentials and bodies censored. Built once in a composition root. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      ...(options.name === undefined ? {} : { name: options.name }),
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/** A child logger that stamps every line with the request id. */
export function requestLogger(log: Logger, requestId: string): Logger {
  return log.child({ requestId });
}
