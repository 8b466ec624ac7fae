#!/bin/bash
# bob build: dependency order and skipping, dispatch going on after a
# failure, logs kept and removed, exit codes, JSON summary and events that
# agree with what happened, Ctrl+C (stop, then shutdown), SIGTERM.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
write_cfg() { # JOBS [OPTIONS]
    build_lua "$1" "${2:-}" "$JOB_SETUP_LUA
    { action = \"mount\", fs = \"bind\", src = \"$T/shared\", dest = \"/shared\" }," >"$CFG"
}
mkdir -p "$T/shared"
# Every build here is a first one: no state from the build before (t_state
# tests resume and up to date).
bob() { [ "$1" != build ] || rm -rf "$BOB_DATADIR"; "$BOB" -c "$CFG" "$@"; }
# Every job appends "<name>" to /shared/order when it runs.
J() {
    local deps=""
    [ -z "${2:-}" ] || deps="depends = { $2 },"
    echo "{ name = \"$1\", $deps run = \"echo $1 >> /shared/order; ${3:-true}\" },"
}

# Each stage knows its job, stage and sandbox; a job's env cannot say otherwise.
write_cfg '{ name = "who", env = { bob_job = "forged" }, stages = {
    { name = "first", run = "echo $bob_job $bob_stage $bob_sandbox_id > /shared/who" },
    { name = "second", run = "echo $bob_job $bob_stage $bob_sandbox_id >> /shared/who" } } },'
bob build >/dev/null 2>&1
check "stages get bob_job, bob_stage and bob_sandbox_id" \
    [ "$(cat "$T/shared/who" 2>/dev/null | tr '\n' ' ')" = "who first 0 who second 0 " ]
rm -f "$T/shared/who"

write_cfg "$(J a) $(J b '"a"') $(J c '"b"') $(J d '"a"' 'exit 4') $(J e '"d"') $(J f '"e"') $(J g '' 'sleep 0.2')"
bob build --format json --events "$T/events" >"$T/summary" 2>"$T/err"
rc=$?
check "a failed job gives exit 3" [ $rc = 3 ]
check "the JSON summary parses" python3 -m json.tool "$T/summary" >/dev/null
py() { python3 -c "import json,sys; s=json.load(open('$T/summary')); $1"; }
check "summary: succeeded a b c g" py "assert sorted(s['succeeded'])==['a','b','c','g'], s"
check "summary: failed d" py "assert s['failed']==['d'], s"
check "summary: skipped e f (dependents of d, transitively)" py "assert sorted(s['skipped'])==['e','f'], s"
check "summary: not interrupted, elapsed given" py "assert s['interrupted'] is False and s['elapsed']>0"
check "summary: the failure names its stage and log" py "f=s['failures'][0]; assert f['job']=='d' and f['stage']=='build' and f['log'].endswith('/d/build.log'), f"
check "skipped jobs never ran" bash -c "! grep -qE '^(e|f)$' '$T/shared/order'"
check "dependencies ran first" bash -c "awk '{p[\$1]=NR} END {exit !(p[\"a\"]<p[\"b\"] && p[\"b\"]<p[\"c\"] && p[\"a\"]<p[\"d\"])}' '$T/shared/order'"
check "dispatch went on after the failure (c ran after d failed)" bash -c "awk '{p[\$1]=NR} END {exit !(p[\"d\"]<p[\"c\"])}' '$T/shared/order'"
check "every event line parses" bash -c "python3 -c 'import json,sys; [json.loads(l) for l in open(\"$T/events\")]'"
ev() { python3 -c "import json; e=[json.loads(l) for l in open('$T/events')]; $1"; }
check "events agree: finished statuses" ev "f={x['job']:x['status'] for x in e if x['event']=='job_finished'}; assert f=={'a':'succeeded','b':'succeeded','c':'succeeded','d':'failed','g':'succeeded'}, f"
check "events agree: skips" ev "assert sorted(x['job'] for x in e if x['event']=='job_skipped')==['e','f']"
check "events: 2 sandboxes created and destroyed" ev "assert sum(x['event']=='sandbox_created' for x in e)==2 and sum(x['event']=='sandbox_destroyed' for x in e)==2"
check "events: stages started" ev "assert any(x['event']=='stage_started' and x['job']=='d' and x['stage']=='build' for x in e)"
check "logs: the failed job's log is kept and starts with the command" bash -c "head -1 '$T/logs/d/build.log' | grep -q '^=> echo d >> /shared/order; exit 4'"
check "logs: successful jobs' logs are removed" [ ! -e "$T/logs/a" ]
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# Logs are made at a stage's first byte: a silent job that succeeds never
# touches the log directory; a silent failure still has its log.
write_cfg '{ name = "quiet", run = "sleep 1.5" }, { name = "mute", run = "exit 5" },'
bob build >/dev/null 2>&1 &
pid=$!
sleep 0.8
check "a silent running job has no log directory" [ ! -e "$T/logs/quiet" ]
wait $pid
check "a silent failure has its log: the command, then its status" \
    bash -c "[ \"\$(cat '$T/logs/mute/build.log')\" = \"\$(printf '=> exit 5\n=> exit code 5')\" ]"

