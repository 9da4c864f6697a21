# cli/module.mk - the `hframe` command, its man page and its end-to-end
# tests. Every cli/*.c is part of the binary (cmd_bench.c included).

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/%.o)

$(O)/hframe: $(CLI_OBJS) $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(HF_LIBS) -lm -lpthread

BINS         += $(O)/hframe
MAN1         += docs/hframe.1
TEST_SCRIPTS += tests/e2e_cli.sh
