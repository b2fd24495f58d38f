# Helpers shared by the CLI test scripts (sourced). They need $T (a scratch directory) and count
# failures in $fails.
fails=0

# child_alive PID: PID is still a running child of this shell. A PID bash has already reaped can
# be given to another process (pid_max is small, and the suite starts thousands), so a plain
# `kill -0 PID` or `kill PID` may reach another test's process.
child_alive() {
    local st
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${st##*) } # after the command's name: the state, then the parent
    set -- $st
    [ "${1:-}" != Z ] && [ "${2:-}" = "$$" ]
}

# kill_children PID...: SIGTERM each PID that is still a running child of this shell.
kill_children() {
    local p
    for p in "$@"; do child_alive "$p" && kill "$p" 2>/dev/null; done
    return 0
}

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

# mpi_wait JOB LAUNCHER WITHIN: wait for the background job JOB (mpirun, or `timeout` running
# it), one of whose processes (LAUNCHER's children) was killed. Returns the job's status; 124
# when one of its processes still ran WITHIN seconds later (the processes did not stop: the job
# is killed); 125 when every process had ended but the launcher had not returned 20 seconds
# later. Open MPI's mpirun can miss a process killed while the job starts and wait forever for
# it, after the others have ended: the launcher is killed then, and the caller counts it apart
# (the processes, ours, did stop).
mpi_wait() {
    local job=$1 launcher=$2 within=$3 t0=$SECONDS ended="" seen=0 p st alive kids
    while kill -0 "$job" 2>/dev/null && [ "$(ps -o stat= -p "$job" 2>/dev/null | cut -c1)" != Z ]; do
        alive=0
        kids=$(pgrep -P "$launcher" 2>/dev/null)
        for p in $kids; do
            seen=1
            st=$(ps -o stat= -p "$p" 2>/dev/null)
            [ -n "$st" ] && [ "${st:0:1}" != Z ] && alive=1
        done
        if [ "$alive" = 1 ]; then
            ended=""
            if [ $((SECONDS - t0)) -ge "$within" ]; then
                kill -9 $kids "$launcher" "$job" 2>/dev/null
                wait "$job" 2>/dev/null
                return 124
            fi
        elif [ "$seen" = 1 ]; then
            [ -n "$ended" ] || ended=$SECONDS
            if [ $((SECONDS - ended)) -ge 20 ]; then
                kill -9 "$launcher" "$job" 2>/dev/null
                wait "$job" 2>/dev/null
                return 125
            fi
        fi
        sleep 0.1
    done
    wait "$job"
}
