# gateway/module.mk - hframe-gateway, its Check suite and end-to-end tests.

GW_CORE_SRCS := gateway/gw_buf.c gateway/gw_json.c gateway/gw_index.c \
                gateway/gw_handler.c gateway/gw_conn.c gateway/gw_proxy.c
GW_CORE_OBJS := $(GW_CORE_SRCS:%.c=$(O)/%.o)
GW_SRCS      := $(GW_CORE_SRCS) gateway/gw_log.c gateway/gw_loop.c \
                gateway/gw_main.c
GW_OBJS      := $(GW_SRCS:%.c=$(O)/%.o)

# Sans-I/O parts as a library, for the tests and the fuzz harnesses.
GW_CORE_A := $(O)/libgwcore.a

$(GW_CORE_A): $(GW_CORE_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/hframe-gateway: $(GW_OBJS) $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(GW_OBJS) $(HF_LIBS)

$(O)/tests/check_gateway.o: MOD_CFLAGS = $(CHECK_CFLAGS) -Igateway

$(O)/tests/check_gateway: $(O)/tests/check_gateway.o $(GW_CORE_A) \
                          $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(GW_CORE_A) $(HF_LIBS) $(CHECK_LIBS)

BINS         += $(O)/hframe-gateway
TEST_BINS    += $(O)/tests/check_gateway
TEST_SCRIPTS += tests/e2e_gateway.sh
TEST_SCRIPTS += tests/e2e_relay.sh
MAN8         += docs/hframe-gateway.8
