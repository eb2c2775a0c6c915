# ron-kms — build, test, demo, bench, lint.
GO        ?= go
BIN       := bin
PKGS      := ./...
# The packages whose code runs goroutines or is shared between them:
# make test runs their tests again under the race detector.
RACE_PKGS := ./appliance/audit ./appliance/capability ./appliance/engine ./appliance/sync ./appliance/api ./govtool/envelope ./govtool/gitrepo
DEMO_DIR  ?=
FUZZTIME  ?= 30s

.PHONY: all build test demo bench bench-api lint fuzz clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

## test: every test, with the race detector on the packages that run goroutines.
test: build
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)
	$(GO) test -race -count=1 $(RACE_PKGS)

## demo: the main job end to end on the embedded default (sealed-file backend).
demo: build
	@DEMO_DIR="$(DEMO_DIR)" bash scripts/demo.sh

## bench: benchmarks, each printing its ratio against a bare baseline measured in the same run.
bench:
	$(GO) test -p 1 -run '^$$' -bench . -benchmem ./govtool/... ./appliance/...

## bench-api: the appliance's sign path through HTTP, 6 runs, summarised by benchstat.
bench-api:
	$(GO) test -p 1 -run '^$$' -bench 'SignHTTP|HTTPFloor|RawClient' -benchtime 20000x -count 6 ./appliance/api | tee bench-api.txt
	$(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da bench-api.txt

## fuzz: a short run of every fuzz target (crashers land in testdata/fuzz).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./govtool/canon
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME) ./govtool/canon
	$(GO) test -run '^$$' -fuzz '^FuzzFormFound$$' -fuzztime $(FUZZTIME) ./govtool/canon
	$(GO) test -run '^$$' -fuzz '^FuzzCompareUTF16$$' -fuzztime $(FUZZTIME) ./govtool/canon
	$(GO) test -run '^$$' -fuzz '^FuzzWriteString$$' -fuzztime $(FUZZTIME) ./govtool/canon
	$(GO) test -run '^$$' -fuzz '^FuzzNumber$$' -fuzztime $(FUZZTIME) ./govtool/canon
	$(GO) test -run '^$$' -fuzz '^FuzzEqual$$' -fuzztime $(FUZZTIME) ./govtool/canon
	$(GO) test -run '^$$' -fuzz '^FuzzParseSignature$$' -fuzztime $(FUZZTIME) ./govtool/envelope
	$(GO) test -run '^$$' -fuzz '^FuzzPatterns$$' -fuzztime $(FUZZTIME) ./govtool/envelope
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) ./schemas
	$(GO) test -run '^$$' -fuzz '^FuzzRegexp$$' -fuzztime $(FUZZTIME) ./schemas
	$(GO) test -run '^$$' -fuzz '^FuzzRegexpPattern$$' -fuzztime $(FUZZTIME) ./schemas
	$(GO) test -run '^$$' -fuzz '^FuzzParseShare$$' -fuzztime $(FUZZTIME) ./govtool/keys
	$(GO) test -run '^$$' -fuzz '^FuzzParsePKCS11URI$$' -fuzztime $(FUZZTIME) ./govtool/keys
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./appliance/capability
	$(GO) test -run '^$$' -fuzz '^FuzzParseMintRequest$$' -fuzztime $(FUZZTIME) ./appliance/engine
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./appliance/continuity
	$(GO) test -run '^$$' -fuzz '^FuzzRequestBodies$$' -fuzztime $(FUZZTIME) ./appliance/api
	$(GO) test -run '^$$' -fuzz '^FuzzCaveats$$' -fuzztime $(FUZZTIME) ./appliance/capability
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 20x ./appliance/pq
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./appliance/backend/sealedfile
	$(GO) test -run '^$$' -fuzz '^FuzzParseTree$$' -fuzztime $(FUZZTIME) ./govtool/gitrepo
	$(GO) test -run '^$$' -fuzz '^FuzzParseTreeFrom$$' -fuzztime $(FUZZTIME) ./govtool/gitrepo
	$(GO) test -run '^$$' -fuzz '^FuzzUnchangedEnds$$' -fuzztime $(FUZZTIME) ./govtool/gitrepo
	$(GO) test -run '^$$' -fuzz '^FuzzApplyDelta$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./govtool/gitrepo
	$(GO) test -run '^$$' -fuzz '^FuzzParseEntryHeader$$' -fuzztime $(FUZZTIME) ./govtool/gitrepo
	$(GO) test -run '^$$' -fuzz '^FuzzParseLooseHeader$$' -fuzztime $(FUZZTIME) ./govtool/gitrepo
	$(GO) test -run '^$$' -fuzz '^FuzzParseState$$' -fuzztime $(FUZZTIME) ./appliance/sync
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME) ./appliance/audit
	$(GO) test -run '^$$' -fuzz '^FuzzMergeSignatures$$' -fuzztime $(FUZZTIME) ./govtool/cli
	$(GO) test -run '^$$' -fuzz '^FuzzParsePublicKey$$' -fuzztime $(FUZZTIME) ./govtool/cli
	$(GO) test -run '^$$' -fuzz '^FuzzGitHubEscape$$' -fuzztime $(FUZZTIME) ./govtool/cli
	$(GO) test -run '^$$' -fuzz '^FuzzMarkdownText$$' -fuzztime $(FUZZTIME) ./govtool/cli
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./govtool/policy
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./govtool/policy
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./govtool/proposal
	$(GO) test -run '^$$' -fuzz '^FuzzParseChange$$' -fuzztime $(FUZZTIME) ./govtool/proposal
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./govtool/quorum
	$(GO) test -run '^$$' -fuzz '^FuzzCommit$$' -fuzztime $(FUZZTIME) ./govtool/verify

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)
	shellcheck scripts/*.sh .ci/run

clean:
	rm -rf $(BIN)
