#!/usr/bin/env bash
# `make mutate`: mutation testing with gremlins (docs/mutation.md) of the packages that hold the
# service's rules. Each package is mutated alone and each mutant is tested by that package's
# own tests (gremlins runs `go test <package>` per mutant): a rule that only internal/httpapi's
# tests exercise shows as NOT COVERED, and earns a focused test in its own package.
#
# Prints, per package and overall, the killed, lived, not-covered, timed-out and not-viable
# mutants and the score killed / (killed + lived); fails when a package's score or the overall
# one is below MUTATE_THRESHOLD percent (0 disables the check). The JSON reports and the list of
# surviving mutants stay in bin/mutate/.
#
# Environment: GREMLINS (the binary), MUTATE_PACKAGES (directories under internal/),
# MUTATE_WORKERS (mutants tested at once; 1 on a shared machine), MUTATE_TIMEOUT_COEFFICIENT
# (a mutant's tests may take this many times the unmutated run, which gremlins times; high,
# because that run reuses the build cache while a mutant's recompiles its package and every
# package that imports it: the test helpers import the whole server), MUTATE_THRESHOLD.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
gremlins="${GREMLINS:-gremlins}"
packages="${MUTATE_PACKAGES:-auth coherence purge share}"
workers="${MUTATE_WORKERS:-1}"
coefficient="${MUTATE_TIMEOUT_COEFFICIENT:-20}"
threshold="${MUTATE_THRESHOLD:-85}"

# PostgreSQL, found as in scripts/test.sh.
if [ -z "${FILESHARE_TEST_DATABASE_URL:-}" ]; then
	local_url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if psql "$local_url" -tAc "SELECT 1" >/dev/null 2>&1; then
		export FILESHARE_TEST_DATABASE_URL="$local_url"
	else
		export FILESHARE_TEST_DATABASE_URL="$(scripts/devdb.sh start)"
	fi
fi
# gremlins times the unmutated run to set each mutant's timeout: a cached result would make
# that timeout a few milliseconds and every mutant "timed out". No vet: it is not what a
# mutant is tested by (a vet finding would count it as killed), and it costs every run; no
# DWARF, which halves the link of every mutant's test binary.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1 -vet=off -ldflags=-w"
# gremlins runs `go` from PATH: scripts/mutate/go sorts out the mutants that do not compile.
MUTATE_REAL_GO="$(command -v go)"
export MUTATE_REAL_GO
export PATH="$root/scripts/mutate:$PATH"

out="$root/bin/mutate"
mkdir -p "$out"
# count FILE STATUS: the mutants of the JSON report FILE with that status.
count() { jq --arg s "$2" '[.files[].mutations[] | select(.status == $s)] | length' "$1"; }
score() { awk -v k="$1" -v l="$2" 'BEGIN { if (k + l == 0) print "n/a"; else printf "%.1f", 100 * k / (k + l) }'; }
below() { awk -v s="$1" -v t="$threshold" 'BEGIN { exit !(s != "n/a" && s + 0 < t + 0) }'; }

failed=0
tk=0 tl=0 tn=0 tt=0 tv=0
rows=()
for p in $packages; do
	echo "== gremlins on internal/$p (log: bin/mutate/$p.log)"
	if ! "$gremlins" unleash --workers "$workers" --timeout-coefficient "$coefficient" \
		--output "$out/$p.json" "$root/internal/$p" >"$out/$p.log" 2>&1; then
		tail -n 30 "$out/$p.log"
		echo "gremlins failed on internal/$p" >&2
		exit 1
	fi
	k=$(count "$out/$p.json" KILLED) l=$(count "$out/$p.json" LIVED)
	n=$(count "$out/$p.json" "NOT COVERED") t=$(count "$out/$p.json" "TIMED OUT")
	v=$(count "$out/$p.json" "NOT VIABLE")
	jq -r '.files[] | .file_name as $f | .mutations[] | select(.status == "LIVED")
		| "\($f):\(.line):\(.column) \(.type)"' "$out/$p.json" | sort -t: -k1,1 -k2,2n >"$out/$p.lived"
	s=$(score "$k" "$l")
	rows+=("$(printf '%-12s %7d %7d %12d %10d %11d %7s' "$p" "$k" "$l" "$n" "$t" "$v" "$s")")
	if below "$s"; then failed=1; fi
	tk=$((tk + k)) tl=$((tl + l)) tn=$((tn + n)) tt=$((tt + t)) tv=$((tv + v))
done
s=$(score "$tk" "$tl")
if below "$s"; then failed=1; fi

echo
printf '%-12s %7s %7s %12s %10s %11s %7s\n' package killed lived not-covered timed-out not-viable score%
printf '%s\n' "${rows[@]}"
printf '%-12s %7d %7d %12d %10d %11d %7s\n' overall "$tk" "$tl" "$tn" "$tt" "$tv" "$s"
echo
for p in $packages; do
	if [ -s "$out/$p.lived" ]; then
		echo "surviving mutants of internal/$p:"
		sed "s|^|  internal/$p/|" "$out/$p.lived"
	fi
done
if [ "$failed" = 1 ]; then
	echo "mutation score below ${threshold}% (MUTATE_THRESHOLD)" >&2
	exit 1
fi
