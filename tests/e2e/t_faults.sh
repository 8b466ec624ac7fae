#!/bin/bash
# Fault injection (BOB_FAULT): for every injected failure and every SIGKILL
# step of create and destroy (with the roots on a tmpfs of their own and on the disk),
# and of a build: pre-build, jobs, stages,
# post-build; a failed log write and spawn in a build), bob ends with a
# clear one-line error (or dies),
# never leaves a mount it made after a failed create, and afterwards
# `bob sandbox destroy -a` (at most twice) leaves no mount, no process, no
# sandbox directory, and every host file reachable through a bind intact.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
cat >"$CFG" <<LUA
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/work" },
    { action = "copy", src = "$HOST/data", dest = "/copy" },
    { action = "cmd", chroot = true, create = "sleep 60 >/dev/null 2>&1 & echo made > /made",
      destroy = "rm -f /made" },
  },
}
LUA
NACTIONS=10
# Every build here is a first one: no state from the build before (t_state
# tests resume after SIGKILL).
bob() { [ "$1" != build ] || rm -rf "$BOB_DATADIR"; "$BOB" -c "$CFG" "$@"; }


# The create and destroy steps, with each sandbox's root a tmpfs of its own
# (the default) and a plain directory on the disk (tmpfs_root = false).
fault_steps() {
    # Injected failures during create: exit 1, one clear line, nothing mounted.
    for f in mkdir:1 mkdir:2 mount:1 mount:3 mount:6 copy:1 spawn:1; do
        BOB_FAULT=$f bob sandbox create -n 2 >/dev/null 2>"$T/err"
        rc=$?
        check "$K create, $f: exit 1" [ $rc = 1 ]
        check "$K create, $f: the error names the step and the path" \
            grep -qE "(injected|cannot run)" "$T/err"
        check "$K create, $f: no mount left after the rollback" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
        destroy_cleans "$K create, $f"
    done

    # Injected failures during destroy: exit 1, clear error; a second destroy finishes.
    for f in umount:1 umount:4 unlink:1 unlink:2 spawn:1; do
        bob sandbox create -n 2 >/dev/null 2>&1
        BOB_FAULT=$f bob sandbox destroy -a >/dev/null 2>"$T/err"
        rc=$?
        check "$K destroy, $f: exit 1" [ $rc = 1 ]
        check "$K destroy, $f: the error names the step" grep -qE "sandbox [0-9]+: .*(injected|cannot run)" "$T/err"
        check "$K destroy, $f: host files intact" host_files_intact
        destroy_cleans "$K destroy, $f"
    done

    # SIGKILL of bob at every step of create.
    steps="create.claim:1 create.claim:2 create.root:1 create.root:2 create.mark:1 create.mark:2"
    for i in $(seq $NACTIONS); do steps="$steps create.action:$i"; done
    for s in $steps; do
        case "$K$s" in "[disk root]create.root:"*) continue ;; esac # no root tmpfs to mount
        BOB_FAULT="kill@$s" bob sandbox create -n 2 >/dev/null 2>&1
        rc=$?
        check "$K SIGKILL at $s: bob died of it" [ $rc = 137 ]
        destroy_cleans "$K SIGKILL at $s"
    done

    # SIGKILL of bob at every step of destroy.
    steps="destroy.unmark:1 destroy.kill:1 destroy.sweep:1 destroy.remove:1 destroy.remove:2"
    for i in $(seq $NACTIONS); do steps="$steps destroy.action:$i"; done
    for s in $steps; do
        bob sandbox create -n 2 >/dev/null 2>&1
        BOB_FAULT="kill@$s" bob sandbox destroy -a >/dev/null 2>&1
        rc=$?
        check "$K SIGKILL at $s: bob died of it" [ $rc = 137 ]
        destroy_cleans "$K SIGKILL at $s"
    done
}
sed 's|^sandboxes = {|sandboxes = {\n  tmpfs_root = false,|' "$CFG" >"$T/disk.lua"
K="[tmpfs root]" fault_steps
CFG0=$CFG
CFG=$T/disk.lua
K="[disk root]" fault_steps
CFG=$CFG0

# The build steps: pre-build (hooks), each job and stage, post-build. The
# hooks mount a tmpfs and run a command whose undo leaves a mark on the host.
CFG=$T/build.lua
mkdir -p "$T/shared"
cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/work" },
    { action = "mount", fs = "bind", src = "$T/shared", dest = "/shared" },
  },
  hooks = {
    { action = "mount", fs = "tmp", dir = "/build" },
    { action = "cmd", chroot = true, create = "echo hooked > /build/mark",
      destroy = "echo undone >> /shared/undone" },
  },
}
jobs = {
  { name = "a", run = "sleep 60 >/dev/null 2>&1 & echo a" },
  { name = "b", stages = { { name = "one", run = "echo 1" }, { name = "two", run = "echo 2" } } },
  { name = "c", depends = { "a" }, run = "cat /build/mark" },
}
LUA

# SIGKILL of bob at every build step: the build's mounts were in its own
# mount namespace and its jobs behind their init, so nothing of it is left
# a second later; one destroy -a removes the directories and leaves nothing.
for s in prebuild:1 prebuild:2 build.job:1 build.job:3 build.stage:1 build.stage:3 postbuild:1 postbuild:3; do
    BOB_FAULT="kill@$s" bob build >/dev/null 2>&1
    rc=$?
    check "SIGKILL at $s: bob died of it" [ $rc = 137 ]
    for i in $(seq 20); do [ -z "$(procs_under "$BOB_BASEDIR")" ] && break; sleep 0.05; done
    check "SIGKILL at $s: no mount and no process of the build left within 1 s" \
        [ -z "$(mounts_under "$BOB_BASEDIR")$(procs_under "$BOB_BASEDIR")" ]
    destroy_cleans "SIGKILL at $s"
done

# Injected failures during a build: the job fails with a clear reason, the
# run goes on and ends with exit 3, and the build leaves nothing behind.
for f in logwrite:1 spawn:4; do
    BOB_FAULT=$f bob build >"$T/out" 2>"$T/err"
    rc=$?
    check "build, $f: exit 3 (a job failed, the run went on)" [ $rc = 3 ]
    check "build, $f: the reason is given" grep -qE "(injected|cannot write log|cannot run)" "$T/out" "$T/err"
    check "build, $f: the other jobs ran" grep -q "succeeded" "$T/out"
    check "build, $f: no sandbox, mount or process left" \
        [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)$(mounts_under "$BOB_BASEDIR")$(procs_under "$BOB_BASEDIR")" ]
    check "build, $f: host files intact" host_files_intact
done