write_cfg "$(J a) $(J b '"a"')" "keep_logs = true,"
bob build >"$T/summary" 2>/dev/null
check "all succeeded: exit 0" [ $? = 0 ]
check "text summary" grep -qx "2 jobs in .*: 2 succeeded, 0 failed, 0 skipped" "$T/summary"
check "keep_logs keeps successful logs" [ -f "$T/logs/a/build.log" ]
rm -f "$T/shared/order"
bob build b >/dev/null 2>&1
check "JOB on the command line builds it and its dependencies only" [ "$(tr '\n' ' ' <"$T/shared/order")" = "a b " ]
bob build nosuch 2>"$T/err" >/dev/null
check "an unknown job: exit 1, named" bash -c "[ $? = 1 ] && grep -q \"unknown job 'nosuch'\" '$T/err'"
write_cfg '{ name = "quiet", run = "true" },' "keep_logs = true,"
bob build >/dev/null 2>&1
check "keep_logs keeps a silent stage's log too (its command)" [ "$(cat "$T/logs/quiet/build.log" 2>/dev/null)" = "=> true" ]

# First Ctrl+C: the running job finishes, no new one starts.
rm -f "$T/shared/order"
write_cfg "$(J slow '' 'sleep 2; echo done-slow >> /shared/order') $(J later '"slow"')" "build_threads = 1,"
"$BOB" -c "$CFG" build --events "$T/events" >"$T/summary" 2>"$T/err" &
pid=$!
for i in $(seq 100); do grep -q slow "$T/shared/order" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
check "first Ctrl+C: exit 130" [ $rc = 130 ]
check "the running job finished" grep -q done-slow "$T/shared/order"
check "no new job started" bash -c "! grep -q '^later$' '$T/shared/order'"
check "the stop is announced" bash -c "grep -qi 'stopping, ^C again to stop now' '$T/err' && grep -q run_stopping '$T/events'"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# Second Ctrl+C: a job whose grandchild ignores SIGTERM is killed at once.
cat >"$T/shared/stubborn.sh" <<'EOS'
setsid sh -c 'trap "" TERM INT HUP; sleep 600' &
sleep 600
EOS
write_cfg "$(J stubborn '' 'sh /shared/stubborn.sh')"
"$BOB" -c "$CFG" build >"$T/summary" 2>"$T/err" &
pid=$!
for i in $(seq 100); do grep -q stubborn "$T/shared/order" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -INT $pid; sleep 0.2; kill -INT $pid
start=$(date +%s%N)
wait $pid
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
diag "from the second Ctrl+C to bob's exit: ${ms} ms"
[ $rc = 130 ] || diag "rc=$rc" "$(tail -5 "$T/err")" "$(cat "$T/summary")" "$(tail -3 "$CFG")"
check "second Ctrl+C: exit 130" [ $rc = 130 ]
check "no process left in the sandboxes" [ -z "$(procs_under "$BOB_BASEDIR")" ]
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "the interrupted job is not reported failed" bash -c "! grep -q 'Failed stubborn' '$T/summary'"

