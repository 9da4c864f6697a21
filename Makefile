# hframe - root Makefile (GNU make).
#
# One non-recursive build: every module keeps its rules in <dir>/module.mk,
# included below, and appends to the shared lists (BINS, TEST_BINS,
# TEST_SCRIPTS, MAN1, MAN3, MAN8). Outputs go under $(O) (default build/).
#
#   make            library, CLI and gateway
#   make check      deps, then the whole suite twice: gcc, and clang with
#                   AddressSanitizer + UndefinedBehaviorSanitizer;
#                   TEST_JOBS tests at once (default 2)
#   make run        the gateway on 127.0.0.1:65432 with the built-in index
#   make install    PREFIX=/usr/local, DESTDIR honoured; systemd units
#                   under SYSTEMDUNITDIR (pkg-config systemd's); ldconfig
#                   when DESTDIR is empty (LDCONFIG=: skips it)
#   make deb        the Debian packages, checked by lintian (deb-check:
#                   installed and tried on a clean root)
#   make V=1        show the full commands

.DEFAULT_GOAL := all

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
# systemd's own unit directory (pkg-config systemd), whatever PREFIX is:
# systemd looks there. The installed service runs $(SBINDIR)'s binary.
SYSTEMDUNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir \
                      systemd 2>/dev/null),/lib/systemd/system)
DESTDIR    ?=
# After installing into the live system (no DESTDIR), the dynamic
# linker's cache is refreshed so that programs find libhframe.so.0 in
# LIBDIR at once; a user who may not write the cache is told, not failed.
LDCONFIG    = $(if $(DESTDIR),@true,-ldconfig)

O          ?= build
SAN        ?=
PKG_CONFIG ?= pkg-config
CFLAGS     ?= -O2 -g
CPPFLAGS   ?=
LDFLAGS    ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Debian packages the build and the tests need (see `make deps`).
DEB_PACKAGES := libyajl-dev check pkg-config clang libclang-rt-14-dev \
                libjansson-dev python3 libsystemd-dev libmicrohttpd-dev \
                haproxy

YAJL_CFLAGS  = $(shell $(PKG_CONFIG) --cflags yajl)
YAJL_LIBS    = $(shell $(PKG_CONFIG) --libs yajl)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check)
SD_CFLAGS    = $(shell $(PKG_CONFIG) --cflags libsystemd)
SD_LIBS      = $(shell $(PKG_CONFIG) --libs libsystemd)
MHD_CFLAGS   = $(shell $(PKG_CONFIG) --cflags libmicrohttpd)
MHD_LIBS     = $(shell $(PKG_CONFIG) --libs libmicrohttpd)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wvla -Wformat=2 \
        -Wno-format-nonliteral

# Ours are appended to the user's CFLAGS (which keep control of -O/-g).
HF_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -fPIC \
            $(WARN) -Icodec $(YAJL_CFLAGS)
