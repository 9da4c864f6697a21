# util/module.mk - libutil.a, what the CLI and the gateway share beyond
# the codec (util/util.h), and its Check suite.

UTIL_SRCS := $(wildcard util/*.c)
UTIL_OBJS := $(UTIL_SRCS:%.c=$(O)/%.o)
LIBUTIL_A := $(O)/libutil.a

$(LIBUTIL_A): $(UTIL_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/tests/check_util.o: MOD_CFLAGS = $(CHECK_CFLAGS) -Iutil

$(O)/tests/check_util: $(O)/tests/check_util.o $(LIBUTIL_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBUTIL_A) $(YAJL_LIBS) $(CHECK_LIBS)

TEST_BINS += $(O)/tests/check_util
