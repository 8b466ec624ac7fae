#!/bin/bash
# Stubborn processes: what a job (bob build) or someone in a sandbox (then
# bob sandbox destroy) leaves running must be killed and the sandbox
# destroyed within a bounded time, with nothing left. The cases: a
# double-forked daemon, processes that ignore SIGTERM and SIGHUP (holding the
# job's output pipe, or in a new session and process group), a file held
# open on a sandbox mount (a read-only bind, a tmpfs, a deleted file, a bind
# of a host directory), a cwd inside a sandbox mount (a tmpfs, a bind of a
# host directory), a stopped process, one in a mount namespace of its own,
# mounts made inside the sandbox and held, and a fork storm bounded by a
# process limit; each alone, then all at once. Also SIGTERM to bob while all
# of them run, and (by design not killed) a host process holding a sandbox
# mount: destroy fails cleanly, naming it.
#
# Kill times are printed as TAP diagnostics; only generous bounds are
# asserted (60 s for a kill, 120 s for a whole run).
#
# The fork storm cannot hurt the machine: it runs as an otherwise unused uid
# (RLIMIT_NPROC is not enforced for root) under `ulimit -p 200` (dash's name
# for bash's `ulimit -u`), its processes mostly sleep, and every one of them
# stops forking and exits by itself after STORM_LIFE seconds.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
SH=$T/shared
mkdir -p "$SH"
chmod 755 "$SH"
STORM_UID0=$((100000 + $$ % 50000 * 8)) # 8 storms at most, each its own uid
STORM_UID=$STORM_UID0
STORM_MAX=200
STORM_LIFE=90
STORM_PAUSE=${STORM_PAUSE:-0.05} # seconds between two forks of a storm process
KILL_BOUND_MS=60000

