import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The admin web UI's Vite config (web/ holds the app). */
const VITE_CONFIG = fileURLToPath(new URL("../../web/vite.config.ts", import.meta.url));

/** True when `dir` holds a built UI. */
export function uiBuilt(dir: string): boolean {
  return existsSync(join(dir, "index.html"));
}

/**
 * Builds the admin web UI from web/ into `outDir` with Vite. Vite is a development dependency: an installation
 * without it (the container image, which ships the UI prebuilt) rejects with a message saying to run the build.
 */
export async function buildUi(outDir: string): Promise<void> {
  if (!existsSync(VITE_CONFIG))
    throw new Error("the admin web UI's sources (web/) are not in this installation");
  let vite: typeof import("vite");
  try {
    vite = await import("vite");
  } catch {
    throw new Error("vite is not installed: run `npm ci && npm run build` to build the admin web UI");
  }
  // React's production build and JSX transform follow NODE_ENV, which a test runner sets to "test".
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    await vite.build({ configFile: VITE_CONFIG, build: { outDir, emptyOutDir: true }, logLevel: "warn" });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
}
