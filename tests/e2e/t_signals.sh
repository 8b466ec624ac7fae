#!/bin/bash
# Signals: Ctrl+C (SIGINT) during create rolls back, during destroy the
# destroy finishes; a sandbox left by a SIGKILLed bob, at several points of
# create, is cleaned by destroy -a.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
cat >"$CFG" <<LUA
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "cmd", chroot = true, create = "touch /step1; sleep \${BOB_E2E_SLEEP1:-0}" },
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/work" },
    { action = "copy", src = "/usr/share/doc/bash", dest = "/copy" },
    { action = "cmd", chroot = true, create = "sleep \${BOB_E2E_SLEEP2:-0}",
      destroy = "sleep \${BOB_E2E_SLEEP3:-0}" },
    { action = "mount", fs = "tmp", dir = "/var/tmp" },
  },
}
LUA
bob() { "$BOB" -c "$CFG" "$@"; }
# In the background, bob itself must be the job (not a subshell running a
# function), so that $! is bob's pid and the signals reach it.

# Wait until a file exists (up to 10 s).
wait_for() {
    local i
    for i in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done
    return 1
}

# Ctrl+C during the first slow command, with 3 sandboxes being made.
BOB_E2E_SLEEP1=30 "$BOB" -c "$CFG" sandbox create -n 3 >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$BOB_BASEDIR/2/step1"
sleep 0.2
kill -INT $pid
wait $pid
rc=$?
check "Ctrl+C during create exits 130" [ $rc = 130 ]
check "it printed no path" [ ! -s "$T/out" ]
check "everything was rolled back" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "no mount left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
check "the sleeping setup commands were killed" [ -z "$(procs_under "$BOB_BASEDIR")" ]

# Ctrl+C during destroy: the destroy finishes.
bob sandbox create -n 2 >/dev/null 2>&1
BOB_E2E_SLEEP3=1 "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>"$T/err" &
pid=$!
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
check "Ctrl+C during destroy: exit 130" [ $rc = 130 ]
check "it says the destroy goes on" grep -q "finishing the destroy" "$T/err"
check "the destroy finished anyway" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# SIGKILL of bob at several points of create; destroy -a cleans up.
for point in early step1 step2; do
    case $point in
    early) BOB_E2E_SLEEP1=0 BOB_E2E_SLEEP2=0 "$BOB" -c "$CFG" sandbox create -n 2 >/dev/null 2>&1 &
           pid=$!; sleep 0.02 ;;
    step1) BOB_E2E_SLEEP1=30 "$BOB" -c "$CFG" sandbox create -n 2 >/dev/null 2>&1 &
           pid=$!; wait_for "$BOB_BASEDIR/1/step1" ;;
    step2) BOB_E2E_SLEEP2=30 "$BOB" -c "$CFG" sandbox create -n 2 >/dev/null 2>&1 &
           pid=$!; for i in $(seq 100); do [ -d "$BOB_BASEDIR/1/copy" ] && break; sleep 0.1; done
           sleep 0.3 ;;
    esac
    kill -KILL $pid
    wait $pid 2>/dev/null
    diag "killed at $point: $(mounts_under "$BOB_BASEDIR" | wc -l) mounts, $(procs_under "$BOB_BASEDIR" | wc -l) processes left"
    bob sandbox destroy -a 2>"$T/err"
    rc=$?
    [ $rc = 0 ] || diag "$(cat "$T/err")"
    check "SIGKILL at $point: destroy -a succeeds" [ $rc = 0 ]
    check "SIGKILL at $point: no mount left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
    check "SIGKILL at $point: no process left" [ -z "$(procs_under "$BOB_BASEDIR")" ]
    check "SIGKILL at $point: no sandbox left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]
    check "SIGKILL at $point: host files intact" host_files_intact
done
