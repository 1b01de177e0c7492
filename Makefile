# Targets for developers; .ci/run runs `make check`.
GO ?= go
# A count (Nx), not a duration: Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when a -fuzztime duration
# ends on a loaded machine (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 50000x

.PHONY: test test-sqlite test-e2e screenshots race lint fuzz bench bench-faults bench-river bench-million quickstart check

# The admin UI's and the portal's browser tests (chromedp) live in modules
# of their own so that chromedp stays out of the library's go.mod; they use
# SQLite only.
E2E_DIR := admin/e2e
PORTAL_E2E_DIR := portal/e2e
E2E_TEST = cd $(E2E_DIR) && $(GO) test -race -count=1 ./...
PORTAL_E2E_TEST = cd $(PORTAL_E2E_DIR) && $(GO) test -race -count=1 ./...
# The observability example and the telemetry tests, with the OpenTelemetry
# SDK and the Prometheus exporter, are a module of their own too, so that
# neither reaches the library's go.mod; they use PostgreSQL when
# WEBHOOK_TEST_POSTGRES_DSN is set.
OTEL_DIR := examples/observability
# The OpenAPI conformance test of package api and its validator
# (libopenapi-validator) are a module of their own as well, so that the
# validator stays out of the library's go.mod; it uses SQLite only.
API_DIR := api/openapitest
API_TEST = cd $(API_DIR) && $(GO) test -race -count=1 ./...
# The comparison with River (enqueue and drain on PostgreSQL) is a module of
# its own too, so that River stays out of the library's go.mod; make test
# runs its benchmarks once each, in a short form (docs/bench-river.md).
RIVER_DIR := bench/river
RIVER_SHORT = cd $(CURDIR)/$(RIVER_DIR) && $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./...

## test: the whole suite with the race detector on SQLite and on a throw-away
## PostgreSQL server (the README's test command), the telemetry tests
## (module examples/observability), the API's OpenAPI conformance test
## (module api/openapitest), the River comparison once in a short form
## (module bench/river), then the admin UI's and the portal's end-to-end
## browser tests (modules admin/e2e, portal/e2e).
test:
	scripts/with-postgres.sh sh -c '$(GO) test -race -count=1 ./... && cd $(OTEL_DIR) && $(GO) test -race -count=1 ./... && $(RIVER_SHORT)'
	$(API_TEST)
	$(E2E_TEST)
	$(PORTAL_E2E_TEST)

## test-sqlite: the suite without PostgreSQL (its tests skip), then the
## OpenAPI conformance test and the end-to-end browser tests.
test-sqlite:
	$(GO) test -race -count=1 ./...
	cd $(RIVER_DIR) && $(GO) vet ./...
	cd $(OTEL_DIR) && $(GO) test -race -count=1 ./...
	$(API_TEST)
	$(E2E_TEST)
	$(PORTAL_E2E_TEST)

## test-e2e: the admin UI's and the portal's end-to-end tests in headless
## Chromium (they skip without Chromium unless WEBHOOK_TEST_REQUIRE_BROWSER=1).
test-e2e:
	$(E2E_TEST)
	$(PORTAL_E2E_TEST)

## screenshots: the admin UI's screenshots in docs/screenshots (overview,
## deliveries, a delivery, attempts and webhooks at 1400 and 400 px) and the
## portal's (portal-*: endpoints, the endpoint form, the delivery log and a
## delivery at 1400 and 400 px, in Chinese too), from seeded databases at a
## fixed time; needs Chromium (and a CJK font, such as fonts-wqy-microhei,
## for the Chinese ones).
screenshots:
	cd $(E2E_DIR) && WEBHOOK_TEST_REQUIRE_BROWSER=1 WEBHOOK_SCREENSHOTS=docs/screenshots $(GO) test -count=1 -run '^TestE2ELayout$$' ./...
	cd $(PORTAL_E2E_DIR) && WEBHOOK_TEST_REQUIRE_BROWSER=1 WEBHOOK_SCREENSHOTS=docs/screenshots $(GO) test -count=1 -run '^TestE2ELayout$$' ./...

race: test

## lint: go vet and gofmt (and staticcheck when installed), in every module.
lint:
	$(GO) vet ./...
	cd $(E2E_DIR) && $(GO) vet ./...
	cd $(PORTAL_E2E_DIR) && $(GO) vet ./...
	cd $(OTEL_DIR) && $(GO) vet ./...
	cd $(API_DIR) && $(GO) vet ./...
	cd $(RIVER_DIR) && $(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./... && (cd $(E2E_DIR) && staticcheck ./...) && (cd $(PORTAL_E2E_DIR) && staticcheck ./...) && (cd $(OTEL_DIR) && staticcheck ./...) && (cd $(API_DIR) && staticcheck ./...) && (cd $(RIVER_DIR) && staticcheck ./...); fi

## fuzz: run every fuzz target (root package, signature/, internal/strictyaml) for FUZZTIME each (a count such as 50000x).
FUZZ_PKGS := . ./signature ./internal/strictyaml
fuzz:
	@for p in $(FUZZ_PKGS); do \
		for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "fuzzing $$p $$f for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$p || exit 1; \
		done; \
	done

## bench: the throughput benchmarks quoted in the README (PostgreSQL with
## fsync on).
bench:
	PG_FSYNC=on scripts/with-postgres.sh sh -c "$(GO) test -run='^$$' -bench='Broadcast' -benchtime=3s . && $(GO) test -run='^$$' -bench='OutboxBacklog' -benchtime=50000x -count=3 ."

## bench-million: the admin's and the CLI's queries on 1,000,000 outbox and
## history rows, both databases, and the memory of draining 1,000,000 on
## SQLite (each seeds for about a minute).
bench-million:
	PG_FSYNC=on scripts/with-postgres.sh sh -c "$(GO) test -run='^$$' -bench=QueriesAtAMillion -benchtime=10x -timeout=60m . && $(GO) test -run='^$$' -bench=DrainMemory -benchtime=1000000x -timeout=60m ."

## bench-faults: the noisy-neighbour and outage runs quoted in the README
## (OUTAGE=10m for the README's figure; about 2 × OUTAGE plus 5 minutes).
OUTAGE ?= 1m
bench-faults:
	PG_FSYNC=on WEBHOOK_BENCH_OUTAGE=$(OUTAGE) scripts/with-postgres.sh $(GO) test -run='^$$' -bench='NoisyNeighbour|EndpointOutage' -benchtime=1x -timeout=90m .

## bench-river: the outbox beside River on PostgreSQL: enqueue 20,000, drain
## 30,000 to a fast receiver, and one against two instances with a 5 ms one.
bench-river:
	PG_FSYNC=on scripts/with-postgres.sh sh -c 'cd $(RIVER_DIR) && $(GO) test -run=^$$ -bench=EnqueueBatch -benchtime=3x -v && $(GO) test -run=^$$ -bench=DrainVsRiver -benchtime=30000x -timeout=30m -v'

## quickstart: the quick start on SQLite.
quickstart:
	$(GO) run ./examples/quickstart

## check: what CI runs.
check: lint test fuzz
