#!/bin/sh
# Replays every file of corpus/<harness>/ through $HF_BUILD/fuzz/replay_<harness>
# (part of `make test`). A broken invariant aborts the replay driver and
# fails this test; the last "replay" line names the input when
# REPLAY_VERBOSE=1.
: "${HF_BUILD:=build}"
status=0
for bin in "$HF_BUILD"/fuzz/replay_fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/replay_}
    dir=corpus/$name
    if [ ! -d "$dir" ]; then
        echo "replay: no corpus for $name" >&2
        status=1
        continue
    fi
    "$bin" "$dir" || { echo "replay: $name FAILED" >&2; status=1; }
done
exit $status
