import { fileURLToPath } from "node:url";
import { z } from "zod";
import { parseControlPlaneTarget } from "./control-plane-target.js";
import { ipRangeProblem } from "./ip-ranges.js";
import { tracingRequested } from "./telemetry/tracing.js";

const MiB = 1024 * 1024;

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: `expected an integer from ${min} to ${max}` })
    .int({ error: `expected an integer from ${min} to ${max}` })
    .min(min, { error: `expected an integer from ${min} to ${max}` })
    .max(max, { error: `expected an integer from ${min} to ${max}` });

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { error: "expected host:port, e.g. 127.0.0.1:8080" })
  .refine((v) => Number(v.slice(v.lastIndexOf(":") + 1)) <= 65535, { error: "port must be at most 65535" });

const controlPlaneTarget = z.string().superRefine((value, ctx) => {
  try {
    parseControlPlaneTarget(value);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : "invalid value" });
  }
});

const filePath = z.string().default("");

const optionalHostPort = z.union([z.literal(""), z.string()]).default("");

const optionalUrl = (protocols: RegExp, hint: string) =>
  z.union([z.literal(""), z.url({ protocol: protocols, error: `expected ${hint}` })]).default("");

/** Comma-separated IPs and CIDR ranges; empty for none. */
const ipRangeList = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  )
  .superRefine((entries, ctx) => {
    for (const entry of entries) {
      const problem = ipRangeProblem(entry);
      if (problem)
        ctx.addIssue({ code: "custom", message: `${problem}; expected IPs or CIDRs, comma-separated` });
    }
  });

const bool = z
  .enum(["true", "false", "1", "0"], { error: "expected true or false" })
  .transform((v) => v === "true" || v === "1");

const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: "expected an IANA time zone, e.g. UTC or Europe/Berlin" },
);

/** 32 bytes as 64 hex chars or 43/44 base64(url) chars. */
const secretKey = z.union([
  z.literal(""),
  z.string().refine((v) => decodeSecretKey(v) !== null, {
    error: "expected 32 bytes as 64 hex characters or base64",
  }),
]);

/**
 * Every environment variable Switchyard reads, with its default. README.md's table is this list; keep them equal.
 * Names are `SWITCHYARD_` + the key.
 */