write_cfg() { # JOBS [OPTIONS]
cat >"$CFG" <<LUA
options = { build_threads = 1, logdir = "$T/logs", tui = false, ${2:-} }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
    { action = "mount", fs = "bind", src = "$SH", dest = "/shared" },
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/data" },
  },
}
jobs = { $1 }
LUA
}
bob() { "$BOB" -c "$CFG" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
diag_text() { sed 's/^/# /'; } # a multi-line text as TAP diagnostics

# ---- the stubborn programs (run inside the sandbox, as /shared/...) ----

# stub.sh SECONDS: ignores TERM, HUP and INT (inherited by sleep through
# exec), records its pid in /shared/pids, then sleeps.
cat >"$SH/stub.sh" <<'EOS'
trap '' TERM HUP INT
echo $$ >>/shared/pids
exec sleep "$1"
EOS
# A daemon: double fork, new session, stdio closed, cwd /.
cat >"$SH/launch-daemon.sh" <<'EOS'
before=$(cat /shared/pids 2>/dev/null | wc -l)
(cd / && setsid sh -c '(sh /shared/stub.sh 6001 &)' </dev/null >/dev/null 2>&1 &)
want=1; . /shared/await.sh
EOS
# Ignores TERM and HUP, same process group, holds the job's output pipe.
cat >"$SH/launch-sigign.sh" <<'EOS'
before=$(cat /shared/pids 2>/dev/null | wc -l)
sh /shared/stub.sh 6002 &
want=1; . /shared/await.sh
EOS
# A new session and process group (setsid), holding the output pipe too.
cat >"$SH/launch-setsid.sh" <<'EOS'
before=$(cat /shared/pids 2>/dev/null | wc -l)
setsid sh /shared/stub.sh 6003 &
want=1; . /shared/await.sh
EOS
# Files held open on sandbox mounts: a read-only bind (/usr), a tmpfs (/tmp),
# a deleted file on the tmpfs, a bind of a host directory (/data).
cat >"$SH/launch-fdopen.sh" <<'EOS'
before=$(cat /shared/pids 2>/dev/null | wc -l)
(exec 3</usr/bin/env 4>/tmp/held 5>/tmp/deleted 6</data/file; rm /tmp/deleted
 exec setsid sh /shared/stub.sh 6004 </dev/null >/dev/null 2>&1) &
want=1; . /shared/await.sh
EOS
# cwd inside sandbox mounts: the tmpfs and a bind of a host directory.
cat >"$SH/launch-cwd.sh" <<'EOS'
before=$(cat /shared/pids 2>/dev/null | wc -l)
(cd /tmp && exec setsid sh /shared/stub.sh 6005 </dev/null >/dev/null 2>&1) &
(cd /data/sub && exec setsid sh /shared/stub.sh 6005 </dev/null >/dev/null 2>&1) &
want=2; . /shared/await.sh
EOS
# Stopped (SIGSTOP; in a session of its own, else the kernel continues it
# when its process group becomes orphaned), and in a mount namespace of its
# own (unshare -m).
cat >"$SH/launch-stopped.sh" <<'EOS'
before=$(cat /shared/pids 2>/dev/null | wc -l)
(setsid sh /shared/stub.sh 6006 </dev/null >/dev/null 2>&1 &)
want=1; . /shared/await.sh
kill -STOP "$(tail -1 /shared/pids)"
EOS
cat >"$SH/launch-unshare.sh" <<'EOS'
unshare -m --propagation unchanged true 2>/dev/null || exit 0 # refused behind bob's boundary (no CAP_SYS_ADMIN)
before=$(cat /shared/pids 2>/dev/null | wc -l)
(cd /tmp && exec setsid unshare -m --propagation unchanged sh /shared/stub.sh 6007 \
     </dev/null >/dev/null 2>&1) &
want=1; . /shared/await.sh
EOS
# Mounts made inside the sandbox, held: a tmpfs on a directory of the
# sandbox's tmpfs, and one on a directory of the bind of a host directory.
cat >"$SH/launch-mounts.sh" <<'EOS'
before=$(cat /shared/pids 2>/dev/null | wc -l)
mkdir -p /tmp/m && mount -t tmpfs -o size=1m stub /tmp/m && mount -t tmpfs -o size=1m stub /data/sub ||
    exit 0 # refused behind bob's boundary: then nothing to hold (and no file in the host's /data/sub)
(cd /tmp/m && exec setsid sh /shared/stub.sh 6008 </dev/null >/dev/null 2>&1) &
(cd /data/sub && exec 3>/data/sub/held && exec setsid sh /shared/stub.sh 6008 </dev/null >/dev/null 2>&1) &
want=2; . /shared/await.sh
EOS
# A fork storm under a process limit, as the uid in /shared/storm_uid (a new
# one for every storm: the killed ones' zombies, which init may reap late,
# still count against the limit). Every process tries to fork a copy of
# itself every STORM_PAUSE seconds until STORM_LIFE seconds have passed
# (a deadline they inherit); a fork beyond the limit fails, and the process
# sleeps and tries again. Perl, because a shell needs a fork to sleep and
# dash exits when a fork fails. The launcher waits until the storm has grown
# to half the limit (at most 10 s).
cat >"$SH/storm.pl" <<'EOS'
$SIG{CHLD} = 'IGNORE';
my ($life, $pause) = @ARGV;
my $end = time + $life;
while (time < $end) {
    fork;
    select(undef, undef, undef, $pause);
}
EOS
cat >"$SH/launch-storm.sh" <<EOS
u=\$(cat /shared/storm_uid)
(ulimit -p $STORM_MAX   # dash's name for ulimit -u: RLIMIT_NPROC
 cd /tmp && exec setsid setpriv --reuid=\$u --regid=\$u --clear-groups \\
     perl /shared/storm.pl $STORM_LIFE $STORM_PAUSE </dev/null >/dev/null 2>&1) &
i=0
while [ "\$(pgrep -c -u \$u)" -lt $((STORM_MAX / 2)) ] && [ \$i -lt 100 ]; do
    sleep 0.1; i=\$((i + 1))
done
EOS
# Launchers end with this: waits until $want more stubborn pids are recorded
# than there were at their start (at most 10 s).
cat >"$SH/await.sh" <<'EOS'
i=0
while [ "$(cat /shared/pids 2>/dev/null | wc -l)" -lt $((before + want)) ] && [ $i -lt 100 ]; do
    sleep 0.05; i=$((i + 1))
done
EOS
# The job: launches, says it is ready, waits for the test (at most 60 s),
# records when it exits.
cat >"$SH/job.sh" <<'EOS'
cut -d')' -f2- /proc/$$/stat | awk '{print $4}' >/shared/jobsid
for c in "$@"; do sh "/shared/launch-$c.sh"; done
touch /shared/ready
i=0
while [ ! -e /shared/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
date +%s%N >/shared/exited
EOS

# ---- helpers on the host ----

# Alive: exists and not a zombie (pid 1 here may reap late).
alive() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}
# A job runs in a pid namespace of its own: the pids it records are that
# namespace's. Rewrites $SH/pids with the host's pids of the same processes
# (the last field of NSpid is the pid in the innermost namespace).
pids_to_host() {
    local p ns host=""
    [ -s "$SH/pids" ] || return 0
    for p in $(procs_under "$BOB_BASEDIR"); do
        ns=$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status" 2>/dev/null)
        [ -n "$ns" ] && grep -qx "$ns" "$SH/pids" && host="$host$p"$'\n'
    done
    [ -n "$host" ] && printf '%s' "$host" >"$SH/pids"
}
recorded_alive() { # how many of the recorded pids are alive
    local n=0 p
    for p in $(cat "$SH/pids" 2>/dev/null); do alive "$p" && n=$((n + 1)); done
    echo $n
}
new_storm() { # the next storm runs as a fresh uid
    STORM_UID=$((STORM_UID + 1))
    echo $STORM_UID >"$SH/storm_uid"
}
storm_pids() { pgrep -u "$(seq -s, $STORM_UID0 $STORM_UID)"; }
storm_alive() { # live processes of the storms
    local n=0 p
    for p in $(storm_pids); do alive "$p" && n=$((n + 1)); done
    echo $n
}
# Kills the storm by pid if something went wrong (it also ends by itself).
storm_reap() {
    local i p
    for i in $(seq 50); do
        [ "$(storm_alive)" = 0 ] && return
        for p in $(storm_pids); do kill -KILL "$p" 2>/dev/null; done
        sleep 0.1
    done
}
wait_for() { # FILE SECONDS
    local i
    for i in $(seq $(($2 * 10))); do [ -e "$1" ] && return 0; sleep 0.1; done
    return 1
}
# Waits (at most BOUND_MS) until every recorded pid and the storm are gone;
# prints the time (now_ms) when they were.
wait_gone() { # BOUND_MS
    local t0 t
    t0=$(now_ms)
    while :; do
        t=$(now_ms)
        [ "$(recorded_alive)" = 0 ] && [ "$(storm_alive)" = 0 ] && break
        [ $((t - t0)) -ge "$1" ] && break
        sleep 0.02
    done
    echo "$t"
}
parent_outside() { # PID: its parent is not in the sandboxes, or is its pid namespace's init (orphaned)
    local pp
    pp=$(cut -d')' -f2- "/proc/$1/stat" | awk '{print $2}')
    [ "$(awk '/^NSpid:/ {print $NF}' "/proc/$pp/status" 2>/dev/null)" = 1 ] && return 0
    ! procs_under "$BOB_BASEDIR" | grep -qx "$pp"
}
# Checks that the recorded processes are stubborn: TERM and HUP do nothing.
shrug_off() {
    local p
    for p in $(cat "$SH/pids"); do kill -TERM "$p"; kill -HUP "$p"; done
    sleep 0.3
    [ "$(recorded_alive)" = "$(wc -l <"$SH/pids")" ]
}
holds() { # PATTERN: some recorded process has a fd or cwd whose target matches
    local p
    for p in $(cat "$SH/pids"); do
        ls -l "/proc/$p/fd/" "/proc/$p/cwd" 2>/dev/null | grep -q -- "$1" && return 0
    done
    return 1
}
other_session() { # how many recorded processes are not in the job's session
    local n=0 p s
    for p in $(cat "$SH/pids"); do
        s=$(cut -d')' -f2- "/proc/$p/stat" | awk '{print $4}')
        [ "$s" != "$(cat "$SH/jobsid")" ] && n=$((n + 1))
    done
    echo $n
}
any_stopped() {
    local p
    for p in $(cat "$SH/pids"); do grep -q '^State:.*(stopped)' "/proc/$p/status" && return 0; done
    return 1
}
any_other_mntns() {
    local p
    for p in $(cat "$SH/pids"); do
        [ "$(readlink "/proc/$p/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] && return 0
    done
    return 1
}
one_mntns() { # the recorded processes share one mount namespace (the job's)
    local p
    [ "$(for p in $(cat "$SH/pids" 2>/dev/null); do readlink "/proc/$p/ns/mnt"; done |
        sort -u | wc -l)" -le 1 ]
}
inner_mounts() { # mounts made by the stubborn jobs below a path
    mounts_under "$1" | grep -c '/tmp/m$\|/data/sub$'
}
reset_case() {
    new_storm
    rm -f "$SH/pids" "$SH/jobsid" "$SH/ready" "$SH/go" "$SH/exited"
}
# After a run: nothing of it is left, whatever happened.
nothing_left() { # NAME
    local left
    left=$(procs_under "$BOB_BASEDIR")
    check "$1: no process left in the sandboxes" [ -z "$left" ]
    check "$1: no recorded process alive" [ "$(recorded_alive)" = 0 ]
    check "$1: no storm process alive" [ "$(storm_alive)" = 0 ]
    check "$1: no mount left below the basedir" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
    check "$1: no sandbox left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]
    check "$1: host files intact" host_files_intact
    # Clean up for the next case if something was left.
    [ -z "$left" ] || kill -KILL $left 2>/dev/null
    storm_reap
    if [ -n "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]; then
        bob sandbox destroy -a >/dev/null 2>&1
    fi
}

# ---- bob build: one job a case ----
#
# The job launches the stubborn processes, the test checks that they are
# running and stubborn, lets the job's shell exit, and measures how long it
# takes until they are all gone, and until bob exits.
build_case() { # NAME CASES... (launch scripts, run in order)
    local name=$1 rc t_exit t_gone kill_ms total_ms bpid t0
    shift
    reset_case
    write_cfg "{ name = \"$name\", run = \"sh /shared/job.sh $*\" },"
    t0=$(now_ms)
    timeout -s KILL 300 "$BOB" -c "$CFG" build --format json --events "$T/events" \
        >"$T/summary" 2>"$T/err" &
    bpid=$!
    if ! wait_for "$SH/ready" 60; then
        not_ok "$name: the job got ready"
        touch "$SH/go"
        wait $bpid
        nothing_left "$name"
        return
    fi
    pids_to_host
    if [ "$*" = unshare ] || [ "$*" = mounts ]; then
        # A job behind bob's boundary has no CAP_SYS_ADMIN: nothing to hold.
        check "$name: refused in a job (nothing started)" [ ! -s "$SH/pids" ]
    elif [ "$*" != storm ]; then
        check "$name: the processes run ($(wc -l <"$SH/pids"))" [ "$(recorded_alive)" -ge 1 ]
        check "$name: they ignore SIGTERM and SIGHUP" shrug_off
    fi
    case " $* " in
    *" daemon "*) check "$name: the daemon was orphaned (its parent is outside)" \
        parent_outside "$(head -1 "$SH/pids")" ;;
    esac
    case " $* " in
    *" setsid "* | *" daemon "*) check "$name: in a new session" [ "$(other_session)" -ge 1 ] ;;
    esac
    case " $* " in
    *" fdopen "*)
        check "$name: holds a file on the read-only bind" holds "/usr/bin/env\$"
        check "$name: holds a file on the tmpfs" holds "/tmp/held\$"
        check "$name: holds a deleted file on the tmpfs" holds "/tmp/deleted (deleted)"
        check "$name: holds a host file through a bind" holds "/data/file\$" ;;
    esac
    case " $* " in
    *" cwd "*)
        check "$name: cwd in the tmpfs" holds "[0-9]/tmp\$"
        check "$name: cwd in a bind of a host directory" holds "/data/sub\$" ;;
    esac
    case " $* " in
    *" stopped "*) check "$name: a process is stopped" any_stopped ;;
    esac
    case " $* " in
    *" unshare "*) check "$name: no process has a mount namespace of its own (refused)" one_mntns ;;
    esac
    case " $* " in
    *" mounts "*)
        check "$name: no mount made in the job (refused)" \
            [ "$(inner_mounts "$BOB_BASEDIR")" = 0 ] ;;
    esac
    case " $* " in
    *" storm "*)
        local n lim
        n=$(storm_alive)
        lim=$(awk '/^Max processes/ {print $3}' "/proc/$(pgrep -u "$STORM_UID" | head -1)/limits" 2>/dev/null)
        diag "$name: $n storm processes running, limit $lim"
        check "$name: the storm runs ($n processes)" [ "$n" -ge 20 ]
        check "$name: the storm is bounded by ulimit ($lim)" [ "$lim" = $STORM_MAX ] ;;
    esac
    touch "$SH/go"
    check "$name: the job's shell exits" wait_for "$SH/exited" 30
    t_gone=$(wait_gone $KILL_BOUND_MS)
    wait $bpid
    rc=$?
    total_ms=$(($(now_ms) - t0))
    t_exit=$(cat "$SH/exited" 2>/dev/null)
    kill_ms=$((t_gone - ${t_exit:-0} / 1000000))
    diag "$name: from the job's exit until its processes were gone: ${kill_ms} ms; whole build: ${total_ms} ms"
    [ $rc = 0 ] || { diag "rc=$rc"; tail -5 "$T/err" | diag_text; diag_text <"$T/summary"; }
    check "$name: the build ends and succeeds (exit 0)" [ $rc = 0 ]
    check "$name: killed within ${KILL_BOUND_MS} ms" [ "$kill_ms" -lt $KILL_BOUND_MS ]
    check "$name: the whole build within 120 s" [ "$total_ms" -lt 120000 ]
    check "$name: no warning about killing" bash -c "! grep -qi 'cannot kill\|busy' '$T/err'"
    nothing_left "$name"
}

