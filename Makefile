# fileshare — `make run` serves it, `make test` tests it (see README.md).
GO          ?= go
SQLC_VERSION = v1.31.1
# Keep in step with testutil.MinIOModule.
MINIO_VERSION = v0.0.0-20260212201848-7aac2a2c5b7c
GOBIN       := $(shell $(GO) env GOPATH)/bin
SQLC        := $(GOBIN)/sqlc
MINIO       := $(GOBIN)/minio
VERSION     := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run test stress check fmt-check vet sqlc-check generate tools minio clean bench

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
	@echo; echo "== make stress: figures =="; cat $(STRESS_REPORT)

# Fails on unformatted code, vet findings, or generated code that is out of date.
check: fmt-check vet sqlc-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

sqlc-check: tools
	$(SQLC) diff

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
