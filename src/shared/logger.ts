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
  "x-goog-api-key",
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
      serializers: { err: serializeError },
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

/**
 * How an error is logged: type, message, code and stack, with its `cause` chain — except database errors, which
 * are reduced to their type and SQLSTATE: their messages quote the statement with its parameters (ids, models,
 * sealed credentials, key hashes). Call sites name the statement in the log line instead.
 */
export function serializeError(err: unknown, depth = 0): Record<string, unknown> {
  if (typeof err !== "object" || err === null) return { type: typeof err, message: String(err) };
  const e = err as Partial<Error> & Record<string, unknown>;
  const type = typeof e.name === "string" ? e.name : (e.constructor?.name ?? "Error");
  if (isDatabaseError(e)) return { type, sqlState: e.sqlState ?? e.code ?? null };
  const out: Record<string, unknown> = { type, message: withoutStatement(e.message) };
  if (typeof e.code === "string" || typeof e.code === "number") out.code = e.code;
  if (typeof e.stack === "string") out.stack = withoutStatement(e.stack);
  if (e.cause !== undefined && depth < 4) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

/** The query builder prefixes a failed query's error with the statement ("<sql> - <message>"): keep the message. */
const STATEMENT_PREFIX =
  /^(\w*Error: )?\s*(select|insert|update|delete|with|alter|create|drop|truncate|begin|commit)\b[^\n]* - /i;

function withoutStatement(text: unknown): unknown {
  return typeof text === "string" ? text.replace(STATEMENT_PREFIX, "$1[statement] - ") : text;
}

/** MikroORM's DriverException (sqlState), node-postgres' DatabaseError (severity + code), errors carrying SQL. */
function isDatabaseError(e: Record<string, unknown>): boolean {
  return (
    typeof e.sqlState === "string" ||
    (typeof e.severity === "string" && typeof e.code === "string") ||
    typeof e.sql === "string" ||
    typeof e.query === "string"
  );
}
