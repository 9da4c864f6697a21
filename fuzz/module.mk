# fuzz/module.mk - fuzz harnesses, their replay drivers, the fuzz targets.
#
# Every harness fuzz/<name>.c defines LLVMFuzzerTestOneInput and is linked
# two ways:
#   $(O)/fuzz/replay_<name>  with fuzz/replay_main.c (plain main, no
#                            engine): built by `make test`, which replays
#                            corpus/<name>/ through it (fuzz/replay.sh),
#                            and alone by `make fuzz-replay-bins`;
#   $(O)/fuzz/<name>         with $(LIB_FUZZING_ENGINE): built by the
#                            fuzz targets below under their own $(O).
#
#   make fuzz              libFuzzer + ASan + UBSan, every harness for
#                          FUZZ_SECONDS (60) on FUZZ_JOBS (2) cores,
#                          crashes in fuzz/crashes/, a table at the end
#   make fuzz-merge        fold the campaigns' new inputs into corpus/
#   make fuzz-smoke        every harness for FUZZ_SMOKE_SECONDS (30); fails
#                          on a crash not in fuzz/known-bugs (CI)
#   make fuzz-coverage     line and branch coverage of the corpus alone
#   make fuzz-afl          AFL++ build, one harness for AFL_SECONDS (60)
#   make fuzz-engines      fuzz/build.sh (the OSS-Fuzz build) with libFuzzer,
#                          AFL++ and a standalone main; every harness run on
#                          its seed corpus, afl-fuzz ENGINE_SECONDS (5) each
#   make fuzz-m32          32-bit replay of the corpus
#   make fuzz-valgrind     replay of the corpus under valgrind
#   FUZZ_TARGETS="fuzz_decode fuzz_stream" restricts any of them.
# See docs/fuzzing.md.

# Every fuzz/fuzz_*.c but the shared helpers is a harness.
FUZZ_HARNESSES := $(filter-out fuzz_util, \
                    $(sort $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))))

JANSSON_CFLAGS = $(shell $(PKG_CONFIG) --cflags jansson)
JANSSON_LIBS   = $(shell $(PKG_CONFIG) --libs jansson)

$(O)/fuzz/%.o: MOD_CFLAGS = -Igateway $(JANSSON_CFLAGS)

FUZZ_COMMON_OBJS := $(O)/fuzz/fuzz_util.o
FUZZ_REPLAY_BINS := $(FUZZ_HARNESSES:%=$(O)/fuzz/replay_%)
FUZZ_ENGINE_BINS := $(FUZZ_HARNESSES:%=$(O)/fuzz/%)

# What a harness links beyond the codec: archives (also prerequisites)
# and libraries.
FUZZ_DEPS_fuzz_gateway_session := $(GW_CORE_A)
FUZZ_DEPS_fuzz_index           := $(GW_CORE_A)
FUZZ_DEPS_fuzz_relay_session   := $(GW_CORE_A)
FUZZ_DEPS_fuzz_proxy_header    := $(GW_CORE_A)
FUZZ_DEPS_fuzz_request         := $(GW_CORE_A)
FUZZ_LIBS_fuzz_header_diff      = $(JANSSON_LIBS)
FUZZ_LIBS_fuzz_index            = $(JANSSON_LIBS)

$(O)/fuzz/fuzz_gateway_session $(O)/fuzz/replay_fuzz_gateway_session \
$(O)/fuzz/fuzz_index $(O)/fuzz/replay_fuzz_index \
$(O)/fuzz/fuzz_relay_session $(O)/fuzz/replay_fuzz_relay_session \
$(O)/fuzz/fuzz_proxy_header $(O)/fuzz/replay_fuzz_proxy_header \
$(O)/fuzz/fuzz_request $(O)/fuzz/replay_fuzz_request: $(GW_CORE_A)

# The engine; OSS-Fuzz and AFL++ builds pass their own.
LIB_FUZZING_ENGINE ?= -fsanitize=fuzzer

$(FUZZ_REPLAY_BINS): $(O)/fuzz/replay_%: $(O)/fuzz/%.o \
        $(O)/fuzz/replay_main.o $(FUZZ_COMMON_OBJS) $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(O)/fuzz/$*.o $(O)/fuzz/replay_main.o \
	    $(FUZZ_COMMON_OBJS) $(FUZZ_DEPS_$*) $(HF_LIBS) $(FUZZ_LIBS_$*)

