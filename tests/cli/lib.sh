# Helpers shared by the CLI test scripts (sourced). They need $T (a scratch directory) and count
# failures in $fails.
fails=0

# expect CODE EXPECTED_STDOUT -- COMMAND...: run, compare the exit code and stdout exactly.
expect() {
    local code=$1 want=$2
    shift 3
    local got rc
    got=$("$@" 2>"$T/stderr")
    rc=$?
    if [ "$rc" != "$code" ] || [ "$got" != "$want" ]; then
        echo "FAIL: $*"
        echo "  exit $rc (want $code)"
        echo "  stdout: $(printf '%q' "$got")"
        echo "  want:   $(printf '%q' "$want")"
        echo "  stderr: $(cat "$T/stderr")"
        fails=$((fails + 1))
    fi
}

# expect_err CODE STDERR_SUBSTRING -- COMMAND...: the exit code and a part of the error message.
expect_err() {
    local code=$1 want=$2
    shift 3
    local rc
    "$@" >/dev/null 2>"$T/stderr"
    rc=$?
    if [ "$rc" != "$code" ] || ! grep -qF -- "$want" "$T/stderr"; then
        echo "FAIL: $*"
        echo "  exit $rc (want $code); stderr: $(cat "$T/stderr") (want '$want')"
        fails=$((fails + 1))
    fi
}

# finish NAME: report and exit non-zero when anything failed.
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$fails $1 checks failed"
        exit 1
    fi
    echo "all $1 checks passed"
}
