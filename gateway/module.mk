# gateway/module.mk - hframe-gateway, its Check suite and end-to-end tests.

GW_CORE_SRCS := gateway/gw_status.c gateway/gw_buf.c gateway/gw_json.c \
                gateway/gw_index.c gateway/gw_handler.c gateway/gw_side.c \
                gateway/gw_conn.c gateway/gw_serve.c gateway/gw_relay.c \
                gateway/gw_pool.c gateway/gw_upconn.c gateway/gw_drive.c \
                gateway/gw_proxy.c gateway/gw_hist.c
# The event loop's parts, tested alone too.
GW_LOOP_SRCS := gateway/gw_timer.c gateway/gw_poll.c \
                gateway/gw_poll_select.c gateway/gw_poll_epoll.c \
                gateway/gw_log.c
# gw_memio.c plays a connection's peers in memory: tests and fuzzers only.
GW_CORE_OBJS := $(GW_CORE_SRCS:%.c=$(O)/%.o) \
                $(GW_LOOP_SRCS:%.c=$(O)/%.o) $(O)/gateway/gw_memio.o
GW_SRCS      := $(GW_CORE_SRCS) $(GW_LOOP_SRCS) \
                gateway/gw_stats.c gateway/gw_shared.c \
                gateway/gw_sockio.c gateway/gw_accept.c \
                gateway/gw_loop.c \
                gateway/gw_options.c gateway/gw_net.c gateway/gw_signal.c \
                gateway/gw_reload.c gateway/gw_supervisor.c \
                gateway/gw_systemd.c gateway/gw_privs.c gateway/gw_metrics.c \
                gateway/gw_main.c
GW_OBJS      := $(GW_SRCS:%.c=$(O)/%.o)

# Sans-I/O parts as a library, for the tests and the fuzz harnesses.
GW_CORE_A := $(O)/libgwcore.a

$(GW_CORE_A): $(GW_CORE_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(GW_OBJS): MOD_CFLAGS = -Iutil $(SD_CFLAGS) $(MHD_CFLAGS)
$(O)/gateway/gw_reload.o: MOD_CFLAGS += -pthread

$(O)/hframe-gateway: $(GW_OBJS) $(LIBHFRAME_A) $(LIBUTIL_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(GW_OBJS) $(LIBUTIL_A) $(HF_LIBS) \
	    $(SD_LIBS) $(MHD_LIBS) -pthread

# The Check suites, one file per component under tests/gateway/.
GW_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard tests/gateway/*.c)) \
                $(O)/tests/check_gateway.o

$(GW_TEST_OBJS): MOD_CFLAGS = $(CHECK_CFLAGS) -Igateway -Itests

$(O)/tests/check_gateway: $(GW_TEST_OBJS) $(GW_CORE_A) $(LIBHFRAME_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(GW_TEST_OBJS) $(GW_CORE_A) $(HF_LIBS) \
	    $(CHECK_LIBS)

BINS         += $(O)/hframe-gateway
TEST_BINS    += $(O)/tests/check_gateway
TEST_SCRIPTS += tests/e2e_gateway.sh
TEST_SCRIPTS += tests/e2e_relay.sh
TEST_SCRIPTS += tests/e2e_epoll.sh
TEST_SCRIPTS += tests/e2e_ops.sh
TEST_SCRIPTS += tests/e2e_haproxy.sh
MAN8         += docs/hframe-gateway.8
UNITS        += docs/examples/hframe-gateway.service \
                docs/examples/hframe-gateway.socket