# SIGTERM: the same, at once.
"$BOB" -c "$CFG" build >"$T/summary" 2>"$T/err" &
pid=$!
for i in $(seq 100); do [ "$(grep -c stubborn "$T/shared/order")" -ge 2 ] && break; sleep 0.1; done
sleep 0.3
kill -TERM $pid
wait $pid
check "SIGTERM: exit 130" [ $? = 130 ]
check "SIGTERM: no process left" [ -z "$(procs_under "$BOB_BASEDIR")" ]
check "SIGTERM: sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# bob SIGKILLed in the middle of a job: its mounts (setup and hooks) lived
# in the build's own mount namespace and are gone with it, and so is the
# job; destroy -a removes what is left on disk.
rm -f "$T/shared/order"
cat >"$CFG" <<LUA
options = { build_threads = 1, logdir = "$T/logs", tui = false }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "bind", src = "$T/shared", dest = "/shared" },
  },
  hooks = {
    { action = "mount", fs = "tmp", dir = "/build" },
    { action = "cmd", chroot = true, create = "echo hook-applied >> /shared/order",
      destroy = "echo hook-undone >> /shared/order" },
  },
}
jobs = { { name = "long", run = "echo long >> /shared/order; sleep 600" } }
LUA
"$BOB" -c "$CFG" build >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do grep -q '^long$' "$T/shared/order" 2>/dev/null && break; sleep 0.1; done
kill -KILL $pid
wait $pid 2>/dev/null
check "SIGKILL mid-job: no mount of the build is left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
check "SIGKILL mid-job: the hooks had been applied" grep -q '^hook-applied$' "$T/shared/order"
bob sandbox destroy -a >/dev/null 2>"$T/err"
check "destroy -a after a killed build" [ $? = 0 ]
check "nothing left" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# Plain mode: a status line every options.status_interval seconds with the
# running jobs, their stage and elapsed time; SIGUSR1 prints it at once.
rm -f "$T/shared/order"
write_cfg "$(J slow '' 'sleep 2.5')" "status_interval = 1"
bob build >"$T/out" 2>"$T/err"
check "status_interval = 1: exit 0" [ $? = 0 ]
check "status_interval = 1: a status line names the running job, its stage and time" \
    grep -qE '^Status: 0/1 done; running: slow \(build, [0-9.]+s\)$' "$T/err"
write_cfg "$(J slow '' 'echo started > /shared/started; sleep 600')" "status_interval = 0"
rm -f "$T/shared/started"
"$BOB" -c "$CFG" build >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 100); do [ -e "$T/shared/started" ] && break; sleep 0.1; done
check "status_interval = 0: no status line by itself" bash -c "! grep -q '^Status:' '$T/err'"
kill -USR1 $pid
for i in $(seq 50); do grep -q '^Status:' "$T/err" && break; sleep 0.1; done
check "SIGUSR1: the status line at once" grep -qE '^Status: 0/1 done( \([^)]*\))?; running: slow \(build, [0-9.]+s\)$' "$T/err"
kill -TERM $pid
wait $pid
check "SIGTERM after it: exit 130" [ $? = 130 ]
check "nothing left after it" [ -z "$(ls -A "$BOB_BASEDIR")" ]
write_cfg "$(J x)" "status_interval = -1"
check "status_interval = -1 is refused" bash -c "! '$BOB' -c '$CFG' config check 2>&1 | grep -q valid"

# options.log_level = "debug" (as -v): debug lines for the actions, the
# mounts, the schedule and the kills; none at the default level.
write_cfg "$(J a)" 'log_level = "debug"'
bob build >"$T/out" 2>"$T/err"
check "log_level debug: exit 0" [ $? = 0 ]
check "log_level debug: the schedule, each action, each mount and each kill" bash -c "
    grep -q '^debug: schedule: a to sandbox [0-9]' '$T/err' &&
    grep -q '^debug: action: sandboxes.setup\[1\] do mount /usr in ' '$T/err' &&
    grep -q '^debug: mount: bind /usr on /usr in ' '$T/err' &&
    grep -q '^debug: kill: what the work left in ' '$T/err'"
write_cfg "$(J a)"
bob build >"$T/out" 2>"$T/err"
check "the default level: no debug line" bash -c "! grep -q '^debug:' '$T/err'"
rm -rf "$BOB_DATADIR"
"$BOB" -v -c "$CFG" build >"$T/out" 2>"$T/err"
check "-v: the debug lines" grep -q '^debug: schedule: a to sandbox' "$T/err"
