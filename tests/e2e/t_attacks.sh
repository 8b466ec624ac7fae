#!/bin/bash
# Hostile builds (issue "Containment"): jobs that run as root and attack
# their sandbox, bob, and the host. Each attack must fail, with the host
# files unchanged, no mount or process left, bob alive, and `destroy -a`
# telling the truth. The whole test runs in its own pid namespace (and the
# private mount namespace of tests/run-private), so that an attack that
# works cannot reach the machine: `kill -9 -1` there reaches this test's
# processes only.
if [ -z "${BOB_IN_PID_NS:-}" ] && [ "$(id -u)" = 0 ] && [ -n "${BOB_IN_PRIVATE_NS:-}" ]; then
    export BOB_IN_PID_NS=1
    exec unshare --pid --fork --mount-proc -- /bin/bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
mkdir -p "$T/shared" "$HOST/victim/completed" "$HOST/victim/sub"
echo "victim" >"$HOST/victim/sub/file"
victim_sums() { (cd "$HOST/victim" && find . | sort && find . -type f -exec cat {} +) | sha256sum; }
VICTIM=$(victim_sums)

# write_cfg JOBS [OPTIONS] [SETUP]: a build config whose sandboxes see the
# host's data read-only at /ro, a writable scratch at /shared, and /etc as a copy.
write_cfg() {
    build_lua "$1" "${2:-}" "$JOB_SETUP_LUA
    { action = \"mount\", fs = \"bind\", src = \"$HOST/data\", dest = \"/ro\", opts = \"ro\" },
    { action = \"mount\", fs = \"bind\", src = \"$T/shared\", dest = \"/shared\" },
    { action = \"copy\", dir = \"/etc\" },
${3:-}" >"$CFG"
}
bob() { "$BOB" -c "$CFG" "$@"; }
# attack NAME SCRIPT: a one-job build whose job runs SCRIPT as root.
attack() {
    write_cfg "{ name = \"$1\", run = [==[$2]==] },"
    bob build >"$T/$1.out" 2>"$T/$1.err"
    echo $? >"$T/$1.rc"
}
rc_of() { cat "$T/$1.rc"; }
# After each attack: bob ended by itself (exit 0 or 3, not killed), nothing is
# left of the sandboxes, and destroy -a has nothing to do.
aftermath() {
    local name=$1 rc
    rc=$(rc_of "$name")
    check "$name: bob survived and reported (exit $rc)" [ "$rc" = 0 -o "$rc" = 3 ]
    check "$name: no sandbox left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]
    check "$name: no mount left" [ -z "$(mounts_under "$T")" ]
    check "$name: host files intact" host_files_intact
    check "$name: host victim dir intact" [ "$(victim_sums)" = "$VICTIM" ]
    bob sandbox destroy -a >/dev/null 2>&1
    check "$name: destroy -a afterwards exits 0" [ $? = 0 ]
}

# A sentinel that was there before every build, outside every sandbox.
(exec -a bob-attack-sentinel sleep 1000) &
SENTINEL=$!

# 1. Remount a read-only bind read-write and write through it.
attack remount 'mount -o remount,bind,rw /ro; echo pwned > /ro/file; echo pwned > /ro/new; true'
aftermath remount
check "remount: the host file is unchanged" [ "$(cat "$HOST/data/file")" = precious ]
check "remount: nothing new on the host" [ ! -e "$HOST/data/new" ]

# 2. The classic chroot escape, then a daemon on the host.
attack escape "perl -e 'mkdir \"/tmp/x\"; chroot \"/tmp/x\"; chdir \"..\" for 1..64; chroot \".\"; open(F, \">$T/escaped\"); print F \"out\n\"; close F; exec { \"sleep\" } \"bob-escaped-daemon\", 1000 if !fork; exit 0'; true"
aftermath escape
check "escape: nothing written outside the sandbox" [ ! -e "$T/escaped" ]
check "escape: no daemon survived" bash -c '! pgrep -f ^bob-escaped-daemon >/dev/null'

# 3. chroot /proc/1/root (the host's init, through a /proc that shows it).
attack procroot "chroot /proc/1/root /bin/sh -c 'echo out > $T/procroot'; true"
aftermath procroot
check "procroot: nothing written outside the sandbox" [ ! -e "$T/procroot" ]

# 4. /proc in a job shows the job's processes only.
attack procview 'grep -l "bob-attack-sentine[l]" /proc/[0-9]*/cmdline > /shared/seen 2>/dev/null || true; ls /proc | grep -c "^[0-9]" > /shared/count; true'
aftermath procview
check "procview: the job does not see the host's processes" [ ! -s "$T/shared/seen" ]
check "procview: a handful of processes at most ($(cat "$T/shared/count" 2>/dev/null))" [ "$(cat "$T/shared/count" 2>/dev/null || echo 999)" -lt 10 ]

# 5. kill -9 -1 from a job reaches only that job.
attack killall 'kill -9 -1; sleep 0.2; true'
aftermath killall
check "killall: the sentinel outside the sandbox lives" kill -0 $SENTINEL

# 6. Replace bob's marker with a symlink to a host directory.
attack marker_link "rm -rf /.bob; ln -s $HOST/victim /.bob; true"
aftermath marker_link
check "marker_link: the host directory behind the link is intact" [ -d "$HOST/victim/completed" ]

# 7. Replace bob's marker with a file; mount over the root.
attack marker_file 'rm -rf /.bob; touch /.bob; mount -t tmpfs none / ; true'
aftermath marker_file

# 8. A mount made inside a copied tree (/etc).
attack copy_mount 'mkdir -p /etc/sub && mount -t tmpfs none /etc/sub; true'
aftermath copy_mount

# 9. The same from the host side: a mount inside a copy never blocks destroy.
write_cfg ""
bob sandbox create >/dev/null 2>&1
mkdir -p "$BOB_BASEDIR/0/etc/sub"
mount -t tmpfs none "$BOB_BASEDIR/0/etc/sub"
bob sandbox destroy -a >"$T/d.out" 2>&1
check "a mount inside a copy: destroy -a exits 0" [ $? = 0 ]
check "a mount inside a copy: nothing left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" -a -z "$(mounts_under "$T")" ]

# 10. A daemon left by a host cmd action, with its cwd in the sandbox.
HOSTCMD=$(cat <<'LUA'
    { action = "cmd", create = [[cd "$bob_sandbox_path" && bash -c 'exec -a bob-host-daemon setsid sleep 1000' </dev/null >/dev/null 2>&1 &]] },
LUA
)
write_cfg "" "" "$HOSTCMD"
bob sandbox create >/dev/null 2>"$T/hd.err"
check "host daemon: created" [ $? = 0 ]
bob sandbox destroy -a >/dev/null 2>&1
check "host daemon: destroy -a exits 0" [ $? = 0 ]
check "host daemon: killed by destroy" bash -c '! pgrep -f ^bob-host-daemon >/dev/null'

# 11. A symlink and a bind mount planted at <basedir>/N are not sandboxes.
mkdir -p "$BOB_BASEDIR" "$HOST/fake/.bob/completed" "$HOST/fake2/.bob/completed"
echo keep >"$HOST/fake/keep"
echo keep >"$HOST/fake2/keep"
ln -s "$HOST/fake" "$BOB_BASEDIR/5"
mkdir "$BOB_BASEDIR/6"
mount --bind "$HOST/fake2" "$BOB_BASEDIR/6"
bob sandbox list >"$T/list" 2>/dev/null
check "planted: the symlink is not listed as a sandbox" bash -c "! grep -q '/5\$\|/5 ' '$T/list'"
bob sandbox destroy -a >/dev/null 2>&1
check "planted: files behind the symlink survive" [ -f "$HOST/fake/keep" -a -d "$HOST/fake/.bob/completed" ]
check "planted: files behind the bind mount survive" [ -f "$HOST/fake2/keep" -a -d "$HOST/fake2/.bob/completed" ]
umount "$BOB_BASEDIR/6" 2>/dev/null
rm -f "$BOB_BASEDIR/5"
rmdir "$BOB_BASEDIR/6" 2>/dev/null

# 12. A second bob against a live build's sandboxes.
write_cfg '{ name = "long", run = "touch /shared/long-started; sleep 3; touch /shared/long-done" },'
rm -f "$T/shared/long-started" "$T/shared/long-done"
# Started directly, not through the bob function, so that $! is bob itself.
"$BOB" -c "$CFG" build >"$T/long.out" 2>"$T/long.err" &
BUILD=$!
for i in $(seq 100); do [ -e "$T/shared/long-started" ] && break; sleep 0.05; done
bob sandbox list >"$T/live-list" 2>&1
check "live build: list shows the sandbox in use" grep -q "in use by pid $BUILD" "$T/live-list"
bob sandbox destroy -a >"$T/d2.out" 2>"$T/d2.err"
rc=$?
check "live build: a second destroy -a refuses (exit 1)" [ $rc = 1 ]
check "live build: the refusal names the owner" grep -q "in use by bob build (pid $BUILD)" "$T/d2.err"
wait $BUILD
rc=$?
check "live build: the build was not disturbed (exit 0)" [ $rc = 0 ]
check "live build: its job finished" [ -e "$T/shared/long-done" ]

# 13. SIGKILL of bob build: every job process gone within a second, no mount.
ORPHANS=$(cat <<'LUA'
  { name = "a", run = [[exec bash -c 'exec -a bob-orphan-a sleep 1000']] },
  { name = "b", run = [[bash -c 'exec -a bob-orphan-b setsid sleep 1000' </dev/null >/dev/null 2>&1 & exec bash -c 'exec -a bob-orphan-b2 sleep 1000']] },
LUA
)
write_cfg "$ORPHANS"
"$BOB" -c "$CFG" build >/dev/null 2>&1 &
BUILD=$!
for i in $(seq 100); do
    [ "$(pgrep -fc '^bob-orphan-' 2>/dev/null)" -ge 3 ] && break
    sleep 0.05
done
kill -9 $BUILD
wait $BUILD 2>/dev/null
sleep 1
check "SIGKILL: no job process left after 1 s" bash -c '! pgrep -f ^bob-orphan- >/dev/null'
check "SIGKILL: no mount left" [ -z "$(mounts_under "$T")" ]
bob sandbox destroy -a >/dev/null 2>&1
check "SIGKILL: destroy -a cleans the directories (exit 0)" [ $? = 0 ]
check "SIGKILL: nothing left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]

kill $SENTINEL 2>/dev/null
wait $SENTINEL 2>/dev/null
