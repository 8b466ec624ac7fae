#!/bin/bash
# The supervisor under valgrind (memcheck) for one create / run / destroy
# cycle with every mount kind (ro and rw bind, tmpfs, proc, dev) and copy,
# symlink and cmd actions, then one `bob build` (hooks, dependencies, a
# failing job, stages, a background process left by a stage): each step
# exits as it should with no valgrind error, no leaked block and no leaked
# file descriptor. valgrind 3.19 does not know
# the new mount API nor openat2, so this also runs the mount(2) and
# by-hand resolution fallbacks end to end. Children (the commands run in
# the sandbox) are not traced.
#
# valgrind and AddressSanitizer do not mix: this needs bob built without
# sanitizers, named by BOB_PLAIN (scripts/test builds one; a plain build's
# ctest sets it to its own bob). It skips without valgrind or BOB_PLAIN.
if [ "$(id -u)" = 0 ]; then
    if ! command -v valgrind >/dev/null; then
        echo "1..0 # SKIP valgrind is not installed (scripts/setup installs it)"
        exit 77
    fi
    if [ -z "${BOB_PLAIN:-}" ]; then
        echo "1..0 # SKIP BOB_PLAIN is not set: it names a bob built without sanitizers (scripts/test sets it)"
        exit 77
    fi
    if ldd "$BOB_PLAIN" | grep -q 'libasan\|libubsan'; then
        echo "Bail out! BOB_PLAIN=$BOB_PLAIN is built with sanitizers; valgrind needs a plain build"
        exit 1
    fi
fi
. "$(dirname "$0")/lib.sh"
plant_host_files
mkdir -p "$HOST/rw"
CFG=$T/config.lua
cat >"$CFG" <<LUA
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/ro", opts = "ro,nosuid" },
    { action = "mount", fs = "bind", src = "$HOST/rw", dest = "/rw" },
    { action = "mount", fs = "tmp", dir = "/tmp", opts = "size=16M,mode=1777" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "copy", src = "$HOST/data", dest = "/copy" },
    { action = "symlink", src = "copy/file", dest = "/link" },
    { action = "cmd", chroot = true, create = "echo made >/tmp/made",
      destroy = "rm -f /tmp/made" },
  },
}
LUA

# --child-silent-after-fork: the launcher's init (pid 1 of each command's
# namespaces) is a forked copy of bob that only makes system calls until
# the command's exec; memcheck would report the thread-pool stacks it
# inherited from bob as "possibly lost" when it exits.
VALGRIND="valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
  --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --track-fds=yes
  --trace-children=no --child-silent-after-fork=yes"
# Unknown to valgrind 3.19, each with a fallback in bob: open_tree (428),
# fsopen (430), move_mount, fsconfig, fsmount, mount_setattr (never reached
# once the first answered ENOSYS), openat2 (437). These numbers are the same
# on every architecture.
KNOWN_UNHANDLED=" 428 430 437 "
# unhandled LOG: the numbers of the syscalls valgrind did not know.
unhandled() {
    sed -n 's/.*WARNING: unhandled [a-z0-9]*-linux syscall: \([0-9]*\).*/\1/p' "$1" | sort -u
}

# vg STEP ARGS...: runs bob ARGS under valgrind, log in $T/vg-STEP.log, stdout
# in $T/out-STEP; sets rc and ms (the wall time).
vg() {
    local step=$1 start
    shift
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    $VALGRIND --log-file="$T/vg-$step.log" "$BOB_PLAIN" -c "${VCFG:-$CFG}" "$@" >"$T/out-$step" 2>"$T/err-$step"
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
}

# The file descriptors open at exit that bob opened (not inherited from the test).
fds_opened() {
    awk '/Open file descriptor/ { fd = $0; next }
         fd != "" { if ($0 !~ /inherited from parent/) print fd; fd = "" }' "$1"
}

# no_leaks LOG: every block freed, or at least none lost (still reachable ones
# would be a library's).
no_leaks() {
    grep -q 'All heap blocks were freed -- no leaks are possible' "$1" ||
        { grep -q 'definitely lost: 0 bytes' "$1" && grep -q 'indirectly lost: 0 bytes' "$1" &&
            grep -q 'possibly lost: 0 bytes' "$1"; }
}

# newapi_unknown LOG: valgrind did not know open_tree or fsopen.
newapi_unknown() {
    unhandled "$1" | grep -qx '428\|430'
}

# The syscalls valgrind did not know that have no fallback listed above.
unexpected_unhandled() {
    local n
    for n in $(unhandled "$1"); do
        case "$KNOWN_UNHANDLED" in *" $n "*) ;; *) echo "$n" ;; esac
    done
}

