#!/usr/bin/env bash
# `make openapi-lint` (part of `make check`): api/openapi.yaml checked with stock tools, at the
# versions api/lint/package-lock.json pins —
#   * redocly lint, the recommended rules with every warning an error (api/lint/redocly.yaml);
#   * swagger-cli validate;
#   * openapi-typescript generating a client's types into api/lint/generated/ (not committed),
#     and tsc compiling api/lint/usage.ts, a small openapi-fetch client, against them: it stops
#     compiling when the document stops typing what a client reads.
# The tools come from the npm registry with `npm ci`, run again whenever the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/../api/lint"

if ! command -v npm >/dev/null 2>&1; then
	echo "openapi-lint: npm not found; the API lint needs Node.js 20.19 or later" >&2
	exit 1
fi
# node_modules/.fileshare-lock is the lock file node_modules was installed from.
if ! cmp -s package-lock.json node_modules/.fileshare-lock 2>/dev/null; then
	echo "openapi-lint: installing the tools (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.fileshare-lock
fi

# Redocly sends no usage data and looks for no update.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
bin=node_modules/.bin
doc=../openapi.yaml

echo "== redocly lint"
"$bin/redocly" lint --config redocly.yaml --format stylish "$doc"
echo "== swagger-cli validate"
"$bin/swagger-cli" validate "$doc"
echo "== openapi-typescript + tsc (usage.ts)"
rm -rf generated
"$bin/openapi-typescript" "$doc" --redocly redocly.yaml --output generated/openapi.d.ts
"$bin/tsc" --project tsconfig.json
echo "openapi-lint: ok"
