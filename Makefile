# Switchboard — the only Makefile (non-recursive).
#
#   make              build everything (debug mode) with -Werror
#   make run          install missing packages, build, start the suite locally
#   make test         install missing packages, build with ASan+UBSan, run unit
#                     and integration tests
#   make bench        benchmark (release build; see bench/bench.sh)
#   make help         list every target
#
# Modes: MODE=debug (default), MODE=release or MODE=fuzz (clang, libFuzzer); SANITIZE=address,undefined adds
# the sanitizers. Objects go to build/<mode>[-san]/, binaries to .../bin/.

MODE     ?= debug
SANITIZE ?=
VERSION  := 0.1.0

BUILD    := build/$(MODE)$(if $(SANITIZE),-san)
BIN      := $(BUILD)/bin
PKGS     := libczmq libzmq libpq msgpack libmicrohttpd libsodium jansson libcurl libjwt libcrypto

CC       ?= cc
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wno-missing-field-initializers -Wwrite-strings -fno-common -Werror
CFLAGS   := -std=c11 -D_GNU_SOURCE -DSB_VERSION='"$(VERSION)"' $(WARN) \
            -Icommon/include -MMD -MP -g -pthread
LDFLAGS  := -pthread

ifeq ($(MODE),release)
CFLAGS   += -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -DNDEBUG
else ifeq ($(MODE),fuzz)
# The libFuzzer build (tests/fuzz): clang, every object instrumented for
# coverage, ASan and UBSan; the harnesses add libFuzzer's main at link.
CC       := clang
CFLAGS   += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
else
CFLAGS   += -O0
endif
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# pkg-config is asked only when a compiling target needs it, so that
# `make help`, `make clean` and `make deps` work on a machine without the libraries.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SERVICES := auth tenant billing usage

