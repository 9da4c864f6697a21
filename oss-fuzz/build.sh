#!/bin/bash -eu
# OSS-Fuzz build script (projects/hframe/build.sh): the project's own
# fuzz/build.sh does the work with the builder's CC, CXX, CFLAGS,
# CXXFLAGS, LIB_FUZZING_ENGINE, OUT, WORK, SRC and SANITIZER.
"$SRC/hframe/fuzz/build.sh"
