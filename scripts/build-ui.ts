import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildUi } from "../src/cli/ui-build.js";

/** `npm run build:ui [-- --out DIR]`: builds the admin web UI (web/) into dist/ui, or into DIR. */
const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const outDir =
  outIndex >= 0 ? resolve(args[outIndex + 1] ?? "") : fileURLToPath(new URL("../dist/ui", import.meta.url));
await buildUi(outDir);
process.stdout.write(`admin web UI built into ${outDir}\n`);
