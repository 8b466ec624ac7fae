#!/bin/bash
# bob sandbox run: environment policy, bob_* variables, exit codes and
# signals, lossless output capture into a log with bounded memory, a daemon
# holding the pipe, Ctrl+C.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
write_cfg() { # ENVIRONMENT-SECTION
cat >"$CFG" <<LUA
options = { logdir = "$T/logs" }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
  },
  $1
}
LUA
}
write_cfg ''
bob() { "$BOB" -c "$CFG" "$@"; }
bob sandbox create >/dev/null 2>&1
check "create" [ -d "$BOB_BASEDIR/0/.bob/completed" ]

export KEEP=kept DROP=dropped
out=$(bob sandbox run 0 -- /bin/sh -c 'echo "$KEEP $DROP ${X:-} $bob_logdir ${bob_sandbox_path:-nopath}"')
check "no environment section: ours inherited, bob_ variables, no bob_sandbox_path" [ "$out" = "kept dropped  $T/logs nopath" ]
out=$(bob_job=forged bob sandbox run 0 -- /bin/sh -c 'echo "[${bob_job-unset}] $bob_stage $bob_sandbox_id"')
check "sandbox run: bob_job empty (not ours), bob_stage run, bob_sandbox_id" [ "$out" = "[] run 0" ]
write_cfg 'environment = { build = { clear = true, inherit = { "KEEP" }, vars = { X = "x1", PATH = "/usr/bin:/bin" } } },'
out=$(bob sandbox run 0 -- /bin/sh -c 'echo "$KEEP ${DROP:-none} $X $PATH"')
check "clear + inherit + vars" [ "$out" = "kept none x1 /usr/bin:/bin" ]
write_cfg 'environment = { build = { clear = false, vars = { X = "x2" } }, dev = { clear = true, vars = { X = "dev" } } },'
out=$(bob sandbox run 0 -- /bin/sh -c 'echo "$KEEP $DROP $X"')
check "clear = false keeps ours; build vars, not dev vars" [ "$out" = "kept dropped x2" ]
write_cfg ''

bob sandbox run 0 -- /bin/sh -c 'exit 7'
check "exit status passed through" [ $? = 7 ]
bob sandbox run 0 -- /bin/sh -c 'kill -KILL $$'
check "signal N gives 128+N" [ $? = 137 ]
bob sandbox run 0 -- /nonexistent 2>"$T/err"
check "a missing command gives 127" [ $? = 127 ]
check "the error says so" grep -q "cannot execute /nonexistent" "$T/err"
bob sandbox run 5 -- /bin/true 2>"$T/err"
check "an unknown sandbox is an error (exit 1)" [ $? = 1 ]
echo hello | bob sandbox run 0 -- /bin/cat >"$T/out"
check "stdin is passed through" [ "$(cat "$T/out")" = hello ]

# 50 MB on stdout and 50 MB on stderr at once: every byte in the log.
bob sandbox run --log "$T/big.log" 0 -- /bin/sh -c \
    '(yes out | head -c 52428800) & (yes err | head -c 52428800 >&2); wait' >"$T/o" 2>"$T/e"
check "big run exits 0" [ $? = 0 ]
check "the log holds all 100 MiB" [ "$(stat -c %s "$T/big.log")" = 104857600 ]
check "every stdout line is in the log" [ "$(grep -c '^out$' "$T/big.log")" = 13107200 ]
check "every stderr line is in the log" [ "$(grep -c '^err$' "$T/big.log")" = 13107200 ]
check "stdout passed through whole" [ "$(stat -c %s "$T/o")" = 52428800 ]
check "stderr passed through whole" [ "$(stat -c %s "$T/e")" = 52428800 ]
rm -f "$T/big.log" "$T/o" "$T/e"

# A 64 MiB line without a newline: all in the log; memory does not grow
# with it (compared with a short line, in the same build).
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
short=$(rss "$BOB" -c "$CFG" sandbox run --log "$T/short.log" 0 -- /bin/sh -c 'printf x')
long=$(rss "$BOB" -c "$CFG" sandbox run --log "$T/long.log" 0 -- /bin/sh -c 'head -c 67108864 /dev/zero | tr "\0" x')
diag "peak RSS: short line ${short} KiB, 64 MiB line ${long} KiB"
check "the 64 MiB line is whole in the log" [ "$(stat -c %s "$T/long.log")" = 67108864 ]
check "memory does not grow with the line (< 16 MiB more)" [ $((long - short)) -lt 16384 ]
rm -f "$T/long.log"

# bob started with its standard streams closed: they are /dev/null to it,
# the command reads end of file and its output pipes work.
out=$("$BOB" -c "$CFG" sandbox run 0 -- /bin/sh -c 'read x; echo "[$x]"; echo err >&2' <&- 2>&-)
check "stdin and stderr closed: the command runs, reads EOF" [ "$out" = "[]" ]

# A daemon keeps the output pipe open: run still ends, and kills it; a
# process that was in the sandbox before is left alone.
chroot "$BOB_BASEDIR/0" /bin/sh -c 'exec sleep 600' &
before=$!
sleep 0.2
timeout 30 "$BOB" -c "$CFG" sandbox run 0 -- /bin/sh -c 'sleep 600 & echo started' >"$T/out"
check "run with a daemon holding the pipe ends" [ $? = 0 ]
check "its output came through" grep -q started "$T/out"
check "the daemon was killed" [ "$(procs_under "$BOB_BASEDIR/0" | grep -vx "$before" | wc -l)" = 0 ]
check "the process from before is still there" kill -0 "$before"
# A quick command that leaves a detached daemon (not holding the output):
# found by the quick scan of the pids handed out since CMD started.
"$BOB" -c "$CFG" sandbox run 0 -- /bin/sh -c 'setsid sleep 600 </dev/null >/dev/null 2>&1 &'
check "a quick command that detaches a daemon: exit 0" [ $? = 0 ]
check "its daemon was killed" [ "$(procs_under "$BOB_BASEDIR/0" | grep -vx "$before" | wc -l)" = 0 ]
check "the process from before is still there after it" kill -0 "$before"
kill "$before"; wait "$before" 2>/dev/null

# Ctrl+C during a long run: exit 130, nothing it started is left, the
# sandbox still works.
"$BOB" -c "$CFG" sandbox run 0 -- /bin/sh -c 'setsid sh -c "trap \"\" TERM INT; sleep 600" & sleep 600' &
pid=$!
sleep 0.5
kill -INT $pid
wait $pid
check "Ctrl+C during run exits 130" [ $? = 130 ]
check "nothing it started is left" [ -z "$(procs_under "$BOB_BASEDIR/0")" ]
check "the sandbox is still usable" [ "$(bob sandbox run 0 -- /bin/echo ok)" = ok ]
bob sandbox destroy -a 2>/dev/null
check "destroy" [ $? = 0 ]
