import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Tracer } from "@opentelemetry/api";
import { startControlPlane } from "../control-plane/main.js";
import { startEmbeddedPostgres } from "../control-plane/store/db/embedded-postgres.js";
import { startDataPlane } from "../data-plane/main.js";
import type { Config } from "../shared/config.js";
import type { Logger } from "../shared/logger.js";
import { buildUi, uiBuilt } from "./ui-build.js";

/** Secrets `serve all` generates on its first run and keeps in the data directory. */
interface LocalSecrets {
  adminToken: string;
  dataPlaneToken: string;
  /** 64 hex chars: the credential encryption key. */
  secretKey: string;
}

/**
 * `switchyard serve all` (`npm start`): both planes in one process. Without SWITCHYARD_DATABASE_URL it runs an
 * embedded PostgreSQL in the data directory; without SWITCHYARD_REDIS_URL, in-memory leases. Tokens and the
 * credential key come from the environment, else from `<data dir>/secrets.json`, created on the first run.
 */
export async function serveAll(
  config: Config,
  log: Logger,
  untilSignal: () => Promise<void>,
  tracer: Tracer | null = null,
): Promise<number> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const uiDir = await ensureUi(config.controlPlane.uiDir, log);
  const { secrets, created } = await loadOrCreateSecrets(join(config.dataDir, "secrets.json"));
  const embedded =
    config.controlPlane.databaseUrl === ""
      ? await startEmbeddedPostgres(join(config.dataDir, "postgres"))
      : null;
  const controlPlaneConfig = {
    ...config.controlPlane,
    uiDir,
    databaseUrl: embedded?.url ?? config.controlPlane.databaseUrl,
    adminToken: config.controlPlane.adminToken || secrets.adminToken,
    dataPlaneToken: config.controlPlane.dataPlaneToken || secrets.dataPlaneToken,
    secretKey: config.controlPlane.secretKey ?? Buffer.from(secrets.secretKey, "hex"),
  };
  const controlPlane = await startControlPlane(
    { ...config, controlPlane: controlPlaneConfig },
    log.child({ plane: "control" }),
    embedded ? { databasePoolMax: 1, tracer } : { tracer },
  );
  const dataPlane = await startDataPlane(
    { ...config, controlPlane: { ...controlPlaneConfig, url: controlPlane.url } },
    log.child({ plane: "data" }),
    "dev",
    tracer,
  );
  process.stdout.write(
    welcome(config, controlPlane.url, dataPlane.url, controlPlaneConfig.adminToken, created, uiDir !== null),
  );
  await untilSignal();
  log.info("shutting down");
  await dataPlane.shutdown();
  await controlPlane.close();
  await embedded?.close();
  return 0;
}

/**
 * The admin web UI to serve: built first when missing (a fresh clone after `npm ci` has no dist/ui yet), so
 * `npm start` serves it without another step. A failed build is logged and the planes start without the UI.
 */
async function ensureUi(dir: string | null, log: Logger): Promise<string | null> {
  if (dir === null || uiBuilt(dir)) return dir;
  process.stdout.write("Building the admin web UI (first start only)…\n");
  try {
    await buildUi(dir);
    return dir;
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, "admin web UI not built; not served");
    return null;
  }
}

async function loadOrCreateSecrets(path: string): Promise<{ secrets: LocalSecrets; created: boolean }> {
  try {
    return { secrets: JSON.parse(await readFile(path, "utf8")) as LocalSecrets, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secrets: LocalSecrets = {
    adminToken: `sy-admin-${randomBytes(24).toString("base64url")}`,
    dataPlaneToken: `sy-dp-${randomBytes(24).toString("base64url")}`,
    secretKey: randomBytes(32).toString("hex"),
  };
  await writeFile(path, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  return { secrets, created: true };
}

/**
 * What `npm start` prints once both planes run. The first run shows the new admin token and the commands that set
 * up a user, a group, an account and a key; later runs never print the token again but give commands that read it
 * from the data directory, and commands for what is already set up (creating it again would fail).
 */
function welcome(
  config: Config,
  controlPlaneUrl: string,
  dataPlaneUrl: string,
  token: string,
  first: boolean,
  ui: boolean,
): string {
  const where = resolve(config.dataDir, "secrets.json");
  const header = `Switchyard is running.
  OpenAI-compatible API:  ${dataPlaneUrl}/v1
  control plane:          ${controlPlaneUrl}
  admin web UI:           ${ui ? `${controlPlaneUrl}/ui/ (sign in with the admin token)` : "not built (npm run build)"}
`;
  if (!first) {
    return `${header}  admin token:            in ${where}

In another shell:
  export SWITCHYARD_ADMIN_TOKEN=$(node -p 'require(${JSON.stringify(where)}).adminToken') SWITCHYARD_CONTROL_PLANE_URL=${controlPlaneUrl}
  npm run cli -- admin users list
  npm run cli -- admin keys list
  npm run cli -- admin keys create --user <user name> --group <group name>
  npm run cli -- admin usage list
  npm run cli -- admin help
Then point an OpenAI SDK at ${dataPlaneUrl}/v1 with one of your sk-… keys.
`;
  }
  return `${header}  admin token:            ${token}
                          (kept in ${where})

Next, in another shell:
  export SWITCHYARD_ADMIN_TOKEN=${token} SWITCHYARD_CONTROL_PLANE_URL=${controlPlaneUrl}
  npm run cli -- admin users create --name me --balance 10
  npm run cli -- admin groups create --name default
  npm run cli -- admin accounts create --name openai --base-url https://api.openai.com \\
      --api-key "$OPENAI_API_KEY" --group default
  npm run cli -- admin keys create --user me --group default
Then point an OpenAI SDK at ${dataPlaneUrl}/v1 with the sk-sy-… key it printed.
`;
}
