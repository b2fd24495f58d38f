#!/usr/bin/env bash
# cmake --install into a scratch prefix; build tiny.c against it with pkg-config (shared and
# static); run both; check the installed strata command runs.
set -euo pipefail
# No "producer | grep -q" under pipefail: grep -q leaves at its first match, and a producer that
# writes again afterwards (ldd's loader writes line by line) dies of SIGPIPE and fails the script
# with no message. Each output is taken whole first, and a failing line names itself.
trap 'echo "test_install.sh:$LINENO: failed: $BASH_COMMAND" >&2' ERR
BUILD=$1
SRC=$2
CC=${3:-cc}
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-install-XXXXXX")
trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" >/dev/null
PC=$(dirname "$(find "$T/prefix" -name strata.pc | head -1)")
export PKG_CONFIG_PATH=$PC
test -f "$T/prefix/include/strata.h"
# shared
"$CC" -std=c11 -Wall -Werror $(pkg-config --cflags strata) "$SRC/tiny.c" -o "$T/tiny" $(pkg-config --libs strata)
test "$(LD_LIBRARY_PATH=$(pkg-config --variable=libdir strata) "$T/tiny" "$T/pool1")" = "strata 0.1.0: 0 42"
# static
"$CC" -std=c11 -Wall -Werror $(pkg-config --cflags strata) "$SRC/tiny.c" -o "$T/tiny_static" \
    "$(pkg-config --variable=libdir strata)/libstrata.a" $(pkg-config --static --libs strata | sed 's/-lstrata\b//')
test "$("$T/tiny_static" "$T/pool2")" = "strata 0.1.0: 0 42"
# the pkg-config file names no path of the build machine (OpenMP by its flag, -fopenmp)
# (a negated command never stops a set -e script: each such check is an if)
if grep -q "/usr/lib/gcc\|/usr/lib/llvm\|$BUILD" "$PC/strata.pc"; then
    echo "strata.pc names a path of the build machine: $(cat "$PC/strata.pc")" >&2
    exit 1
fi
# find_package(strata CONFIG) with CMake, shared and static; the shared one runs without
# LD_LIBRARY_PATH (CMake's build RPATH names the prefix's library folder)
cmake -S "$SRC/consumer" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$T/prefix" \
    -DCMAKE_C_COMPILER="$CC" >"$T/consumer.log" 2>&1 || { cat "$T/consumer.log"; exit 1; }
cmake --build "$T/consumer" >>"$T/consumer.log" 2>&1 || { cat "$T/consumer.log"; exit 1; }
test "$("$T/consumer/tiny" "$T/pool3")" = "strata 0.1.0: 0 42"
test "$("$T/consumer/tiny_static" "$T/pool4")" = "strata 0.1.0: 0 42"
# the shell completions, where bash-completion and zsh look
test -f "$T/prefix/share/bash-completion/completions/strata"
test -f "$T/prefix/share/zsh/site-functions/_strata"
# the installed command and server module find the prefix's library by their RUNPATH ($ORIGIN)
grep -q 'R.*PATH.*\$ORIGIN' <<<"$(readelf -d "$T/prefix/bin/strata")"
# no RUNPATH, installed or in the build tree, has an empty entry (the current folder: a libc
# there would be loaded); CMake's padded build RPATH had one
for f in "$T/prefix/bin/strata" "$BUILD/strata" "$(find "$T/prefix" -name libstrata_serve.so)" \
    "$BUILD/libstrata_serve.so"; do
    test -f "$f" || { echo "no such file: '$f'" >&2; exit 1; }
    rp=$(readelf -d "$f" | sed -n 's/.*R[UN]*PATH.*\[\(.*\)\]/\1/p')
    test -n "$rp" || { echo "$f: no RUNPATH" >&2; exit 1; }
    case ":$rp:" in *::*) echo "$f: an empty entry in its RUNPATH '$rp'" >&2; exit 1 ;; esac
done
# the build tree's command loads the build tree's library, even with an installed one in
# BUILD/../lib (the RUNPATH's own folder first)
grep -q "libstrata.so.0 => $(cd "$BUILD" && pwd -P)/libstrata.so.0" <<<"$(ldd "$BUILD/strata")"
# Highway's vqsort module (when the build has it) beside the library, where vqload.c looks
if [ -f "$BUILD/libstrata_vqsort.so" ]; then
    test -f "$(pkg-config --variable=libdir strata)/libstrata_vqsort.so"
    if grep -q hwy <<<"$(pkg-config --static --libs strata)"; then
        echo "the static link line names Highway, which the library does not need" >&2
        exit 1
    fi
fi
# the installed command, and its server module (lib/libstrata_serve.so, loaded by strata serve)
test "$("$T/prefix/bin/strata" -P "$T/pool1" array get demo/a 2 1)" = 42
"$T/prefix/bin/strata" -P "$T/pool1" serve --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
spid=$!
for _ in $(seq 1200); do grep -q listening "$T/serve.out" 2>/dev/null && break; sleep 0.05; done
. "$SRC/../cli/lib.sh" # child_alive
kill "$spid" 2>/dev/null || true
for _ in $(seq 200); do child_alive "$spid" || break; sleep 0.05; done
if child_alive "$spid"; then
    kill -9 "$spid"
    echo "the installed strata serve did not stop within 10 s of SIGTERM"
    exit 1
fi
wait "$spid" 2>/dev/null || true
grep -q "listening on http://127.0.0.1:" "$T/serve.out" || {
    echo "the installed strata serve did not start: $(cat "$T/serve.err")"
    exit 1
}
# the installed Python package (when the build has it): importable from the prefix's
# site-packages, and it reads what the C program wrote
PYDIR=$(find "$T/prefix" -name "_strata*.so" -path "*strata*" 2>/dev/null | head -1)
if [ -n "$PYDIR" ]; then
    SITE=$(dirname "$(dirname "$PYDIR")")
    [ ! -f "$BUILD/libstrata_vqsort.so" ] || test -f "$(dirname "$PYDIR")/libstrata_vqsort.so"
    test "$(cd "$T" && PYTHONPATH=$SITE /usr/bin/python3 -c "
import strata, sys
assert strata.__file__.startswith('$SITE'), strata.__file__
with strata.Pool('$T/pool1') as p:
    a = p.array('demo/a')
    assert a[2] == 42, a[:]
print('python', strata.__version__, a.dtype)
")" = "python 0.1.0 int64"
    echo "the installed Python package imports from $SITE"
fi
echo "install, pkg-config, find_package(strata CONFIG) and the installed command work"
