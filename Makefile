# Targets for developers; .ci/run runs `make check`.
GO ?= go
FUZZTIME ?= 10s

.PHONY: test test-sqlite race lint fuzz bench bench-faults quickstart check

## test: the whole suite with the race detector on SQLite and on a throw-away
## PostgreSQL server (the README's test command).
test:
	scripts/with-postgres.sh $(GO) test -race -count=1 ./...

## test-sqlite: the suite without PostgreSQL (its tests skip).
test-sqlite:
	$(GO) test -race -count=1 ./...

race: test

## lint: go vet and gofmt (and staticcheck when installed).
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; fi

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	@for f in $$($(GO) test -list '^Fuzz' . | grep '^Fuzz'); do \
		echo "fuzzing $$f for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) . || exit 1; \
	done

## bench: the throughput benchmarks quoted in the README (PostgreSQL with
## fsync on).
bench:
	PG_FSYNC=on scripts/with-postgres.sh $(GO) test -run='^$$' -bench='Broadcast|OutboxBacklog' -benchtime=3s .

## bench-faults: the noisy-neighbour and outage runs quoted in the README
## (OUTAGE=10m for the README's figure; about 2 × OUTAGE plus 5 minutes).
OUTAGE ?= 1m
bench-faults:
	PG_FSYNC=on WEBHOOK_BENCH_OUTAGE=$(OUTAGE) scripts/with-postgres.sh $(GO) test -run='^$$' -bench='NoisyNeighbour|EndpointOutage' -benchtime=1x -timeout=90m .

## quickstart: the quick start on SQLite.
quickstart:
	$(GO) run ./examples/quickstart

## check: what CI runs.
check: lint test fuzz
