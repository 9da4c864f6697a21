# bench/module.mk - benchmarks and the hardening suite. Never part of
# `make check`:
#
#   make bench             codec microbenchmarks, then the gateway and the
#                          reference server under `hframe bench`; a table,
#                          $(O)/bench.json and docs/bench-*.svg
#   make stress            the hardening suite against a running gateway
#                          (STRESS_SECONDS, default 60)
#   make stress-valgrind   the gateway under valgrind memcheck with a short
#                          mixed load
#
# BENCH_SECONDS sets the length of each gateway measurement (default 3),
# BENCH_REPEAT how many times each is repeated, the best kept (default 1).

BENCH_SECONDS  ?= 3
BENCH_REPEAT   ?= 1
STRESS_SECONDS ?= 60

BENCH_TOOLS := $(O)/bench/bench_codec $(O)/bench/ref_server

$(O)/bench/bench_codec: $(O)/bench/bench_codec.o $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(HF_LIBS)

$(O)/bench/ref_server: $(O)/bench/ref_server.o $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(HF_LIBS)

.PHONY: bench stress stress-valgrind bench-tools bench-deps

bench-tools: $(BENCH_TOOLS)

# gnuplot draws the figures and haproxy (TCP mode) is what the relay is
# compared with: each COMMAND:PACKAGE is installed when COMMAND is
# missing. Here, not in `make deps`, because only the benchmarks need
# them.
BENCH_DEPS := gnuplot:gnuplot-nox haproxy:haproxy

bench-deps: deps
	$(Q)missing=""; for d in $(BENCH_DEPS); do \
	    PATH="$$PATH:/usr/sbin:/sbin" command -v $${d%%:*} >/dev/null \
	        2>&1 || missing="$$missing $${d#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "  DEPS   $$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq || echo "  DEPS    apt-get update failed;" \
	        "trying the package lists at hand"; \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench: bench-deps
	$(Q)$(MAKE) --no-print-directory all bench-tools
	$(Q)python3 bench/run_bench.py --build $(O) --seconds $(BENCH_SECONDS) \
	    --repeat $(BENCH_REPEAT) --json $(O)/bench.json --svg-dir docs

stress: deps
	$(Q)$(MAKE) --no-print-directory all bench-tools
	$(Q)python3 bench/stress.py --build $(O) --seconds $(STRESS_SECONDS)

stress-valgrind: deps
	$(Q)command -v valgrind >/dev/null 2>&1 || { \
	    echo "  DEPS    valgrind"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends valgrind; }
	$(Q)$(MAKE) --no-print-directory all bench-tools
	$(Q)python3 bench/stress.py --build $(O) --valgrind

# `make test` builds the reference server for tests/e2e_bench.sh (and
# both tools, so they stay warning-free under every compiler).
test: $(BENCH_TOOLS)
TEST_SCRIPTS += tests/e2e_bench.sh
