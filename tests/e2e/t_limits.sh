#!/bin/bash
# Per-job limits and network = false in bob build: each limit (time,
# silence, memory, tasks) kills its job, which fails with the reason in the
# text and JSON summaries and in the events; a job under its limits
# succeeds; options.limits are defaults a job overrides; network = false
# cannot reach a listener on the host's 127.0.0.1 but has a loopback of its
# own; with BOB_NO_CGROUP=1 memory and task limits are refused, said once,
# while time and silence still work.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
write_cfg() { build_lua "$1" "${2:-}" "$JOB_SETUP_LUA" >"$CFG"; } # JOBS [OPTIONS]
bob() { "$BOB" -c "$CFG" "$@"; }
py() { python3 -c "import json,sys; s=json.load(open('$T/summary')); $1"; }
ev() { python3 -c "import json; e=[json.loads(l) for l in open('$T/events')]; $1"; }
# reason JOB: the failure reason of JOB in the JSON summary.
reason() { python3 -c "import json; s=json.load(open('$T/summary')); print([f['reason'] for f in s['failures'] if f['job']=='$1'][0])"; }
# ev_reason JOB: the reason of JOB's job_finished event.
ev_reason() { python3 -c "import json; e=[json.loads(l) for l in open('$T/events')]; print([x.get('reason') for x in e if x['event']=='job_finished' and x['job']=='$1'][0])"; }

# ---- each limit, with the reason everywhere; a job under its limits succeeds ----
write_cfg '
  { name = "slow", limits = { time = 1 }, run = "echo start; sleep 30" },
  { name = "slow2h", limits = { time = "2s" }, run = "sleep 30" },
  { name = "quiet", limits = { silence = 1 }, run = "echo hello; sleep 30" },
  { name = "chatty", limits = { silence = 1 }, run = "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.3; done" },
  { name = "hungry", limits = { memory = "64M" }, run = "python3 -c \"b = b\x27x\x27 * (400 << 20); print(len(b))\"" },
  { name = "forky", limits = { tasks = 20 }, run = "for i in $(seq 60); do sleep 30 & done; wait" },
  { name = "fits", limits = { time = 30, silence = 10, memory = "256M", tasks = 50 },
    run = "echo ok; python3 -c \"b = b\x27x\x27 * (8 << 20)\"; for i in 1 2 3; do sleep 0.1 & done; wait" },
'
start=$(date +%s)
bob build --format json --events "$T/events" >"$T/summary" 2>"$T/err"
rc=$?
took=$(($(date +%s) - start))
check "jobs over their limits: exit 3" [ $rc = 3 ]
check "the limits ended the jobs early (${took}s, not 30)" [ "$took" -lt 25 ]
check "the JSON summary parses" python3 -m json.tool "$T/summary" >/dev/null
check "fits (under every limit) and chatty (output keeps silence away) succeeded" py "assert sorted(s['succeeded'])==['chatty','fits'], s"
check "the others failed" py "assert sorted(s['failed'])==['forky','hungry','quiet','slow','slow2h'], s"
check "time = 1: 'time limit (1 s) reached' (JSON)" [ "$(reason slow)" = "time limit (1 s) reached" ]
check "time = \"2s\": the user's unit, 'time limit (2s) reached'" [ "$(reason slow2h)" = "time limit (2s) reached" ]
check "silence = 1: 'no output for 1 s' (JSON)" [ "$(reason quiet)" = "no output for 1 s" ]
check "memory = \"64M\": 'memory limit (64M) reached' (JSON)" [ "$(reason hungry)" = "memory limit (64M) reached" ]
check "tasks = 20: 'task limit (20) reached' (JSON)" [ "$(reason forky)" = "task limit (20) reached" ]
for j in slow:"time limit (1 s) reached" quiet:"no output for 1 s" hungry:"memory limit (64M) reached" forky:"task limit (20) reached"; do
    check "events: ${j%%:*} finished with '${j#*:}'" [ "$(ev_reason "${j%%:*}")" = "${j#*:}" ]
done
check "the failure names the stage that ran" py "f=[f for f in s['failures'] if f['job']=='slow'][0]; assert f['stage']=='build' and f['log'].endswith('/slow/build.log'), f"
check "the job's log says why" grep -q "^=> time limit (1 s) reached" "$T/logs/slow/build.log"
check "the output before the limit is in the log" grep -q "^start" "$T/logs/slow/build.log"
diag "$(cat "$T/err")"

# The text summary, one job.
bob build slow >"$T/text" 2>/dev/null
check "text summary: Failed slow in build (time limit (1 s) reached)" \
    grep -q "^  Failed slow in build (time limit (1 s) reached): " "$T/text"

# ---- options.limits are defaults; a job's own override them, false removes one ----
write_cfg '
  { name = "default", run = "sleep 30" },
  { name = "own", limits = { time = 30 }, run = "sleep 2" },
  { name = "none", limits = { time = false }, run = "sleep 2" },
  { name = "tasks", run = "for i in $(seq 40); do sleep 30 & done; wait" },
' 'limits = { time = 1, tasks = 20 },'
bob build --format json --events "$T/events" >"$T/summary" 2>"$T/err"
check "options.limits.time applies to a job without its own" [ "$(reason default)" = "time limit (1 s) reached" ]
check "options.limits.tasks applies too" [ "$(reason tasks)" = "task limit (20) reached" ]
check "a job's own time = 30 overrides the default (sleep 2 succeeds)" py "assert 'own' in s['succeeded'], s"
check "time = false removes the default" py "assert 'none' in s['succeeded'], s"

