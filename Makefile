# fileshare — `make run` serves it, `make test` tests it (see README.md).
GO          ?= go
SQLC_VERSION = v1.31.1
# Keep in step with testutil.MinIOModule.
MINIO_VERSION = v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK_VERSION = v0.8.2
GOVULNCHECK_VERSION = v1.9.0
GREMLINS_VERSION = v0.6.0
GOBIN       := $(shell $(GO) env GOPATH)/bin
SQLC        := $(GOBIN)/sqlc
STATICCHECK := $(GOBIN)/staticcheck
GOVULNCHECK := $(GOBIN)/govulncheck
GREMLINS    := $(GOBIN)/gremlins
MINIO       := $(GOBIN)/minio
VERSION     := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run test stress check fmt-check vet sqlc-check generate tools minio clean bench lint lint-tools openapi-lint fuzz fuzz-long mutate mutate-tools

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/fileshare ./cmd/fileshare

run: build
	scripts/run.sh

test: check minio
	scripts/test.sh

# The heavy reliability runs (README "Reliability"); every run appends its figures to
# STRESS_REPORT, printed last. Add further runs above the summary line.
STRESS_REPORT := $(CURDIR)/bin/stress-report.txt
stress:
	@mkdir -p bin && rm -f $(STRESS_REPORT)
	FILESHARE_STRESS_REPORT=$(STRESS_REPORT) scripts/stress.sh
	FILESHARE_STRESS_REPORT=$(STRESS_REPORT) $(GO) test -tags stress -count=1 -timeout 30m -run '^TestPowerCutRandomised$$' ./internal/reliability/
	FILESHARE_STRESS=1 FILESHARE_STRESS_REPORT=$(STRESS_REPORT) $(GO) test -tags stress -count=1 -parallel 1 -timeout 30m \
		-run '^(TestAuthTimingUnknownLoginVsWrongPassword|TestAuthTimingUnknownLoginVsWrongAppPassword|TestBadPasswordFloodIsBounded)$$' ./internal/httpapi/
	FILESHARE_STRESS_REPORT=$(STRESS_REPORT) $(MAKE) fuzz-long
	@echo; echo "== make stress: figures =="; cat $(STRESS_REPORT)

# Fails on unformatted code, vet or staticcheck findings, known vulnerabilities, generated
# code that is out of date, or an API document that does not lint clean.
check: fmt-check vet sqlc-check lint openapi-lint

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

sqlc-check: tools
	$(SQLC) diff

# staticcheck, then govulncheck (scripts/govulncheck.sh: skipped, loudly, when the vulnerability
# database cannot be reached). About 20 s once the tools are installed.
lint: lint-tools
	$(STATICCHECK) ./...
	GOVULNCHECK=$(GOVULNCHECK) scripts/govulncheck.sh

# api/openapi.yaml under redocly lint (recommended rules, warnings fail) and swagger-cli
# validate, and a TypeScript client generated from it by openapi-typescript compiled against
# api/lint/usage.ts (scripts/openapi-lint.sh). The tools come from npm at the versions of
# api/lint/package-lock.json; about 15 s once they are installed.
openapi-lint:
	scripts/openapi-lint.sh

# Both come from the Go module proxy, at the versions above.
lint-tools:
	@if ! $(GO) version -m "$(STATICCHECK)" 2>/dev/null | grep -q "^	mod	honnef.co/go/tools	$(STATICCHECK_VERSION)	"; then \
		echo "installing staticcheck $(STATICCHECK_VERSION)"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi
	@if ! $(GO) version -m "$(GOVULNCHECK)" 2>/dev/null | grep -q "^	mod	golang.org/x/vuln	$(GOVULNCHECK_VERSION)	"; then \
		echo "installing govulncheck $(GOVULNCHECK_VERSION)"; \
		$(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION); \
	fi

# Every fuzz target for FUZZTIME each (scripts/fuzz.sh); CI runs a short one from the seeds alone
# (FUZZTIME=3s FUZZ_FRESH_CACHE=1).
FUZZTIME ?= 5s
FUZZ_FRESH_CACHE ?=
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZ_FRESH_CACHE=$(FUZZ_FRESH_CACHE) scripts/fuzz.sh

# Every fuzz target for FUZZ_LONG_EXECS inputs each (10^6 by default), counted rather than
# timed so that a slow or busy machine still does them all; part of `make stress`. At the rates
# of 20 s runs on a 2-core machine (about 20,000 inputs/s for internal/share's targets, 2,500 to
# 5,000/s for internal/httpapi's parsers, 1,000/s for FuzzUploadMultipart, which goes through
# the router and PostgreSQL) that is about an hour, more while the fuzzer minimizes new inputs.
FUZZ_LONG_EXECS ?= 1000000
fuzz-long:
	FUZZTIME=$(FUZZ_LONG_EXECS)x scripts/fuzz.sh

# Mutation testing (scripts/mutate.sh, docs/mutation.md) of internal/auth, coherence, purge and
# share: one mutant at a time, each tested by its package's own tests, niced so that it leaves
# the machine usable; about an hour. Fails when a score is below MUTATE_THRESHOLD percent.
MUTATE_THRESHOLD ?= 85
MUTATE_PACKAGES ?= auth coherence purge share
mutate: mutate-tools
	GREMLINS=$(GREMLINS) MUTATE_THRESHOLD=$(MUTATE_THRESHOLD) MUTATE_PACKAGES="$(MUTATE_PACKAGES)" \
		nice -n 10 scripts/mutate.sh

mutate-tools:
	@if ! $(GO) version -m "$(GREMLINS)" 2>/dev/null | grep -q "^	mod	github.com/go-gremlins/gremlins	$(GREMLINS_VERSION)	"; then \
		echo "installing gremlins $(GREMLINS_VERSION)"; \
		$(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION); \
	fi

generate: tools
	$(SQLC) generate

# sqlc's first build takes minutes (its SQL parser is C, built with cgo); after that the
# installed binary is reused.
tools:
	@if ! [ -x "$(SQLC)" ] || [ "$$($(SQLC) version)" != "$(SQLC_VERSION)" ]; then \
		echo "installing sqlc $(SQLC_VERSION) (the first build takes several minutes)"; \
		$(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION); \
	fi

# The benchmark harness: fileshare against nginx on this machine (see README, "Performance").
# BENCH_FLAGS=-quick-style overrides, e.g. BENCH_FLAGS="-runs 1 -big-mib 256".
bench:
	$(GO) run ./cmd/fsbench $(BENCH_FLAGS)

# MinIO, the S3-compatible server the tests start on loopback (internal/testutil/minio.go). Its
# first build takes about seven minutes; after that the installed binary is reused, unless it
# is of another version.
minio:
	@if ! [ -x "$(MINIO)" ] || ! $(GO) version -m "$(MINIO)" 2>/dev/null | grep -q "^	mod	github.com/minio/minio	$(MINIO_VERSION)	"; then \
		echo "installing minio $(MINIO_VERSION) (the first build takes several minutes)"; \
		$(GO) install github.com/minio/minio@$(MINIO_VERSION); \
	fi

clean:
	rm -rf bin
