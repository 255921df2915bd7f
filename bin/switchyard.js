#!/usr/bin/env node
// The installed `switchyard` command runs the compiled CLI (npm run build); from a checkout use `npm run cli --`.
try {
  await import("../dist/cli/main.js");
} catch (err) {
  if (err && err.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/cli/main.js")) {
    process.stderr.write("switchyard: not built yet; run `npm run build` (or use `npm run cli -- <args>`)\n");
    process.exit(1);
  }
  throw err;
}
