#!/bin/bash
# What bob tells its operator: the build summary (counts that add up, no
# "built" for a failure, plurals, every skipped job with the job that
# blocked it, every interrupted job named in the text, the JSON, the events
# and bob status), a setup failure as an error, -j N, progress on stderr
# only, and unknown names (jobs, sandbox ids, config paths) that name
# themselves.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
mkdir -p "$T/shared"
write_cfg() { # JOBS [OPTIONS] [SETUP]
    build_lua "$1" "${2:-}" "$JOB_SETUP_LUA
    { action = \"mount\", fs = \"bind\", src = \"$T/shared\", dest = \"/shared\" },
${3:-}" >"$CFG"
}
# Every build here is a first one.
bob() { [ "$1" != build ] || rm -rf "$BOB_DATADIR"; "$BOB" -c "$CFG" "$@"; }
J() {
    local deps=""
    [ -z "${2:-}" ] || deps="depends = { $2 },"
    echo "{ name = \"$1\", $deps run = \"echo $1 >> /shared/order; ${3:-true}\" },"
}
py() { python3 -c "import json,sys; s=json.load(open('$T/summary')); $1"; }
ev() { python3 -c "import json; e=[json.loads(l) for l in open('$T/events')]; $1"; }

# ---- the text summary: counts, failures, skips with their blocker ----
write_cfg "$(J a) $(J b '"a"' 'exit 3') $(J c '"b"') $(J d '"c"')"
bob build --events "$T/events" >"$T/summary" 2>"$T/err"
check "a failure: exit 3" [ $? = 3 ]
check "summary: 4 jobs in T: 1 succeeded, 1 failed, 2 skipped" \
    grep -qxE '4 jobs in [0-9.]+s: 1 succeeded, 1 failed, 2 skipped' "$T/summary"
check "summary: no 'Built' for what failed" bash -c "! grep -q Built '$T/summary'"
check "summary: the failure with its stage and log" grep -q "^  Failed b in build (exit code 3): $T/logs/b/build.log$" "$T/summary"
check "summary: each skipped job names the job that blocked it" \
    bash -c "grep -qx '  Skipped c: depends on b' '$T/summary' && grep -qx '  Skipped d: depends on b' '$T/summary'"
check "events: a skip names its blocker (transitively)" \
    ev "s={x['job']:x['blocker'] for x in e if x['event']=='job_skipped'}; assert s=={'c':'b','d':'b'}, s"
check "events: run_finished counts" \
    ev "f=e[-1]; assert f['event']=='run_finished' and f['jobs']==4 and f['skipped']==2 and f['interrupted_jobs']==0, f"
"$BOB" -c "$CFG" status -f json >"$T/status"
check "status: the skip's blocker" python3 -c "
import json; s={r['job']:r for r in json.load(open('$T/status'))}
assert s['d']['status']=='skipped' and s['d']['blocker']=='b', s"
bob build --format json >"$T/summary" 2>/dev/null
check "JSON: each skip's reason and blocker" \
    py "r={x['job']:x['blocker'] for x in s['reasons']}; assert r=={'c':'b','d':'b'}, s"
check "JSON: no interrupted job" py "assert s['interrupted_jobs']==[] and s['interrupted'] is False, s"

# ---- plurals ----
write_cfg "$(J only)"
bob build >"$T/summary" 2>"$T/err"
check "one job: '1 job in', not '1 jobs'" grep -qxE '1 job in [0-9.]+s: 1 succeeded, 0 failed, 0 skipped' "$T/summary"
check "no '1 jobs' or '1 hooks' anywhere" bash -c "! grep -qE '\\b1 (jobs|hooks|sandboxes)\\b' '$T/summary' '$T/err'"

# ---- -j N overrides options.build_threads ----
write_cfg "$(J p1 '' 'sleep 0.3') $(J p2 '' 'sleep 0.3') $(J p3 '' 'sleep 0.3')" "build_threads = 1,"
bob build -j 3 --events "$T/events" >/dev/null 2>&1
check "-j 3: exit 0" [ $? = 0 ]
check "-j 3: 3 sandboxes (options.build_threads = 1)" \
    ev "r=[x for x in e if x['event']=='run_started'][0]; assert r['sandboxes']==3, r"
bob build --jobs=2 --events "$T/events" >/dev/null 2>&1
check "--jobs=2: 2 sandboxes" ev "r=e[0]; assert r['sandboxes']==2, r"
bob build --events "$T/events" >/dev/null 2>&1
check "without -j: options.build_threads (1)" ev "r=e[0]; assert r['sandboxes']==1, r"
for bad in 0 -1 x 1x 99999; do
    bob build -j "$bad" >/dev/null 2>"$T/err"
    check "-j $bad: a usage error (exit 2), said" bash -c "[ $? = 2 ] && grep -q -- '-j needs a number' '$T/err'"
done

# ---- interrupted: the job killed and those never started are each named ----
rm -f "$T/shared/order"
write_cfg "$(J first '' 'sleep 600') $(J second '"first"') $(J third '"second"')" "build_threads = 1,"
"$BOB" -c "$CFG" build --events "$T/events" >"$T/summary" 2>"$T/err" &
pid=$!
for i in $(seq 100); do grep -q first "$T/shared/order" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
sleep 0.3
kill -INT $pid
wait $pid
check "interrupted: exit 130" [ $? = 130 ]
check "interrupted: counted" \
    grep -qxE '3 jobs in [0-9.]+s: 0 succeeded, 0 failed, 0 skipped, 3 interrupted' "$T/summary"
check "interrupted: the killed job is named, with its stage" grep -qx '  Interrupted first (killed in build)' "$T/summary"
check "interrupted: the jobs never started are named" \
    bash -c "grep -qx '  Interrupted second (not started)' '$T/summary' && grep -qx '  Interrupted third (not started)' '$T/summary'"
check "interrupted: an event for each" \
    ev "f={x['job']:x['status'] for x in e if x['event']=='job_finished'}; assert f=={'first':'interrupted','second':'interrupted','third':'interrupted'}, f"
check "interrupted: the killed job's event has its stage, the others say not started" \
    ev "f={x['job']:x for x in e if x['event']=='job_finished'}; assert f['first']['stage']=='build' and f['second']['reason']=='not started', f"
"$BOB" -c "$CFG" status -f json >"$T/status"
check "interrupted: bob status lists each as interrupted" python3 -c "
import json; s={r['job']:r['status'] for r in json.load(open('$T/status'))}
assert s=={'first':'interrupted','second':'interrupted','third':'interrupted'}, s"
check "interrupted: bob status says killed in which stage, or not started" python3 -c "
import json; s={r['job']:r for r in json.load(open('$T/status'))}
assert (s['first']['stage'], s['first']['reason'])==('build', 'killed'), s['first']
assert (s['second']['stage'], s['second']['reason'])==(None, 'not started'), s['second']"
# The same with --format json (a build that resumes the interrupted one).
"$BOB" -c "$CFG" build --format json >"$T/summary" 2>"$T/err" &
pid=$!
for i in $(seq 100); do [ "$(grep -c first "$T/shared/order")" -ge 2 ] && break; sleep 0.1; done
kill -TERM $pid
wait $pid
check "JSON: the interrupted jobs are listed" \
    py "assert sorted(s['interrupted_jobs'])==['first','second','third'] and s['interrupted'] is True, s"
check "after the resumed run too, bob status: a job never started is interrupted" \
    bash -c "\"$BOB\" -c '$CFG' status | grep -q '^second  *interrupted'"

# ---- a setup failure is an error, not a summary ----
write_cfg "$(J a)" "" "{ action = \"mount\", fs = \"bind\", src = \"$T/does-not-exist\", dest = \"/x\" },"
bob build --events "$T/events" >"$T/summary" 2>"$T/err"
check "setup failure: exit 1" [ $? = 1 ]
check "setup failure: the error on stderr" grep -q "^Error: .*does-not-exist" "$T/err"
check "setup failure: no summary on stdout" [ ! -s "$T/summary" ]
check "setup failure: no 'Built 0'" bash -c "! grep -q 'Built 0' '$T/summary' '$T/err'"
check "setup failure: run_finished carries the error" ev "f=e[-1]; assert f['event']=='run_finished' and 'does-not-exist' in f['error'], f"

# ---- stdout carries only what was asked for ----
write_cfg "$(J a)"
bob build >"$T/summary" 2>"$T/err"
check "build: progress on stderr" grep -q 'Building a' "$T/err"
check "build: stdout has the summary only" bash -c "! grep -qE 'Building|Destroying|Built a' '$T/summary'"
cat >"$T/shell.lua" <<LUA
sandboxes = { basedir = "$BOB_BASEDIR", setup = {
$SYSTEM_LUA
$JOB_SETUP_LUA
} }
LUA
"$BOB" -c "$T/shell.lua" sandbox shell </dev/null >"$T/out" 2>"$T/err"
check "sandbox shell: 'Entering sandbox' on stderr, not stdout" \
    bash -c "grep -q 'Entering sandbox' '$T/err' && ! grep -q 'Entering sandbox' '$T/out'"

# ---- unknown names name themselves ----
write_cfg "$(J a) $(J b)"
bob build NOSUCHJOB >"$T/out" 2>"$T/err"
check "unknown job: exit 1" [ $? = 1 ]
check "unknown job: named, and the jobs listed" grep -qx "Error: unknown job 'NOSUCHJOB'; the jobs are: a, b" "$T/err"
many=""
for i in $(seq 1 30); do many="$many $(J "j$i")"; done
write_cfg "$many"
bob build --dry-run NOSUCHJOB >"$T/out" 2>"$T/err"
check "unknown job among many: the list is cut short" \
    grep -qx "Error: unknown job 'NOSUCHJOB'; the jobs are: j1, j2, j3, j4, j5, j6, j7, j8, j9, j10 and 20 more" "$T/err"
bob sandbox destroy 99 >"$T/out" 2>"$T/err"
check "destroy of an unknown id: exit 1" [ $? = 1 ]
check "destroy of an unknown id: 'sandbox 99: no such sandbox'" grep -qx 'Error: sandbox 99: no such sandbox' "$T/err"
bob sandbox create >/dev/null 2>&1
bob sandbox destroy 0 99 >"$T/out" 2>"$T/err"
check "destroy of a known and an unknown id: exit 1" [ $? = 1 ]
check "... the known one is destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]
bob sandbox run abc -- true >"$T/out" 2>"$T/err"
check "sandbox run abc: a usage error (exit 2)" [ $? = 2 ]
check "sandbox run abc: 'abc: not a sandbox id'" grep -q 'abc: not a sandbox id' "$T/err"

# ---- per-stage CPU time: recorded, shown by bob history and bob report ----
cat >"$CFG" <<LUA
options = { build_threads = 1, logdir = "$T/logs", tui = false }
sandboxes = { basedir = "$BOB_BASEDIR", setup = {
$SYSTEM_LUA
$JOB_SETUP_LUA
} }
jobs = { { name = "spin", stages = {
  { name = "wait", run = "sleep 0.2" },
  { name = "spin", run = "i=0; while [ \$i -lt 300000 ]; do i=\$((i+1)); done" } } } }
LUA
bob build >/dev/null 2>"$T/err"
check "cpu: the build succeeded" [ $? = 0 ]
"$BOB" -c "$CFG" history -f json >"$T/h.json"
cg2=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -1)
if [ -n "$cg2" ] && grep -q usage_usec "$cg2/cpu.stat" 2>/dev/null; then
    check "history: the CPU time of each stage, the spinning one above 0" python3 -c "
import json; h=json.load(open('$T/h.json'))[0]
c=dict(kv.split('=') for kv in h['cpu'].split())
assert 'wait' in c and float(c['spin']) > 0, h"
else
    ok "history: the CPU time of each stage # SKIP no cgroup v2 cpu.stat"
fi
"$BOB" -c "$CFG" report -o "$T/rep" >/dev/null 2>&1
rm -rf "$BOB_DATADIR"
BOB_NO_CGROUP=1 "$BOB" -c "$CFG" build >/dev/null 2>"$T/err"
"$BOB" -c "$CFG" history -f json >"$T/h.json"
check "without a cgroup (BOB_NO_CGROUP=1): the CPU time from the reaped processes" python3 -c "
import json; h=json.load(open('$T/h.json'))[0]
c=dict(kv.split('=') for kv in h['cpu'].split())
assert 'wait' in c and float(c['spin']) > 0, h"
check "report: the time per stage has the CPU seconds" grep -qE '^stage +jobs +seconds +average +longest +cpu seconds$' "$T/rep/report.txt"
check "report: '1 job', not '1 jobs'" grep -q '^1 job: 1 succeeded' "$T/rep/report.txt"