$(FUZZ_ENGINE_BINS): $(O)/fuzz/%: $(O)/fuzz/%.o $(FUZZ_COMMON_OBJS) \
        $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) $(LIB_FUZZING_ENGINE) -o $@ $(O)/fuzz/$*.o \
	    $(FUZZ_COMMON_OBJS) $(FUZZ_DEPS_$*) $(HF_LIBS) $(FUZZ_LIBS_$*)

# What every harness links besides its own source, for fuzz/build.sh
# (OSS-Fuzz), which compiles them with the builder's flags.
FUZZ_LINK_SRCS = $(CODEC_SRCS) $(GW_CORE_SRCS) $(GW_LOOP_SRCS) \
                 gateway/gw_memio.c fuzz/fuzz_util.c

.PHONY: fuzz-link-srcs
fuzz-link-srcs:
	@echo $(FUZZ_LINK_SRCS)

# `make test` replays the whole corpus through every harness.
test: $(FUZZ_REPLAY_BINS)
TEST_SCRIPTS += fuzz/replay.sh

.PHONY: fuzz-replay-bins fuzz-engine-bins fuzz fuzz-merge fuzz-smoke \
        fuzz-coverage fuzz-afl fuzz-m32 fuzz-valgrind fuzz-engines

fuzz-replay-bins: $(FUZZ_REPLAY_BINS)
fuzz-engine-bins: $(FUZZ_ENGINE_BINS)

FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_JOBS    ?= 2
FUZZ_TARGETS ?= $(FUZZ_HARNESSES)
AFL_SECONDS  ?= 60
AFL_TARGET   ?= fuzz_decode
ENGINE_SECONDS ?= 5

# Each engine build gets its own output directory under $(O).
FUZZ_LF_O  := $(O)/libfuzzer
FUZZ_COV_O := $(O)/coverage
FUZZ_AFL_O := $(O)/afl
FUZZ_M32_O := $(O)/m32
FUZZ_VG_O  := $(O)/valgrind
FUZZ_ENG_O := $(O)/engines

FUZZ_LF_MAKE = $(MAKE) --no-print-directory O=$(FUZZ_LF_O) CC=clang SAN=1 \
               CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" \
               LIB_FUZZING_ENGINE=-fsanitize=fuzzer fuzz-engine-bins

fuzz: deps
	$(Q)$(FUZZ_LF_MAKE)
	$(Q)sh fuzz/run.sh run $(FUZZ_LF_O) $(FUZZ_SECONDS) $(FUZZ_JOBS) \
	    $(FUZZ_TARGETS)

fuzz-smoke: deps
	$(Q)$(FUZZ_LF_MAKE)
	$(Q)sh fuzz/run.sh smoke $(FUZZ_LF_O) $(FUZZ_SMOKE_SECONDS) $(FUZZ_JOBS) \
	    $(FUZZ_TARGETS)

fuzz-merge: deps
	$(Q)$(FUZZ_LF_MAKE)
	$(Q)sh fuzz/run.sh merge $(FUZZ_LF_O) 0 1 $(FUZZ_TARGETS)

fuzz-coverage: deps
	$(Q)MAKE="$(MAKE)" sh fuzz/extras.sh coverage $(FUZZ_COV_O) $(FUZZ_TARGETS)

fuzz-afl: deps
	$(Q)MAKE="$(MAKE)" sh fuzz/extras.sh afl $(FUZZ_AFL_O) $(AFL_SECONDS) $(AFL_TARGET)

fuzz-m32: deps
	$(Q)MAKE="$(MAKE)" sh fuzz/extras.sh m32 $(FUZZ_M32_O) $(FUZZ_TARGETS)

fuzz-valgrind: deps
	$(Q)MAKE="$(MAKE)" sh fuzz/extras.sh valgrind $(FUZZ_VG_O) $(FUZZ_TARGETS)

# afl++ for its compilers and driver, zip and unzip for the seed corpora.
fuzz-engines: deps
	$(Q)$(MAKE) --no-print-directory deps DEB_PACKAGES="afl++ zip unzip"
	$(Q)sh fuzz/engines.sh $(FUZZ_ENG_O) $(ENGINE_SECONDS)