const schema = z
  .object({
    SWITCHYARD_LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
    SWITCHYARD_DATA_DIR: z.string().min(1).default(".switchyard"),
    SWITCHYARD_CONTROL_PLANE_LISTEN: hostPort.default("127.0.0.1:50051"),
    SWITCHYARD_DATA_PLANE_LISTEN: hostPort.default("127.0.0.1:8080"),
    SWITCHYARD_DATA_PLANE_METRICS_LISTEN: optionalHostPort.refine(
      (v) => v === "" || hostPort.safeParse(v).success,
      {
        error: "expected host:port, e.g. 0.0.0.0:9090, or empty",
      },
    ),
    SWITCHYARD_CONTROL_PLANE_URL: controlPlaneTarget.default("http://127.0.0.1:50051"),
    SWITCHYARD_CONTROL_PLANE_RESOLVE_INTERVAL_MS: integer(1_000, 3_600_000).default(30_000),
    SWITCHYARD_CONTROL_PLANE_TLS: bool.default(false),
    SWITCHYARD_CONTROL_PLANE_CA_FILE: filePath,
    SWITCHYARD_CONTROL_PLANE_SERVERNAME: z.string().default(""),
    SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE: filePath,
    SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE: filePath,
    SWITCHYARD_TLS_CERT_FILE: filePath,
    SWITCHYARD_TLS_KEY_FILE: filePath,
    SWITCHYARD_TLS_CLIENT_CA_FILE: filePath,
    SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN: optionalHostPort.refine(
      (v) => v === "" || hostPort.safeParse(v).success,
      {
        error: "expected host:port, e.g. 0.0.0.0:50052, or empty",
      },
    ),
    SWITCHYARD_ADMIN_TOKEN: z.string().default(""),
    SWITCHYARD_DATA_PLANE_TOKEN: z.string().default(""),
    SWITCHYARD_ADMIN_TOKEN_PREVIOUS: z.string().default(""),
    SWITCHYARD_DATA_PLANE_TOKEN_PREVIOUS: z.string().default(""),
    SWITCHYARD_DATABASE_URL: optionalUrl(
      /^postgres(ql)?$/,
      "a postgres:// URL, or empty for embedded storage",
    ),
    SWITCHYARD_MIGRATE_ON_START: bool.default(true),
    SWITCHYARD_REDIS_URL: optionalUrl(/^rediss?$/, "a redis:// URL, or empty for in-memory leases"),
    SWITCHYARD_REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,64}$/, { error: "expected 1–64 characters of A-Z a-z 0-9 : _ . -" })
      .default("sy:"),
    SWITCHYARD_SECRET_KEY: secretKey.default(""),
    SWITCHYARD_LEASE_TTL_MS: integer(3_000, 600_000).default(30_000),
    SWITCHYARD_CONTROL_PLANE_WAIT_MS: integer(0, 60_000).default(1_500),
    SWITCHYARD_ADMIT_TIMEOUT_MS: integer(1_000, 3_600_000).default(180_000),
    SWITCHYARD_UPSTREAM_CONNECT_TIMEOUT_MS: integer(100, 120_000).default(10_000),
    SWITCHYARD_UPSTREAM_HEADERS_TIMEOUT_MS: integer(1_000, 3_600_000).default(600_000),
    SWITCHYARD_REQUEST_BODY_LIMIT_BYTES: integer(1_024, 1_024 * MiB).default(32 * MiB),
    SWITCHYARD_CLIENT_HEADERS_TIMEOUT_MS: integer(1_000, 600_000).default(30_000),
    SWITCHYARD_CLIENT_BODY_TIMEOUT_MS: integer(1_000, 600_000).default(30_000),
    SWITCHYARD_SHUTDOWN_DELAY_MS: integer(0, 120_000).default(0),
    SWITCHYARD_SHUTDOWN_GRACE_MS: integer(0, 3_600_000).default(30_000),
    SWITCHYARD_BILLING_TIMEZONE: timezone.default("UTC"),
    SWITCHYARD_CHATGPT_TOKEN_URL: z
      .url({ protocol: /^https?$/, error: "expected an http(s) URL" })
      .default("https://auth.openai.com/oauth/token"),
    SWITCHYARD_CHATGPT_CODEX_BASE_URL: z
      .url({ protocol: /^https?$/, error: "expected an http(s) URL" })
      .default("https://chatgpt.com/backend-api/codex"),
    SWITCHYARD_TRUSTED_PROXIES: ipRangeList,
    SWITCHYARD_CLIENT_IP_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, { error: "expected a header name, e.g. x-forwarded-for" })
      .default("x-forwarded-for")
      .transform((v) => v.toLowerCase()),
    SWITCHYARD_UI_DIR: z.string().trim().default(""),
    SWITCHYARD_ACCESS_LOG: z
      .enum(["info", "debug", "off"], { error: "expected info, debug or off" })
      .default("info"),
    SWITCHYARD_ACCESS_LOG_SAMPLE_RATE: z.coerce
      .number({ error: "expected a number from 0 to 1" })
      .min(0, { error: "expected a number from 0 to 1" })
      .max(1, { error: "expected a number from 0 to 1" })
      .default(1),
  })
  .superRefine((e, ctx) => {
    // A certificate needs its key (and the reverse): a half-configured TLS would fail at the first connection.
    const pairs = [
      ["SWITCHYARD_TLS_CERT_FILE", "SWITCHYARD_TLS_KEY_FILE"],
      ["SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE", "SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE"],
    ] as const;
    for (const [cert, key] of pairs) {
      if ((e[cert] === "") !== (e[key] === "")) {
        const missing = e[cert] === "" ? cert : key;
        ctx.addIssue({
          code: "custom",
          path: [missing],
          message: `required with ${missing === cert ? key : cert}`,
        });
      }
    }
    if (e.SWITCHYARD_TLS_CLIENT_CA_FILE !== "" && e.SWITCHYARD_TLS_CERT_FILE === "")
      ctx.addIssue({
        code: "custom",
        path: ["SWITCHYARD_TLS_CERT_FILE"],
        message: "required with SWITCHYARD_TLS_CLIENT_CA_FILE",
      });
  });

