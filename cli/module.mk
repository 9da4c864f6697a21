# cli/module.mk - the `hframe` command, its man page and its end-to-end
# tests. Every cli/*.c is part of the binary (bench_*.c and cmd_bench.c
# included).

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/%.o)

$(CLI_OBJS): MOD_CFLAGS = -Iutil

$(O)/hframe: $(CLI_OBJS) $(LIBHFRAME_A) $(LIBUTIL_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(LIBUTIL_A) $(HF_LIBS) \
	    -lm -lpthread

BINS         += $(O)/hframe
MAN1         += docs/hframe.1
TEST_SCRIPTS += tests/e2e_cli.sh

# The Check suite of the CLI's pieces (tests/cli/check_cli.c): everything
# but main() and the subcommands, which the end-to-end tests cover.
CLI_CORE_OBJS := $(addprefix $(O)/cli/,util.o base64.o json.o ndjson.o sink.o \
                                  proxy.o)

$(O)/tests/cli/check_cli.o: MOD_CFLAGS = $(CHECK_CFLAGS) -Icli -Iutil

$(O)/tests/cli/check_cli: $(O)/tests/cli/check_cli.o $(CLI_CORE_OBJS) \
                          $(LIBHFRAME_A) $(LIBUTIL_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(CLI_CORE_OBJS) $(LIBUTIL_A) \
	    $(HF_LIBS) $(CHECK_LIBS)

TEST_BINS += $(O)/tests/cli/check_cli
