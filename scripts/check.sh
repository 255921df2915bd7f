#!/usr/bin/env bash
# The gate every change passes (`npm run check`, `make check`, CI): format + lint (warnings are errors), types,
# buf lint, buf breaking against main, generated code up to date. Steps can be named to run a subset:
#   bash scripts/check.sh [format-lint] [types] [proto-lint] [proto-breaking] [generated]
set -uo pipefail
cd "$(dirname "$0")/.."

bin=node_modules/.bin
export PATH="$PWD/node_modules/.bin:$PATH"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(format-lint types proto-lint proto-breaking generated)
failed=()

step_format_lint() { "$bin/biome" ci --colors=off --error-on-warnings --no-errors-on-unmatched .; }

step_types() { "$bin/tsc" -p tsconfig.json && "$bin/tsc" -p web/tsconfig.json; }

step_proto_lint() { "$bin/buf" lint; }

step_proto_breaking() {
  if ! git rev-parse --verify --quiet main >/dev/null; then
    echo "buf breaking: skipped (no main branch to compare with)"
    return 0
  fi
  if [ -z "$(git ls-tree -r --name-only main -- proto | grep '\.proto$')" ]; then
    echo "buf breaking: skipped (main has no proto yet)"
    return 0
  fi
  "$bin/buf" breaking --against '.git#branch=main'
}

step_generated() {
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  "$bin/buf" generate --output "$tmp" || return 1
  if ! diff -r "$tmp/src/gen" src/gen >/dev/null; then
    echo "src/gen is stale: run \`npm run generate\` and commit the result" >&2
    diff -rq "$tmp/src/gen" src/gen | sed "s|$tmp/||" >&2
    return 1
  fi
  echo "generated code: up to date"
}

for step in "${steps[@]}"; do
  fn="step_${step//-/_}"
  if ! declare -F "$fn" >/dev/null; then
    echo "check: unknown step '$step'" >&2
    exit 2
  fi
  echo "── check: $step"
  if ! "$fn"; then failed+=("$step"); fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "check: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "check: all passed"
