#!/bin/bash
# `bob sandbox run` kills what its command started and spares what was in
# the sandbox before, also when pids do not grow (they wrap at pid_max, and
# pids still in use are skipped over): the test runs in its own pid
# namespace and sets /proc/sys/kernel/ns_last_pid to choose the pids.
#
#  - a process from before with a HIGHER pid than the command's, while the
#    command runs long enough for the full /proc scan: spared;
#  - a process from before whose pid lies INSIDE the range of pids the
#    command's processes got, for a quick command (the quick scan of that
#    range): spared; the command's daemon on both sides of it: killed.
if [ "$(id -u)" = 0 ] && [ -z "${BOB_IN_PIDNS:-}" ]; then
    BOB_IN_PIDNS=1 exec unshare --pid --fork --mount-proc /bin/bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
cat >"$CFG" <<LUA
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
  },
}
LUA
bob() { "$BOB" -c "$CFG" "$@"; }
bob sandbox create >/dev/null 2>"$T/err" || { diag "$(cat "$T/err")"; exit 1; }
SB=$BOB_BASEDIR/0
LAST=/proc/sys/kernel/ns_last_pid
check "in a pid namespace of our own, ns_last_pid can be set" bash -c "echo 500 >$LAST"

# started_after PID...: the processes in the sandbox other than PIDs.
others() {
    local p out=""
    for p in $(procs_under "$SB"); do
        case " $* " in *" $p "*) ;; *) out="$out $p" ;; esac
    done
    echo "$out"
}

# 1. A process from before with a higher pid; the command runs 0.3 s
#    (the full scan) and leaves a daemon with a low pid.
echo 30000 >$LAST
chroot "$SB" /bin/sleep 600 &
high=$!
sleep 0.2
check "the process from before got a high pid ($high)" [ "$high" -gt 30000 ]
echo 100 >$LAST
bob sandbox run 0 -- /bin/sh -c 'setsid sleep 600 </dev/null >/dev/null 2>&1 & sleep 0.3'
check "long command: exit 0" [ $? = 0 ]
check "long command: the process from before (higher pid) is spared" kill -0 "$high"
check "long command: its daemon (lower pid) is killed" [ -z "$(others "$high")" ]

# 2. A process from before whose pid is inside the command's range: the
#    command's first process, then its daemon, get the pids around it.
echo 1199 >$LAST
chroot "$SB" /bin/sleep 600 &
mid=$!
sleep 0.2
check "the process from before got pid 1200" [ "$mid" = 1200 ]
# bash forks bob (1198), bob starts sh (1199), sh's daemon skips 1200: 1201.
echo 1197 >$LAST
bob sandbox run 0 -- /bin/sh -c 'setsid sleep 600 </dev/null >/dev/null 2>&1 &'
check "quick command: exit 0" [ $? = 0 ]
check "quick command: the process from before (pid inside the range) is spared" kill -0 "$mid"
check "quick command: its daemon is killed" [ -z "$(others "$high" "$mid")" ]

kill "$high" "$mid"
wait "$high" "$mid" 2>/dev/null
bob sandbox destroy -a >/dev/null 2>&1
check "destroy" [ $? = 0 ]