/** Raw parsed environment. */
type Env = z.output<typeof schema>;

/** Switchyard's configuration, parsed once at start. */
export interface Config {
  logLevel: Env["SWITCHYARD_LOG_LEVEL"];
  telemetry: {
    /** One line per finished request at this level ("off": none); failures always, the rest sampled. */
    accessLog: { level: Env["SWITCHYARD_ACCESS_LOG"]; sampleRate: number };
    /** OpenTelemetry traces, asked for by the standard OTEL_* variables (tracingRequested); off by default. */
    tracing: boolean;
  };
  /** Where embedded storage and generated secrets live. */
  dataDir: string;
  controlPlane: {
    listen: { host: string; port: number };
    /** Where data planes and the CLI reach the control plane: a URL, a list, or a dns: name (parse with
     * parseControlPlaneTarget). */
    url: string;
    /** How often a dns: target is resolved again (also at once after a failure). */
    resolveIntervalMs: number;
    /** How clients (data planes, the CLI) verify and present TLS to the control plane. */
    clientTls: ControlPlaneClientTls;
    /** TLS of the control plane's port; null: plaintext (h2c and HTTP/1.1). */
    serverTls: ControlPlaneServerTls | null;
    /** A plaintext port serving only grpc.health.v1 and /metrics (for kubelet probes when the main port is TLS). */
    healthListen: { host: string; port: number } | null;
    /** Empty in embedded mode until generated and stored in dataDir. */
    adminToken: string;
    dataPlaneToken: string;
    /** Previous values the control plane still accepts while a token is rotated; empty: none. */
    adminTokenPrevious: string;
    dataPlaneTokenPrevious: string;
    /** Empty: embedded PostgreSQL in dataDir. */
    databaseUrl: string;
    migrateOnStart: boolean;
    /** Empty: in-memory leases (single replica only). */
    redisUrl: string;
    /** Prepended to every Redis key and pub/sub channel, so deployments (or test runs) can share one Redis. */
    redisPrefix: string;
    /** 32-byte key for credential encryption; null: generated and stored in dataDir (embedded mode only). */
    secretKey: Buffer | null;
    leaseTtlMs: number;
    billingTimezone: string;
    /** Where ChatGPT accounts' refresh tokens are exchanged (OpenAI's OAuth token endpoint). */
    chatgptTokenUrl: string;
    /** Base URL of new ChatGPT accounts (the Codex backend); an account's own base URL overrides it. */
    chatgptCodexBaseUrl: string;
    /** The built admin web UI served under /ui/; null: not served. */
    uiDir: string | null;
  };
  dataPlane: {
    listen: { host: string; port: number };
    /** Where GET /metrics is served instead of on `listen`; null: on `listen`. */
    metricsListen: { host: string; port: number } | null;
    /** With no lease channel connected, how long a request waits for one before it is answered 503. */
    controlPlaneWaitMs: number;
    /** Longest wait for an admit or a reroute answer (user and account queues included). */
    admitTimeoutMs: number;
    /** Longest time a client may take to send a request's headers. */
    clientHeadersTimeoutMs: number;
    /** Longest silence while a request body is arriving. */
    clientBodyTimeoutMs: number;
    upstreamConnectTimeoutMs: number;
    upstreamHeadersTimeoutMs: number;
    requestBodyLimitBytes: number;
    shutdownDelayMs: number;
    shutdownGraceMs: number;
    /** Peers (IPs, CIDRs) whose client-address header is believed; empty: the socket's peer is the client. */
    trustedProxies: string[];
    /** The header those proxies put the client's address in (lower-case). */
    clientIpHeader: string;
  };
}

