#!/usr/bin/env bash
# `make stress`: the full-size reliability tests of internal/reliability (README "Reliability"):
# ≥ 50 SIGKILLs during uploads, repeated database outages, a full disk, 100 rounds of 1,000
# concurrent GETs of one token over two instances, two instances purging at once. They run on
# the PostgreSQL that `make test` uses, without the race detector (so that the latencies are
# the service's own), and append their figures to $FILESHARE_STRESS_REPORT.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${FILESHARE_TEST_DATABASE_URL:-}" ]; then
	local_url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if psql "$local_url" -tAc "SELECT 1" >/dev/null 2>&1; then
		export FILESHARE_TEST_DATABASE_URL="$local_url"
	else
		export FILESHARE_TEST_DATABASE_URL="$(scripts/devdb.sh start)"
	fi
fi
echo "stress tests use PostgreSQL at ${FILESHARE_TEST_DATABASE_URL%%\?*}"
# One test at a time, so that each one's figures are its own.
FILESHARE_STRESS=1 go test -count=1 -parallel 1 -timeout 60m "$@" ./internal/reliability/
