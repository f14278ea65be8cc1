# fileshare — `make run` serves it, `make test` tests it (see README.md).
GO          ?= go
SQLC_VERSION = v1.31.1
GOBIN       := $(shell $(GO) env GOPATH)/bin
SQLC        := $(GOBIN)/sqlc
VERSION     := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run test check fmt-check vet sqlc-check generate tools clean bench

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/fileshare ./cmd/fileshare

run: build
	scripts/run.sh

test: check
	scripts/test.sh

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

clean:
	rm -rf bin
