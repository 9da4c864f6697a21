#!/bin/bash -eu
# ClusterFuzzLite build script, as OSS-Fuzz's: the project's own
# fuzz/build.sh does the work with the builder's CC, CXX, CFLAGS,
# CXXFLAGS, LIB_FUZZING_ENGINE, OUT, WORK, SRC and SANITIZER.
"$SRC/hframe/fuzz/build.sh"
