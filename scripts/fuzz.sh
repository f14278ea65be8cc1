#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target (func FuzzXxx in a *_test.go) for FUZZTIME each (default
# 5s; a count such as 1000000x runs that many inputs instead, as `make fuzz-long` does). The
# seed corpora (testdata/fuzz/<FuzzXxx>/) already run in every `go test`; this grows Go's fuzz
# cache and looks for new failures. A failing input is written to the package's
# testdata/fuzz/<FuzzXxx>/ — commit it once fixed, as a regression seed.
#
# Each package's instrumented test binary is built once and then run per target: `go test
# -fuzz` would relink it for every target, which costs more than a short fuzz run itself.
#
# The inputs found are kept in Go's fuzz cache (as `go test -fuzz` keeps them), and each run
# first replays them all. FUZZ_FRESH_CACHE=1 starts from the committed seeds alone instead, so
# that a run of a few seconds (CI's) fuzzes rather than spends its time replaying.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"

# FuzzUploadMultipart needs PostgreSQL, found as in scripts/test.sh.
if [ -z "${FILESHARE_TEST_DATABASE_URL:-}" ]; then
	local_url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if psql "$local_url" -tAc "SELECT 1" >/dev/null 2>&1; then
		export FILESHARE_TEST_DATABASE_URL="$local_url"
	else
		export FILESHARE_TEST_DATABASE_URL="$(scripts/devdb.sh start)"
	fi
fi

root="$(pwd)"
mkdir -p bin/fuzz
cache="$(go env GOCACHE)/fuzz"
if [ "${FUZZ_FRESH_CACHE:-}" = 1 ]; then
	cache="$(mktemp -d "$root/bin/fuzz/cache.XXXXXX")"
	trap 'rm -rf "$cache"' EXIT
fi
start=$SECONDS
total=0
for dir in $(grep -l --include='*_test.go' -r '^func Fuzz' internal cmd 2>/dev/null | xargs -n1 dirname | sort -u); do
	pkg="$(go list "./$dir")"
	bin="$root/bin/fuzz/$(echo "$pkg" | tr / _).test"
	go test -c -fuzz=. -o "$bin" "./$dir"
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //' | sort -u); do
		echo "fuzz: $pkg $target for $fuzztime"
		# Run in the package's directory, where the test finds its testdata/; the corpus cache is
		# the one `go test -fuzz` uses.
		seeds="$(ls "$dir/testdata/fuzz/$target" 2>/dev/null || true)"
		if ! out="$(cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$fuzztime" \
			-test.fuzzcachedir="$cache/$pkg" 2>&1)"; then
			# Go 1.26's fuzzing coordinator may report its own -fuzztime deadline as a failure
			# (go.dev/issue/75804, fixed in Go 1.27): that one writes no failing input.
			if grep -q '^    context deadline exceeded$' <<<"$out" &&
				[ "$(ls "$dir/testdata/fuzz/$target" 2>/dev/null || true)" = "$seeds" ]; then
				echo "fuzz: $target: ignoring Go's spurious 'context deadline exceeded' at the end of -fuzztime (go.dev/issue/75804); no failing input was found"
			else
				echo "$out"
				echo "fuzz: $target FAILED; the failing input is in $dir/testdata/fuzz/$target/"
				exit 1
			fi
		fi
		last="$(echo "$out" | grep '^fuzz: elapsed' | tail -n 1)"
		echo "$last"
		# Under `make stress`, each target's figures go to its report too.
		if [ -n "${FILESHARE_STRESS_REPORT:-}" ]; then
			echo "fuzz: $target (-fuzztime $fuzztime): ${last#fuzz: }" >>"$FILESHARE_STRESS_REPORT"
		fi
		total=$((total + 1))
	done
done
echo "fuzz: $total targets, $((SECONDS - start)) s"
