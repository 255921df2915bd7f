# Thin wrappers over the npm scripts, so `make` and `npm run` always agree.
.DEFAULT_GOAL := help
.PHONY: help check test test-unit test-integration test-e2e run build build-ui generate bench ci

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

check: ## format, lint (warnings are errors), typecheck, buf lint + breaking, generated code up to date
	npm run check

test: ## all three test tiers (unit, integration, e2e)
	npm test

test-unit: ## pure tests, no sockets
	npm run test:unit

test-integration: ## tests against the machine's PostgreSQL and Redis
	npm run test:integration

test-e2e: ## real processes end to end
	npm run test:e2e

run: ## everything in one process on embedded storage (npm start)
	npm start

build: ## compile to dist/ (the installed `switchyard` command runs dist/) and build the admin web UI into dist/ui
	npm run build

build-ui: ## build only the admin web UI (web/) into dist/ui
	npm run build:ui

generate: ## regenerate src/gen from proto/ with buf
	npm run generate

bench: ## run the benchmarks in bench/ and update bench/BENCHMARKS.md
	npm run bench

ci: ## what CI runs on a clean checkout
	bash .ci/run
