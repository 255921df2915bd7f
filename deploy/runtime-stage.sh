#!/bin/sh
# Lays out a runtime install of Switchyard from a built checkout: package.json, the lockfile, bin/ and the compiled
# dist/, plus production dependencies only (no devDependencies: no tsx, no TypeScript, no test tools).
#
#   deploy/runtime-stage.sh SOURCE TARGET
#
# SOURCE is a checkout after `npm ci && npm run build`; TARGET is created (the image uses /app). The image's final
# stage (deploy/Dockerfile) and the runtime-stage test (test/e2e/runtime-stage.test.ts) both run this script, so what
# the test starts is what the image holds: a dependency missing at run time fails the test, not a deployment.
#
# Install scripts are never run (--ignore-scripts): npm 11 skips dependencies' scripts unless allowed, the image's
# npm 10 would run them, and nothing Switchyard needs at run time has one. Passing the flag makes both npm versions
# install the same tree.
set -eu

if [ "$#" -ne 2 ]; then
  echo "usage: runtime-stage.sh SOURCE TARGET" >&2
  exit 2
fi
source_dir=$1
target_dir=$2

for required in package.json package-lock.json bin/switchyard.js dist/cli/main.js; do
  if [ ! -f "$source_dir/$required" ]; then
    echo "runtime-stage: $source_dir/$required is missing (run npm ci && npm run build in $source_dir first)" >&2
    exit 1
  fi
done

mkdir -p "$target_dir"
cp "$source_dir/package.json" "$source_dir/package-lock.json" "$target_dir/"
cp -R "$source_dir/bin" "$source_dir/dist" "$target_dir/"

cd "$target_dir"
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn

# The installed command must at least start: a missing dependency of the CLI's entry point fails here, at build time.
node bin/switchyard.js version >/dev/null