/** Client-side TLS towards the control plane. */
export interface ControlPlaneClientTls {
  /** TLS for dns: targets (https:// URLs always use it). */
  enabled: boolean;
  /** PEM CA bundle the server certificate is verified against; empty: the system's CAs. */
  caFile: string;
  /** Name the server certificate must carry (a Service DNS name, not pod IPs); empty: the target's host or name. */
  servername: string;
  /** Client certificate and key (mTLS); empty: none. */
  certFile: string;
  keyFile: string;
}

/** Server-side TLS of the control plane's port. */
export interface ControlPlaneServerTls {
  certFile: string;
  keyFile: string;
  /** PEM CA bundle client certificates must chain to; empty: no client certificates asked for. */
  clientCaFile: string;
}

/** A configuration value was rejected; `message` is one line naming the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Variables whose values are never echoed in errors (secrets, or URLs that may embed passwords). */
const SECRET_VARIABLES = new Set([
  "SWITCHYARD_ADMIN_TOKEN",
  "SWITCHYARD_DATA_PLANE_TOKEN",
  "SWITCHYARD_ADMIN_TOKEN_PREVIOUS",
  "SWITCHYARD_DATA_PLANE_TOKEN_PREVIOUS",
  "SWITCHYARD_SECRET_KEY",
  "SWITCHYARD_DATABASE_URL",
  "SWITCHYARD_REDIS_URL",
]);

