# examples/module.mk - the library's example programs. They are built
# only by tests/e2e_examples.sh, as another project would build them:
# against a copy of the library installed under a scratch prefix, with
# the flags pkg-config gives. The script runs the inner `make install`
# with the compiler and sanitizer setting of this build.

test: export HF_CC = $(CC)
test: export HF_SAN = $(SAN)

TEST_SCRIPTS += tests/e2e_examples.sh
