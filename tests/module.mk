# tests/module.mk - the codec's Check suite.
# Other modules build their own suites in their module.mk.

$(O)/tests/%.o: MOD_CFLAGS = $(CHECK_CFLAGS)

# The vectors are read from this tree ($HF_VECTORS overrides it at run
# time), wherever the suite is started from.
$(O)/tests/vectors.o: MOD_CFLAGS = -DHF_VECTORS_DIR='"$(CURDIR)/tests/vectors"'

# -pthread: the suite runs separate decoders on separate threads.
# The codec's objects, not libhframe.a: the suite also tests internal
# functions (yajl_arena.h), which the library keeps local.
$(O)/tests/check_codec: $(O)/tests/check_codec.o $(O)/tests/vectors.o \
                        $(CODEC_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -pthread -o $@ $(filter %.o,$^) $(YAJL_LIBS) \
	    $(CHECK_LIBS)

TEST_BINS += $(O)/tests/check_codec
TEST_SCRIPTS += tests/abi.sh
