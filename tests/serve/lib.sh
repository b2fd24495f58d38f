# Helpers shared by the strata serve tests (sourced). They need $S (the strata binary), $P (the
# pool), $T (a scratch directory) and the array PIDS, whose processes the caller's cleanup kills.

# serve_start [ARGS...]: start a server on a free loopback port (ARGS may say --listen otherwise);
# sets U (its address; 127.0.0.1 for 0.0.0.0) and SERR (the file of its stderr).
serve_start() {
    local out=$T/serve.${#PIDS[@]}.out
    SERR=$out.err
    # (its scratch files in T: another test's server may have downloads running in TMPDIR)
    TMPDIR=$T "$S" -P "$P" serve --listen 127.0.0.1:0 --threads 4 --timeout 2 --max-body 64K "$@" \
        >"$out" 2>"$out.err" &
    PIDS+=($!)
    # (60 s at most: a sanitizer build on a loaded machine starts slowly)
    for _ in $(seq 1200); do grep -q listening "$out" 2>/dev/null && break; sleep 0.05; done
    U=$(grep -o 'http://[0-9.]*:[0-9]*' "$out" | sed 's#//0.0.0.0:#//127.0.0.1:#')
    [ -n "$U" ] || { echo "FAIL: server did not start: $(cat "$out.err")"; exit 1; }
}

# compile_snippet SRC EXE: compile a generated C snippet against the library next to $S, as the
# library was built (SNIPPET_CC and SNIPPET_FLAGS, set by CMake); the compiler's errors go to
# EXE.err. Returns the compiler's status.
compile_snippet() {
    # shellcheck disable=SC2086
    ${SNIPPET_CC:-cc} -std=c11 ${SNIPPET_FLAGS:-} -I"$(dirname "${BASH_SOURCE[0]}")/../../include" "$1" \
        "$(dirname "$S")/libstrata.a" -lsqlite3 -lxxhash -lzstd -lz -ldl -lpthread -lm -o "$2" 2>"$2.err"
}