# Relocations resolved at load and made read-only (full RELRO), as
# Debian's hardening flags do for its packages.
HF_LDFLAGS = -Wl,-z,relro,-z,now
ifeq ($(SAN),1)
HF_CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
HF_LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS  = $(CFLAGS) $(HF_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(HF_LDFLAGS)

# Lists the modules append to.
BINS         :=
TEST_BINS    :=
TEST_SCRIPTS :=
MAN1         :=
MAN3         := docs/libhframe.3
MAN8         :=
UNITS        :=

# ---------------------------------------------------------------- codec
CODEC_SRCS := $(wildcard codec/*.c)
CODEC_OBJS := $(CODEC_SRCS:%.c=$(O)/%.o)
HFRAME_PC    := $(O)/hframe.pc

# The shared library: file name with the full version, soname with the
# major one (hframe.h says what the ABI promises); exports exactly what
# codec/hframe.map lists, everything else is built hidden.
HF_VERSION_STR := $(shell sed -n 's/^\#define HF_VERSION "\(.*\)"/\1/p' codec/hframe.h)
HF_SONAME      := libhframe.so.$(firstword $(subst ., ,$(HF_VERSION_STR)))
# Every function hframe.h exports: libhframe(3) names each, and each gets
# a link to that page (man hf_encode).
LPAREN         := (
HF_FUNCS       := $(shell sed -n 's/^HF_EXPORT .*[ *]\(hf_[a-z0-9_]*\)[$(LPAREN)].*/\1/p' codec/hframe.h)
LIBHFRAME_A    := $(O)/libhframe.a
LIBHFRAME_SO   := $(O)/libhframe.so.$(HF_VERSION_STR)
HF_SYMBOL_MAP  := codec/hframe.map

$(O)/codec/%.o: MOD_CFLAGS = -fvisibility=hidden

# The static library: one object whose hidden symbols (the codec's
# internal functions) are made local, so that only hframe.h's functions
# can meet a name of the program that links it.
OBJCOPY ?= objcopy
$(LIBHFRAME_A): $(CODEC_OBJS)
	@echo "  AR      $@"
	$(Q)$(CC) -r -nostdlib -o $(O)/libhframe.o $^ && \
	    $(OBJCOPY) --localize-hidden $(O)/libhframe.o && \
	    rm -f $@ && ar rcs $@ $(O)/libhframe.o

$(LIBHFRAME_SO): $(CODEC_OBJS) $(HF_SYMBOL_MAP)
	@echo "  LD      $@"
	$(Q)$(CC) -shared -Wl,-soname,$(HF_SONAME) \
	    -Wl,--version-script=$(HF_SYMBOL_MAP) $(ALL_LDFLAGS) -o $@ \
	    $(CODEC_OBJS) $(YAJL_LIBS)

# The paths are those of this make run: `make install PREFIX=...` writes
# the installed copy afresh, so a build made earlier never leaks its paths.
# Under $(PREFIX) they are written relative to ${prefix}.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
GEN_PC = sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(HF_VERSION_STR)|g'

$(HFRAME_PC): codec/hframe.pc.in codec/hframe.h Makefile
	@echo "  GEN     $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(GEN_PC) $< > $@

# Everything else links the static library (one binary, no rpath games).
HF_LIBS = $(LIBHFRAME_A) $(YAJL_LIBS)

$(O)/%.o: %.c
	@echo "  CC      $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(MOD_CFLAGS) -MMD -MP -c -o $@ $<

-include util/module.mk
-include cli/module.mk
-include gateway/module.mk
-include tests/module.mk
-include fuzz/module.mk
-include bench/module.mk
-include examples/module.mk

# ---------------------------------------------------------------- targets
.PHONY: all lib deps check test run install uninstall clean

lib: $(LIBHFRAME_A) $(LIBHFRAME_SO) $(HFRAME_PC)

all: lib $(BINS)

# Installs the Debian packages that are missing; a no-op when all are
# present (no network access then).
deps:
	$(Q)missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	        grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "  DEPS   $$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The whole suite, plain gcc and then clang with ASan+UBSan.
check: deps
	$(Q)$(MAKE) --no-print-directory O=build/gcc CC=gcc test
	$(Q)$(MAKE) --no-print-directory O=build/asan CC=clang SAN=1 test

# Two tests at once: the end-to-end ones mostly wait on their peers.
TEST_JOBS ?= 2

test: all $(TEST_BINS)
	$(Q)HF_BUILD=$(O) HF_TEST_JOBS=$(TEST_JOBS) sh tests/run-all.sh \
	    $(TEST_BINS) $(TEST_SCRIPTS)

run: deps
	$(Q)$(MAKE) --no-print-directory all
	exec $(O)/hframe-gateway 127.0.0.1 65432

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(LIBHFRAME_A) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(LIBHFRAME_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIBHFRAME_SO)) $(DESTDIR)$(LIBDIR)/$(HF_SONAME)
	ln -sf $(notdir $(LIBHFRAME_SO)) $(DESTDIR)$(LIBDIR)/libhframe.so
	install -m 644 codec/hframe.h $(DESTDIR)$(INCLUDEDIR)/
	$(GEN_PC) codec/hframe.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/hframe.pc
	$(if $(filter $(O)/hframe,$(BINS)),install -m 755 $(O)/hframe $(DESTDIR)$(BINDIR)/)
	$(if $(filter $(O)/hframe-gateway,$(BINS)),install -m 755 $(O)/hframe-gateway $(DESTDIR)$(SBINDIR)/)
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN3),install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/)
	$(foreach f,$(HF_FUNCS),ln -sf libhframe.3 \
	    $(DESTDIR)$(MANDIR)/man3/$(f).3 &&) true
	$(if $(MAN8),install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)
	$(if $(UNITS),install -d $(DESTDIR)$(SYSTEMDUNITDIR))
	$(foreach u,$(UNITS),sed 's|/usr/local/sbin/|$(SBINDIR)/|' $(u) \
	    > $(DESTDIR)$(SYSTEMDUNITDIR)/$(notdir $(u)) &&) true
	$(LDCONFIG)

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libhframe.a $(DESTDIR)$(LIBDIR)/libhframe.so \
	    $(DESTDIR)$(LIBDIR)/$(HF_SONAME) \
	    $(DESTDIR)$(LIBDIR)/$(notdir $(LIBHFRAME_SO)) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/hframe.pc \
	    $(DESTDIR)$(INCLUDEDIR)/hframe.h $(DESTDIR)$(BINDIR)/hframe \
	    $(DESTDIR)$(SBINDIR)/hframe-gateway \
	    $(DESTDIR)$(MANDIR)/man1/hframe.1 \
	    $(DESTDIR)$(MANDIR)/man3/libhframe.3 \
	    $(foreach f,$(HF_FUNCS),$(DESTDIR)$(MANDIR)/man3/$(f).3) \
	    $(DESTDIR)$(MANDIR)/man8/hframe-gateway.8 \
	    $(foreach u,$(UNITS),$(DESTDIR)$(SYSTEMDUNITDIR)/$(notdir $(u)))
	$(LDCONFIG)

# ---------------------------------------------------------------- packages
# Packaging tools, installed by `make deb-deps` (root, as `make deps`).
DEB_PACKAGING := dpkg-dev debhelper lintian debootstrap
# Outside build/: the package build and the clean root hold .d files and
# folders that the dependency include below must not see.
DEB_O         := build-deb

.PHONY: deb deb-check deb-deps

deb-deps:
	$(Q)$(MAKE) --no-print-directory deps \
	    DEB_PACKAGES="$(DEB_PACKAGES) $(DEB_PACKAGING)"

deb: deb-deps
	$(Q)sh tests/deb.sh build $(DEB_O)

deb-check: deb
	$(Q)sh tests/deb.sh check $(DEB_O)

clean:
	rm -rf build build-deb

-include $(shell find $(O) -name '*.d' -type f 2>/dev/null)
