# Tandem: `make run` brings the local stack up, `make test` runs every test.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

MODULES  := platform proto services/identity services/outreach services/atsbridge services/mailbox gateway providersim e2e
SERVICES := identity outreach atsbridge mailbox
BIN      := $(CURDIR)/bin
TOOLS    := $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2 $(BIN)/grpcurl $(BIN)/openapigen
OPENAPI  := gateway/internal/openapi
# The TypeScript contract check: a client generated from the document must compile.
CONTRACT := $(OPENAPI)/testdata/tsclient
LINTER   := $(BIN)/golangci-lint
# What `buf breaking` compares with: the main branch by default.
BREAKING_AGAINST ?= .git\#branch=main,subdir=proto
GOTEST_FLAGS ?= -race -count=1

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(TOOLS): tools/go.mod tools/go.sum $(wildcard tools/openapigen/*.go)
	@mkdir -p $(BIN)
	cd tools && GOWORK=off go build -o $(BIN)/ \
	  github.com/bufbuild/buf/cmd/buf \
	  google.golang.org/protobuf/cmd/protoc-gen-go \
	  google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
	  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 \
	  github.com/fullstorydev/grpcurl/cmd/grpcurl \
	  ./openapigen
	@touch $(TOOLS)

# golangci-lint has a module of its own: its authors advise against sharing one with
# other tools, whose dependencies would then pick its versions (ADR 14).
$(LINTER): tools/golangci-lint/go.mod tools/golangci-lint/go.sum
	@mkdir -p $(BIN)
	cd tools/golangci-lint && GOWORK=off go build -o $(BIN)/ github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	@touch $(LINTER)

.PHONY: tools
tools: $(TOOLS) $(LINTER) ## Build the pinned tools (buf, protoc plugins, grpcurl, openapigen, golangci-lint) into bin/

# openapi3 writes the OpenAPI 3.1 document from the generated Swagger 2.0 one,
# the gateway's fragment and every service's authz.Policy (see ADR 0012).
define openapi3
	@pol=$$(mktemp -d); trap 'rm -rf "$$pol"' EXIT; \
	for s in $(SERVICES); do (cd services/$$s && go run ./internal/server/policyjson) > "$$pol/$$s.json"; done; \
	echo "openapigen $(OPENAPI)/tandem.openapi.json"; \
	$(BIN)/openapigen -swagger $(OPENAPI)/tandem.swagger.json -rules proto/http_rules.yaml \
	  -fragment $(OPENAPI)/gateway.openapi.yaml $$(for s in $(SERVICES); do echo -policy "$$pol/$$s.json"; done) \
	  -out $(OPENAPI)/tandem.openapi.json
endef

.PHONY: proto
proto: $(TOOLS) ## Format, lint and regenerate code from proto/
	$(BIN)/buf format -w
	$(BIN)/buf lint
	rm -rf proto/gen $(OPENAPI)/*.swagger.json $(OPENAPI)/tandem.openapi.json
	$(BIN)/buf generate
	$(openapi3)

.PHONY: proto-check
proto-check: $(TOOLS) ## Fail on proto lint, format, breaking changes or generated-code drift
	$(BIN)/buf lint
	$(BIN)/buf format --diff --exit-code
	@if git rev-parse -q --verify main >/dev/null 2>&1 && git cat-file -e main:proto 2>/dev/null; then \
	  echo "buf breaking against $(BREAKING_AGAINST)"; $(BIN)/buf breaking --against '$(BREAKING_AGAINST)'; \
	else echo "buf breaking: no proto/ on main yet, nothing to compare"; fi
	rm -rf proto/gen $(OPENAPI)/*.swagger.json $(OPENAPI)/tandem.openapi.json
	$(BIN)/buf generate
	$(openapi3)
	@git add -N proto/gen gateway/internal/openapi >/dev/null 2>&1 || true
	@if ! git diff --exit-code --stat -- proto/gen gateway/internal/openapi; then \
	  echo "generated code is out of date: run 'make proto' and commit"; exit 1; fi

.PHONY: build
build: ## Build every binary into bin/
	@mkdir -p $(BIN)
	go build -o $(BIN)/ $(addprefix ./services/,$(addsuffix /cmd/...,$(SERVICES))) ./gateway/cmd/... $(if $(wildcard providersim/cmd),./providersim/cmd/...)

.PHONY: deps
deps: ## Make sure Postgres and Redis answer (starting or installing them locally)
	@scripts/deps.sh

.PHONY: run
run: build deps tools ## Run the whole stack locally (Ctrl-C stops it)
	@scripts/run.sh

.PHONY: vet
vet: ## go vet every module (in the workspace)
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && go vet ./...); done

.PHONY: workcheck
workcheck: ## Build and vet every module on its own (GOWORK=off), as go.work must not hide version skew
	@for m in $(MODULES); do echo "GOWORK=off go vet $$m"; (cd $$m && GOWORK=off go mod verify >/dev/null && GOWORK=off go vet ./...); done

.PHONY: tidy-check
tidy-check: ## Fail when any module's go.mod or go.sum is not tidy
	@for m in $(MODULES); do (cd $$m && GOWORK=off go mod tidy); done
	@if ! git diff --exit-code --stat -- '*go.mod' '*go.sum'; then echo "run 'go mod tidy' (GOWORK=off) in the modules above and commit"; exit 1; fi

.PHONY: lint
lint: $(TOOLS) $(LINTER) vet ## gofmt, go vet, golangci-lint (.golangci.yml), buf lint and format
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do echo "golangci-lint $$m"; (cd $$m && $(LINTER) run ./...); done
	@echo "golangci-lint tools/openapigen"; cd tools && GOWORK=off $(LINTER) run ./openapigen/...
	$(BIN)/buf lint
	$(BIN)/buf format --diff --exit-code

.PHONY: test-unit
test-unit: deps ## Unit and integration tests of every module but e2e (race detector on)
	@for m in $(filter-out e2e,$(MODULES)); do echo "go test $$m"; (cd $$m && go test $(GOTEST_FLAGS) ./...); done

.PHONY: test-e2e
test-e2e: deps ## End-to-end tests: the whole stack, through the gateway
	cd e2e && go test $(GOTEST_FLAGS) -timeout 20m ./...

.PHONY: contract
contract: ## Validate the OpenAPI 3.1 document and compile a TypeScript client generated from it
	cd tools && GOWORK=off go test -count=1 ./openapigen/...
	cd $(CONTRACT) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check

.PHONY: test
test: lint contract test-unit test-e2e ## Everything: lint, vet, the REST contract, unit, integration and e2e tests

.PHONY: bench
bench: deps ## Run the benchmarks (see docs/benchmarks.md)
	@for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...); done

.PHONY: clean
clean: ## Remove built binaries and local run state
	rm -rf $(BIN) .run