build_case daemon daemon
build_case sigign sigign
build_case setsid setsid
build_case fdopen fdopen
build_case cwd cwd
build_case stopped stopped
build_case unshare unshare
build_case mounts mounts
build_case storm storm
ALL="daemon sigign setsid fdopen cwd stopped unshare mounts storm"
build_case all $ALL

# ---- SIGTERM to bob while the job and all of them run ----
reset_case
write_cfg "{ name = \"forever\", run = \"sh /shared/job.sh $ALL; sleep 6009\" },"
timeout -s KILL 300 "$BOB" -c "$CFG" build >"$T/summary" 2>"$T/err" &
bpid=$!
if wait_for "$SH/ready" 60; then
    pids_to_host
    touch "$SH/go"
    sleep 0.3
    # timeout(1) passes SIGTERM on to bob.
    t0=$(now_ms)
    kill -TERM $bpid
    wait $bpid
    rc=$?
    ms=$(($(now_ms) - t0))
    diag "SIGTERM with every kind running: bob exited after ${ms} ms"
    check "SIGTERM: exit 130" [ $rc = 130 ]
    check "SIGTERM: within 120 s" [ $ms -lt 120000 ]
else
    not_ok "SIGTERM: the job got ready"
    kill -TERM $bpid
    wait $bpid