/** Names of every variable Switchyard reads, for docs and tests. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

/**
 * Parses configuration from an environment. Empty strings count as unset. Throws {@link ConfigError} with one line
 * naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== "") input[name] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    const shown =
      input[name] === undefined || SECRET_VARIABLES.has(name)
        ? ""
        : ` (got ${JSON.stringify(truncate(input[name]))})`;
    throw new ConfigError(`invalid ${name}: ${issue?.message ?? "invalid value"}${shown}`);
  }
  const e = parsed.data;
  return {
    logLevel: e.SWITCHYARD_LOG_LEVEL,
    telemetry: {
      accessLog: { level: e.SWITCHYARD_ACCESS_LOG, sampleRate: e.SWITCHYARD_ACCESS_LOG_SAMPLE_RATE },
      tracing: tracingRequested(env),
    },
    dataDir: e.SWITCHYARD_DATA_DIR,
    controlPlane: {
      listen: splitHostPort(e.SWITCHYARD_CONTROL_PLANE_LISTEN),
      url: e.SWITCHYARD_CONTROL_PLANE_URL.trim().replace(/\/+$/, ""),
      resolveIntervalMs: e.SWITCHYARD_CONTROL_PLANE_RESOLVE_INTERVAL_MS,
      clientTls: {
        enabled: e.SWITCHYARD_CONTROL_PLANE_TLS,
        caFile: e.SWITCHYARD_CONTROL_PLANE_CA_FILE,
        servername: e.SWITCHYARD_CONTROL_PLANE_SERVERNAME,
        certFile: e.SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE,
        keyFile: e.SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE,
      },
      serverTls:
        e.SWITCHYARD_TLS_CERT_FILE === ""
          ? null
          : {
              certFile: e.SWITCHYARD_TLS_CERT_FILE,
              keyFile: e.SWITCHYARD_TLS_KEY_FILE,
              clientCaFile: e.SWITCHYARD_TLS_CLIENT_CA_FILE,
            },
      healthListen:
        e.SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN === ""
          ? null
          : splitHostPort(e.SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN),
      adminToken: e.SWITCHYARD_ADMIN_TOKEN,
      dataPlaneToken: e.SWITCHYARD_DATA_PLANE_TOKEN,
      adminTokenPrevious: e.SWITCHYARD_ADMIN_TOKEN_PREVIOUS,
      dataPlaneTokenPrevious: e.SWITCHYARD_DATA_PLANE_TOKEN_PREVIOUS,
      databaseUrl: e.SWITCHYARD_DATABASE_URL,
      migrateOnStart: e.SWITCHYARD_MIGRATE_ON_START,
      redisUrl: e.SWITCHYARD_REDIS_URL,
      redisPrefix: e.SWITCHYARD_REDIS_PREFIX,
      secretKey: e.SWITCHYARD_SECRET_KEY === "" ? null : decodeSecretKey(e.SWITCHYARD_SECRET_KEY),
      leaseTtlMs: e.SWITCHYARD_LEASE_TTL_MS,
      billingTimezone: e.SWITCHYARD_BILLING_TIMEZONE,
      chatgptTokenUrl: e.SWITCHYARD_CHATGPT_TOKEN_URL,
      chatgptCodexBaseUrl: e.SWITCHYARD_CHATGPT_CODEX_BASE_URL.replace(/\/+$/, ""),
      uiDir: uiDirOf(e.SWITCHYARD_UI_DIR),
    },
    dataPlane: {
      listen: splitHostPort(e.SWITCHYARD_DATA_PLANE_LISTEN),
      metricsListen:
        e.SWITCHYARD_DATA_PLANE_METRICS_LISTEN === ""
          ? null
          : splitHostPort(e.SWITCHYARD_DATA_PLANE_METRICS_LISTEN),
      controlPlaneWaitMs: e.SWITCHYARD_CONTROL_PLANE_WAIT_MS,
      admitTimeoutMs: e.SWITCHYARD_ADMIT_TIMEOUT_MS,
      clientHeadersTimeoutMs: e.SWITCHYARD_CLIENT_HEADERS_TIMEOUT_MS,
      clientBodyTimeoutMs: e.SWITCHYARD_CLIENT_BODY_TIMEOUT_MS,
      upstreamConnectTimeoutMs: e.SWITCHYARD_UPSTREAM_CONNECT_TIMEOUT_MS,
      upstreamHeadersTimeoutMs: e.SWITCHYARD_UPSTREAM_HEADERS_TIMEOUT_MS,
      requestBodyLimitBytes: e.SWITCHYARD_REQUEST_BODY_LIMIT_BYTES,
      shutdownDelayMs: e.SWITCHYARD_SHUTDOWN_DELAY_MS,
      shutdownGraceMs: e.SWITCHYARD_SHUTDOWN_GRACE_MS,
      trustedProxies: e.SWITCHYARD_TRUSTED_PROXIES,
      clientIpHeader: e.SWITCHYARD_CLIENT_IP_HEADER,
    },
  };
}

/** For composition roots: the config, or one line on stderr and exit code 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  return { host: value.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(value.slice(i + 1)) };
}

function decodeSecretKey(value: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const bytes = Buffer.from(value, "base64");
    return bytes.length === 32 ? bytes : null;
  }
  return null;
}

function truncate(value: string | undefined): string {
  const v = value ?? "";
  return v.length > 40 ? `${v.slice(0, 40)}…` : v;
}

/** Where `npm run build` puts the admin web UI: dist/ui of this installation (src/shared and dist/shared alike). */
const BUILT_UI_DIR = fileURLToPath(new URL("../../dist/ui", import.meta.url));

/** SWITCHYARD_UI_DIR: empty for the installation's built UI, `off` for none, else a directory. */
function uiDirOf(value: string): string | null {
  if (value === "off") return null;
  return value === "" ? BUILT_UI_DIR : value;
}