COMMON_SRC := $(wildcard common/src/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIBSB      := $(BUILD)/libsb.a

GW_SRC     := $(filter-out gateway/src/main.c,$(wildcard gateway/src/*.c))
GW_OBJ     := $(GW_SRC:%.c=$(BUILD)/%.o)
LIBGW      := $(BUILD)/libgw.a

EMBED      := $(BUILD)/tools/sb-embed-sql

# npm builds /docs (see "/docs" below); without it, all skips that.
NPM        := $(shell command -v npm 2>/dev/null)

BINARIES   := $(BIN)/gateway $(SERVICES:%=$(BIN)/%-svc) $(BIN)/sb-call $(BIN)/sb-events \
              $(BIN)/sb-mail $(BIN)/sb-selftest $(BIN)/sb-usage-bench $(BIN)/switchboardctl

.PHONY: all deps run test unit integration clean help check-pkgs bench bench-compare bench-curve bench-scale docs \
        fuzz fuzz-smoke fuzzers soak \
        docs-missing docs-screenshot dashboard-screenshots lint-openapi
all: check-pkgs $(BINARIES) $(if $(NPM),docs,docs-missing)

help:
	@echo "make              build everything ($(BUILD))"
	@echo "make run          install missing packages, build, run the suite on :8080"
	@echo "make test         install missing packages, build with sanitizers, run all tests"
	@echo "make unit         unit tests only (selftests)"
	@echo "make integration  integration tests only (tests/t*.sh through prove)"
	@echo "make lint-openapi lint docs/openapi.yaml (npm ci, then @redocly/cli)"
	@echo "make deps         install missing Debian packages (apt-get as root)"
	@echo "make bench        release build, benchmark the main paths with wrk (bench/results/)"
	@echo "make bench-curve  what CURVE on the bus costs: plaintext and CURVE runs side by side"
	@echo "make bench-scale  how each read path grows with the data (SCALE_SIZES calls), many organizations (SCALE_ORGS)"
	@echo "make bench-compare the same side by side with the peers in $(SHARED_BENCH), ratios to the targets"
	@echo "make docs         npm ci, then /docs's files: Redoc, the guides ($(BUILD)/share/docs)"
	@echo "make docs-screenshot  docs/img/docs.png: /docs in headless Chromium"
	@echo "make dashboard-screenshots  docs/img/dashboard-*.png: Home and Businesses, desktop and phone"
	@echo "make soak         SOAK_MINUTES (60) of mixed load with faults injected, then reconciled (bench/soak.sh)"
	@echo "make fuzz         libFuzzer harnesses (tests/fuzz), each FUZZ_SECONDS (600) or FUZZ_RUNS, FUZZ_JOBS at once, F=NAME[,NAME]"
	@echo "make fuzz-smoke   each harness over its committed corpus and a few seconds (part of make test)"
	@echo "make clean        remove build/"
	@echo "variables: MODE=debug|release SANITIZE=address,undefined T=tNNNN (one test)"

deps:
	@deploy/local/deps.sh

check-pkgs:
	@for p in $(PKGS); do pkg-config --exists $$p || \
	  { echo "missing library $$p: run 'make deps' (see deploy/local/deps.sh for the Debian package)"; exit 1; }; done

# ---- objects -------------------------------------------------------------
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# The shipped plan catalogue, linked in as data (symbols
# _binary_deploy_plans_json_start/_end, named after the path given to ld).
$(BUILD)/deploy/plans.o: deploy/plans.json
	@mkdir -p $(dir $@)
	$(LD) -r -b binary -z noexecstack -o $@ deploy/plans.json

# The skeleton's migrations (common/sql: tables every service's schema
# has, versions 9000 and up), embedded like a service's.
$(BUILD)/common/migrations.c: $(wildcard common/sql/*.sql) $(EMBED)
	@mkdir -p $(dir $@)
	$(EMBED) sb_skeleton $@ $(sort $(wildcard common/sql/*.sql))
$(BUILD)/common/migrations.o: $(BUILD)/common/migrations.c
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIBSB): $(COMMON_OBJ) $(BUILD)/deploy/plans.o $(BUILD)/common/migrations.o
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The API reference: docs/openapi.yaml (the source) as JSON, linked into
# the gateway as data; ld runs in $(BUILD) so that the symbols are
# _binary_docs_openapi_json_start/_end whatever the mode.
$(BUILD)/docs/openapi.json: docs/openapi.yaml tools/openapi_json.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 tools/openapi_json.py $< $@
$(BUILD)/docs/openapi.o: $(BUILD)/docs/openapi.json
	cd $(BUILD) && $(LD) -r -b binary -z noexecstack -o docs/openapi.o docs/openapi.json

$(LIBGW): $(GW_OBJ) $(BUILD)/docs/openapi.o
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The migration embedder is a build tool: no sanitizers, no libraries.
$(EMBED): tools/sb-embed-sql.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 $< -o $@

# ---- gateway -------------------------------------------------------------
$(BIN)/gateway: $(BUILD)/gateway/src/main.o $(LIBGW) $(LIBSB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- services: <name>-svc/src/*.c plus the embedded <name>-svc/sql/*.sql --
define SERVICE_RULES
$(1)_SRC := $$(wildcard $(1)-svc/src/*.c)
$(1)_OBJ := $$($(1)_SRC:%.c=$$(BUILD)/%.o) $$(BUILD)/$(1)-svc/migrations.o
$$(BUILD)/$(1)-svc/migrations.c: $$(wildcard $(1)-svc/sql/*.sql) $$(EMBED)
	@mkdir -p $$(dir $$@)
	$$(EMBED) $(1) $$@ $$(sort $$(wildcard $(1)-svc/sql/*.sql))
$$(BUILD)/$(1)-svc/migrations.o: $$(BUILD)/$(1)-svc/migrations.c
	$$(CC) $$(CFLAGS) $$(PKG_CFLAGS) -c $$< -o $$@
$$(BIN)/$(1)-svc: $$($(1)_OBJ) $$(LIBSB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call SERVICE_RULES,$(s))))

# ---- tools and tests -----------------------------------------------------
$(BIN)/sb-%: $(BUILD)/tools/sb-%.o $(LIBSB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# switchboardctl: the operator's tool, one file per command (tools/ctl/ctl.h).
CTL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/ctl/*.c))
$(BIN)/switchboardctl: $(CTL_OBJ) $(LIBSB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# sb-selftest links every service's objects but its main.c, for the
# selftest that holds the gateway's routes against the services' op tables.
SERVICES_OBJ = $(foreach s,$(SERVICES),$(filter-out %/src/main.o,$($(s)_OBJ)))

$(BIN)/sb-selftest: $(BUILD)/tests/unit/selftest.o $(SERVICES_OBJ) $(LIBGW) $(LIBSB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- fuzzing (tests/fuzz) ---------------------------------------------------
# One harness per tests/fuzz/NAME.c, linked like sb-selftest (every
# service's objects), built only in MODE=fuzz: $(BUILD)/bin/fuzz-NAME.
# `make fuzz` runs each for FUZZ_SECONDS (or FUZZ_RUNS executions, when
# set and reached first) over a working copy of its corpus;
# `make fuzz-smoke` (part of `make test`) runs each over its committed
# corpus and regressions, then a few seconds more (tests/fuzz/run.sh).
FUZZ_SRC      := $(wildcard tests/fuzz/*.c)
FUZZERS       := $(FUZZ_SRC:tests/fuzz/%.c=$(BIN)/fuzz-%)
FUZZ_SECONDS  ?= 600
FUZZ_JOBS     ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_RUNS     ?= 0

# Kept: a harness's object is otherwise an intermediate make deletes.
.SECONDARY: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%.o)

$(BIN)/fuzz-%: $(BUILD)/tests/fuzz/%.o $(SERVICES_OBJ) $(LIBGW) $(LIBSB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzzers: check-pkgs $(FUZZERS)

fuzz:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) MODE=fuzz fuzzers
	@FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run.sh long $(FUZZ_SECONDS) $(FUZZ_JOBS) $(if $(F),$(F))

fuzz-smoke:
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) MODE=fuzz fuzzers
	@tests/fuzz/run.sh smoke $(or $(FUZZ_SMOKE_SECONDS),3) $(FUZZ_JOBS) $(if $(F),$(F))

# ---- /docs: the API reference and the guides ------------------------------
# `make docs`: npm ci (package-lock.json: Redoc, marked), then
# tools/docs-build.mjs writes $(DOCS_DIR): Redoc's standalone bundle, the
# page that runs it on /openapi.json, docs/guides/*.md as HTML. The gateway
# serves that directory (gateway/src/gw_static.c: ../share/docs from its
# binary, or SWITCHBOARD_DOCS_DIR). `make` builds it when npm is installed;
# without npm everything else builds and runs, and /docs answers 503
# (deploy/local/deps.sh test installs nodejs and npm).
DOCS_DIR  := $(BUILD)/share/docs
NPM_STAMP := node_modules/.package-lock.json

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(DOCS_DIR)/index.html: $(NPM_STAMP) tools/docs-build.mjs $(wildcard docs/site/*) \
                        $(wildcard docs/guides/*.md) $(wildcard docs/guides)
	node tools/docs-build.mjs $(DOCS_DIR)

# The customer dashboard (gateway/www/, plain JavaScript modules, no
# bundler): tools/www-build.mjs copies it into $(WWW_DIR), beside
# $(DOCS_DIR), where the gateway finds it (GET / and /app/...).
WWW_DIR   := $(BUILD)/share/www

$(WWW_DIR)/index.html: tools/www-build.mjs $(wildcard gateway/www/*)
	node tools/www-build.mjs $(WWW_DIR)

docs: $(DOCS_DIR)/index.html $(WWW_DIR)/index.html

docs-missing:
	@echo "make: no npm, so no $(DOCS_DIR): /docs will answer 503 (install nodejs and npm, then make docs)"

# docs/img/docs.png, the README's picture of /docs: the suite with this
# build, headless Chromium (Debian's; installed by deps.sh test).
docs-screenshot:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory all docs
	@SB_BIN=$(abspath $(BIN)) tools/docs-screenshot.sh docs/img/docs.png

dashboard-screenshots:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory all docs
	@SB_BIN=$(abspath $(BIN)) tools/dashboard-screenshots.sh docs/img

# `make test`: packages, a release build (what `make run` uses must compile
# too), the sanitizer build, unit tests, then integration tests.
# The sanitizer build lives in its own directory so it never mixes objects
# with the debug build.
test:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory MODE=release all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@$(MAKE) --no-print-directory lint-openapi
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory SANITIZE=address,undefined unit integration

# The OpenAPI document linted with Redocly's recommended rules (package.json
# pins @redocly/cli; npm ci installs exactly package-lock.json). No errors
# allowed; warnings are printed.
lint-openapi:
	npm ci --no-audit --no-fund --loglevel=error
	npx --no-install redocly lint docs/openapi.yaml

# Every class's selftest: libsb's and the gateway's in sb-selftest (-t NAME
# for one), then each service's own (`<name>-svc --selftest`).
unit: all
	ASAN_OPTIONS=detect_leaks=1 $(BIN)/sb-selftest $(if $(T),-t $(T))
	$(if $(T),,@set -e; for s in $(SERVICES); do echo "$(BIN)/$$s-svc --selftest"; \
	  ASAN_OPTIONS=detect_leaks=1 $(BIN)/$$s-svc --selftest; done)

# A failed assertion's diagnostics are printed again after prove's summary
# (SB_FAILLOG, tests/lib/suite.sh), so that the tail of a long log says why.
FAILLOG = $(abspath $(BUILD))/test-output/failures.log
integration: all
	@mkdir -p $(dir $(FAILLOG)) && rm -f $(FAILLOG)
	SB_FAILLOG=$(FAILLOG) SB_BIN=$(abspath $(BIN)) prove -j2 --timer $(if $(T),tests/$(T)*.sh,tests/t*.sh) \
	  || { echo "---- failed assertions ($(FAILLOG)) ----"; cat $(FAILLOG) 2>/dev/null; exit 1; }

run:
	@deploy/local/deps.sh run
	@$(MAKE) --no-print-directory MODE=release all
	@SB_BIN=$(abspath build/release/bin) deploy/local/run.sh

# `make bench`: release build, then bench/bench.sh (its own PostgreSQL,
# gateway and workers; installs wrk if missing). `make bench-compare`: the
# same Switchboard against the peers of the shared yardstick in one run
# (bench/compare.sh; installs the peers' packages if missing). Neither is
# part of `make test`: no timing is ever asserted there.
SHARED_BENCH ?= ../shared/bench

bench:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory MODE=release all
	@SB_BIN=$(abspath build/release/bin) bench/bench.sh

# `make bench-curve`: the cost of the CURVE-secured bus, plaintext and CURVE
# runs alternating (bench/curve.sh).
bench-curve:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory MODE=release all
	@SB_BIN=$(abspath build/release/bin) bench/curve.sh

# `make bench-scale`: how each read path's cost grows with one organization's
# calls (SCALE_SIZES), and the gateway with many organizations (SCALE_ORGS)
# (bench/scale.sh; minutes of loading at 10,000,000 calls).
bench-scale:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory MODE=release all
	@SB_BIN=$(abspath build/release/bin) bench/scale.sh

# `make soak`: the suite for SOAK_MINUTES (60) under a mixed load with
# faults injected, then the reconciliation (bench/soak.sh says what).
soak:
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory MODE=release all
	@SB_BIN=$(abspath build/release/bin) bench/soak.sh

bench-compare:
	@test -f $(SHARED_BENCH)/bench.sh || { echo "make bench-compare: no $(SHARED_BENCH)/bench.sh, the peers' yardstick;" \
	  "set SHARED_BENCH=<its folder> (default ../shared/bench)" >&2; exit 1; }
	@deploy/local/deps.sh test
	@$(MAKE) --no-print-directory MODE=release all
	@SB_BIN=$(abspath build/release/bin) SHARED_BENCH=$(abspath $(SHARED_BENCH)) bench/compare.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