fi
nothing_left "SIGTERM"

# ---- processes left in a sandbox, then bob sandbox destroy ----
reset_case
write_cfg ''
SB=$(bob sandbox create 2>"$T/err")
check "create a sandbox for leftovers" [ -d "$SB/.bob/completed" ]
# Started from outside, chrooted like a build: nobody waits for them.
for c in daemon sigign setsid fdopen cwd stopped unshare mounts; do
    chroot "$SB" /bin/sh -c "cd / && sh /shared/launch-$c.sh" </dev/null >/dev/null 2>&1
done
chroot "$SB" /bin/sh -c "cd / && sh /shared/launch-storm.sh" </dev/null >/dev/null 2>&1
sleep 0.3
n=$(recorded_alive)
s=$(storm_alive)
diag "left in the sandbox: $n stubborn processes, $s storm processes"
check "leftovers run ($n stubborn, $s storm)" [ "$n" -ge 10 -a "$s" -ge 20 ]
check "leftover mounts made inside ($(mounts_under "$SB" | wc -l) in all)" \
    [ "$(inner_mounts "$SB")" = 2 ]
check "they ignore SIGTERM and SIGHUP" shrug_off
t0=$(now_ms)
timeout -s KILL 300 "$BOB" -c "$CFG" sandbox destroy -a 2>"$T/err"
rc=$?
ms=$(($(now_ms) - t0))
diag "bob sandbox destroy with all of them: ${ms} ms"
[ $rc = 0 ] || { diag "rc=$rc"; tail -5 "$T/err" | diag_text; }
check "destroy kills them all and succeeds" [ $rc = 0 ]
check "destroy within 120 s" [ $ms -lt 120000 ]
check "the sandbox is gone" [ ! -e "$SB" ]
nothing_left "destroy"

