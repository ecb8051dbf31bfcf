# Skiff — a Kubernetes-compatible cluster on your Docker engine.
# `make help` lists the targets.

GO        ?= go
BIN       := bin
VERSION   ?= 0.1.0
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -X main.skiffVersion=$(VERSION) -X main.gitCommit=$(COMMIT) -X main.buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
DATA_DIR  ?= $(HOME)/.skiff

.PHONY: help build krew-manifest image run test unit e2e bench fmt vet clean

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
# No registry: pods run images the local engine has. busybox:local is the
# host's static busybox with every applet linked, as the e2e tests make it.
image: IMAGE ?= busybox:local
image: ## Import busybox:local (the examples' image) from the host's static busybox (apt-get install busybox-static)
	@if docker image inspect $(IMAGE) >/dev/null 2>&1; then echo "$(IMAGE) is already there"; else \
	  set -e; file -L /bin/busybox | grep -q 'statically linked' || { echo "make image needs a static /bin/busybox: apt-get install busybox-static" >&2; exit 1; }; \
	  d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; mkdir -p "$$d/bin" "$$d/etc" "$$d/root" "$$d/tmp"; chmod 1777 "$$d/tmp"; chmod 700 "$$d/root"; \
	  cp /bin/busybox "$$d/bin/busybox"; for a in $$(/bin/busybox --list); do [ "$$a" = busybox ] || ln -s busybox "$$d/bin/$$a"; done; \
	  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$$d/etc/passwd"; \
	  printf 'root:x:0:\nnobody:x:65534:\n' >"$$d/etc/group"; \
	  tar -C "$$d" --owner=0 --group=0 --numeric-owner -c . | docker import -c 'CMD ["sh"]' -c 'LABEL skiff.dev/test-fixture=busybox' - $(IMAGE) >/dev/null; \
	  echo "$(IMAGE) imported"; fi

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
