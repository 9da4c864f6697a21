#!/bin/sh
# Runs every test program and script named on the command line, in order,
# and ends with one summary line. Test programs are Check suites; scripts
# (*.sh) are end-to-end tests that find the binaries under $HF_BUILD.
# Exit status: 0 when everything passed, 1 otherwise.
: "${HF_BUILD:=build}"
export HF_BUILD
passed=0
failed=0
failed_names=""
for t in "$@"; do
    echo "  TEST    $t"
    case "$t" in
        *.sh) sh "$t" ;;
        *) "$t" ;;
    esac
    if [ $? -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $t"
    fi
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