# ---- a host process (not in the sandbox) holding its mounts ----
# It is not bob's to kill: destroy must fail cleanly within its retry time,
# name the holders, keep the host files, and finish once they are gone.
reset_case
SB=$(bob sandbox create 2>"$T/err")
(cd "$SB/tmp" && exec sleep 6010) </dev/null >/dev/null 2>&1 &
h1=$!
(exec sleep 6011 3<"$SB/data/file") </dev/null >/dev/null 2>&1 &
h2=$!
sleep 0.2
t0=$(now_ms)
timeout -s KILL 120 "$BOB" -c "$CFG" sandbox destroy -a 2>"$T/err"
rc=$?
ms=$(($(now_ms) - t0))
diag "destroy with host processes holding mounts: ${ms} ms, exit $rc"
diag_text <"$T/err"
check "host holders: destroy fails (exit 1)" [ $rc = 1 ]
check "host holders: within 60 s" [ $ms -lt 60000 ]
check "host holders: the error says busy and names a holder" \
    grep -Eq "busy.*pid ($h1|$h2) sleep" "$T/err"
check "host holders: bob did not kill them" bash -c "kill -0 $h1 && kill -0 $h2"
check "host holders: host files intact" host_files_intact
check "host holders: the sandbox is listed incomplete" \
    bash -c "'$BOB' -c '$CFG' sandbox list | grep -q '$SB (incomplete)'"
{ kill -KILL $h1 $h2; wait $h1 $h2; } 2>/dev/null
bob sandbox destroy -a 2>"$T/err"
check "host holders gone: destroy -a finishes the job" [ $? = 0 ]
nothing_left "host holders"