# ---- config show prints them ----
bob config show >"$T/show.lua" 2>/dev/null
check "config show: options.limits" grep -q 'limits = { time = 1, tasks = 20, },' "$T/show.lua"
check "config show: a job's override" grep -q 'limits = { time = false, },' "$T/show.lua"
bob config show --format json >"$T/show.json" 2>/dev/null
check "config show --format json: the jobs' effective limits" python3 -c "
import json; d=json.load(open('$T/show.json'))
j={x['name']:x for x in d['jobs']}
assert j['default']['limits']['time']==1 and j['own']['limits']['time']==30 and j['none']['limits']['time'] is None, j
assert j['tasks']['limits']['tasks']==20 and d['options']['network'] is True"

# ---- network = false ----
# A listener on the host's loopback (a free port), answering every connection.
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.sendall(b"hi\n"); c.close()
' "$T/port" &
LISTENER=$!
for i in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port")
# Connections use bash's /dev/tcp (the stages run /bin/sh, and ip(8) may not exist).
JOBS=$(cat <<EOF
  { name = "isolated", network = false, env = { PORT = "$PORT" },
    run = [[if bash -c 'exec 3<>/dev/tcp/127.0.0.1/\$PORT'; then echo REACHED-HOST; exit 1; fi; echo cut-off]] },
  { name = "ownlo", network = false, run = [[
python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(10); c, _ = s.accept(); c.sendall(b"own\n")
' > /tmp/ownport &
for i in \$(seq 50); do [ -s /tmp/ownport ] && break; sleep 0.1; done
bash -c 'exec 4<>/dev/tcp/127.0.0.1/\$(cat /tmp/ownport); read -r x <&4; [ "\$x" = own ]'
]] },
  { name = "connected", env = { PORT = "$PORT" },
    run = [[bash -c 'exec 3<>/dev/tcp/127.0.0.1/\$PORT; read -r x <&3; [ "\$x" = hi ]']] },
EOF
)
write_cfg "$JOBS" 'keep_logs = true,'
bob build --format json >"$T/summary" 2>"$T/err"
check "network = false: the host's 127.0.0.1 listener is out of reach" py "assert 'isolated' in s['succeeded'], s"
check "network = false: the log says cut off, not reached" grep -q "^cut-off" "$T/logs/isolated/build.log"
check "network = false: the job's own loopback works" py "assert 'ownlo' in s['succeeded'], s"
check "network = true (the default): the host listener answers" py "assert 'connected' in s['succeeded'], s"
diag "$(python3 -c "import json; print(json.load(open('$T/summary'))['failures'])")"
# options.network = false is the default of every job; network = true overrides it.
write_cfg "
  { name = \"off\", env = { PORT = \"$PORT\" }, run = [[! bash -c 'exec 3<>/dev/tcp/127.0.0.1/\$PORT']] },
  { name = \"on\", network = true, env = { PORT = \"$PORT\" }, run = [[bash -c 'exec 3<>/dev/tcp/127.0.0.1/\$PORT']] },
" 'network = false,'
bob build --format json >"$T/summary" 2>"$T/err"
check "options.network = false: a job without its own is cut off; network = true overrides" \
    py "assert sorted(s['succeeded'])==['off','on'], s"
kill $LISTENER
wait $LISTENER 2>/dev/null

# ---- a task limit that a stage fits: many short stages in a row never hit it ----
# (each stage's init counts until it is reaped: a next stage that started
# while the last init was still exiting would find the limit taken)
stages=""
for i in $(seq 25); do stages="$stages { name = \"s$i\", run = \"/bin/true\" },"; done
jobs=""
for j in $(seq 8); do jobs="$jobs { name = \"t$j\", limits = { tasks = 3 }, stages = { $stages } },"; done
write_cfg "$jobs"
bob build --format json >"$T/summary" 2>"$T/err"
rc=$?
check "tasks = 3, 8 jobs of 25 stages of /bin/true (init, sh, true): all succeed (exit 0)" [ $rc = 0 ]
[ $rc = 0 ] || diag "$(python3 -c "import json; s=json.load(open('$T/summary')); print(s.get('failures'))" 2>&1 | head -c 600)"
check "tasks = 3, 25 stages: all 8 jobs succeeded" py "assert len(s['succeeded'])==8, s.get('failures')"

# ---- without cgroups: memory and tasks refused (said once), time and silence work ----
write_cfg '
  { name = "mem", limits = { memory = "64M" }, run = "echo ran > /tmp/x" },
  { name = "tasks", limits = { tasks = 20 }, run = "true" },
  { name = "slow", limits = { time = 1 }, run = "sleep 30" },
  { name = "quiet", limits = { silence = 1 }, run = "sleep 30" },
'
BOB_NO_CGROUP=1 "$BOB" -c "$CFG" build --format json --events "$T/events" >"$T/summary" 2>"$T/err"
check "no cgroup: exit 3" [ $? = 3 ]
check "no cgroup: said once at the start, on stderr" \
    [ "$(grep -c 'memory and task limits cannot be enforced on this host (cgroup: disabled by BOB_NO_CGROUP)' "$T/err")" = 1 ]
check "no cgroup: the memory job fails with the reason" \
    [ "$(reason mem)" = "memory limit (64M) cannot be enforced on this host" ]
check "no cgroup: the task job fails with the reason" \
    [ "$(reason tasks)" = "task limit (20) cannot be enforced on this host" ]
check "no cgroup: events say it too" [ "$(ev_reason mem)" = "memory limit (64M) cannot be enforced on this host" ]
check "no cgroup: the time limit still works" [ "$(reason slow)" = "time limit (1 s) reached" ]
check "no cgroup: the silence limit still works" [ "$(reason quiet)" = "no output for 1 s" ]
diag "$(cat "$T/err")"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]
