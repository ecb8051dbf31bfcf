# Skiff — a Kubernetes-compatible cluster on your Docker engine.
# `make help` lists the targets.

GO        ?= go
BIN       := bin
VERSION   ?= 0.1.0
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -X main.skiffVersion=$(VERSION) -X main.gitCommit=$(COMMIT) -X main.buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
DATA_DIR  ?= $(HOME)/.skiff

.PHONY: help build krew-manifest run test unit e2e bench fmt vet clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

##@ Build
build: ## Build bin/skiff and bin/kubectl-skiff
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/skiff ./cmd/skiff
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-skiff ./cmd/kubectl-skiff
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl_complete-skiff ./cmd/kubectl_complete-skiff

krew-manifest: ## Build the krew archives into bin/krew and write plugin/krew/skiff.yaml with their digests
	cd plugin/krew && $(GO) generate .

##@ Run
run: build ## Start Skiff (bin/skiff up) with data under $(DATA_DIR)
	$(BIN)/skiff up --data-dir $(DATA_DIR)

##@ Test
test: build ## Run every test: unit tests and the e2e tests (real binaries, Docker, stock kubectl)
	SKIFF_BIN=$(CURDIR)/$(BIN)/skiff $(GO) test -count=1 -timeout 25m ./...

unit: ## Run the unit tests only (no Docker, no binaries)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: build ## Run the e2e tests only
	SKIFF_BIN=$(CURDIR)/$(BIN)/skiff $(GO) test -count=1 -timeout 25m -v ./e2e/...

bench: build ## Run the benchmarks: prints the table, writes bench/results/latest.json
	SKIFF_BIN=$(CURDIR)/$(BIN)/skiff $(GO) run ./bench -out bench/results/latest.json

##@ Hygiene
fmt: ## gofmt every file
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet
	$(GO) vet ./...

clean: ## Remove build output
	rm -rf $(BIN)