# assert_clean STEP: the checks on one valgrind run.
assert_clean() {
    local log=$T/vg-$1.log
    check "$1: exits ${want_rc:-0} under valgrind" [ "$rc" = "${want_rc:-0}" ]
    [ "$rc" = "${want_rc:-0}" ] || diag "$(cat "$T/err-$1")" "$(grep -A12 'ERROR SUMMARY\|blocks are' "$log" | head -40)"
    check "$1: ERROR SUMMARY: 0 errors" grep -q "ERROR SUMMARY: 0 errors from 0 contexts" "$log"
    check "$1: no leak (definite, indirect, possible)" no_leaks "$log"
    check "$1: no file descriptor left open" [ -z "$(fds_opened "$log")" ]
    check "$1: no unhandled syscall without a fallback" [ -z "$(unexpected_unhandled "$log")" ]
    diag "$1: $ms ms under valgrind; $(grep -o 'total heap usage: .*' "$log")"
    diag "$1: syscalls unknown to valgrind: $(unhandled "$log" | tr '\n' ' ')"
}

before=$(cat /proc/self/mountinfo)
total=0

vg create sandbox create
assert_clean create
total=$((total + ms))
SB=$BOB_BASEDIR/0
check "create prints the sandbox path" [ "$(cat "$T/out-create")" = "$SB" ]
check "the new mount API was unknown to valgrind (the mount(2) fallback ran)" \
    newapi_unknown "$T/vg-create.log"
check "the root tmpfs, ro bind, rw bind, tmpfs, proc, dev (with shm and pts) are mounted" \
    [ "$(mounts_under "$SB" | wc -l)" = 9 ]
check "no mount of the sandbox is shared" bash -c "! grep ' $SB' /proc/self/mountinfo | grep -q shared:"
check "the ro bind refuses writes" bash -c "! touch '$SB/ro/new' 2>/dev/null && ! rm -f '$SB/ro/file' 2>/dev/null"
check "the ro bind keeps nosuid" bash -c "findmnt -n -o OPTIONS '$SB/ro' | grep -q 'ro,nosuid'"
check "the rw bind writes through to the host" bash -c "echo w >'$SB/rw/w' && [ \"\$(cat '$HOST/rw/w')\" = w ]"
check "the cmd action ran in the chroot" [ "$(cat "$SB/tmp/made" 2>/dev/null)" = made ]

vg run sandbox run 0 -- sh -c 'echo hi; cat /link /ro/file; test -r /proc/self/status && echo proc; echo x >/dev/null && echo dev'
assert_clean run
total=$((total + ms))
check "run: the command's output is right" [ "$(cat "$T/out-run")" = "$(printf 'hi\nprecious\nprecious\nproc\ndev')" ]

vg destroy sandbox destroy -a
assert_clean destroy
total=$((total + ms))
check "destroy: no sandbox directory left" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "destroy: no mount left, the mount table as before" [ "$before" = "$(cat /proc/self/mountinfo)" ]
check "the rw bind's source survives, with the file written through it" [ "$(cat "$HOST/rw/w")" = w ]
diag "create + run + destroy: $total ms under valgrind"

# One build: two sandboxes, pre-build hooks, a dependency, a failing job
# (exit 3 for the run), two stages, a process left behind by a stage.
VCFG=$T/build.lua
{
    cat "$CFG"
    cat <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false }
sandboxes.hooks = {
  { action = "mount", fs = "tmp", dir = "/build" },
  { action = "cmd", chroot = true, create = "echo hooked >/build/h", destroy = "true" },
}
jobs = {
  { name = "a", run = "cat /build/h" },
  { name = "b", depends = { "a" }, run = "echo b" },
  { name = "c", run = "echo failing; exit 4" },
  { name = "d", stages = { { name = "one", run = "echo 1" }, { name = "two", run = "sleep 60 >/dev/null 2>&1 & echo 2" } } },
}
LUA
} >"$VCFG"
want_rc=3
vg build build --format json
assert_clean build
unset want_rc
total=$((total + ms))
check "build: the summary is right (a b d succeeded, c failed)" python3 -c "
import json; s = json.load(open('$T/out-build'))
assert sorted(s['succeeded']) == ['a', 'b', 'd'] and s['failed'] == ['c'], s"
check "build: the failed job's log holds its output" grep -q failing "$T/logs/c/build.log"
check "build: no sandbox, mount or process left" \
    [ -z "$(ls -A "$BOB_BASEDIR")$(mounts_under "$BOB_BASEDIR")$(procs_under "$BOB_BASEDIR")" ]
diag "create + run + destroy + build: $total ms under valgrind"
