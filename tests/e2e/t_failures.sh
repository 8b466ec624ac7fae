#!/bin/bash
# A failing setup rolls back everything (also the failing sandbox), two
# concurrent creates get distinct ids, and a process left inside a sandbox
# (double-forked, ignoring SIGTERM) is killed by destroy.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
write_cfg() {
cat >"$CFG" <<LUA
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/work" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
    $1
  },
}
LUA
}
bob() { "$BOB" -c "$CFG" "$@"; }

write_cfg '{ action = "cmd", chroot = true, create = "echo about to fail >&2; exit 3" },
    { action = "mount", fs = "tmp", dir = "/never" },'
out=$(bob sandbox create -n 3 2>"$T/err")
rc=$?
check "a failing setup command fails create (exit 1)" [ $rc = 1 ]
check "nothing on stdout" [ -z "$out" ]
check "the error names the action, the status and stderr" grep -q "sandboxes.setup\[9\].*create command failed (exit code 3)" "$T/err"
check "the command's stderr is shown" grep -q "about to fail" "$T/err"
check "every sandbox rolled back, the failing ones too" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "no mount left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
check "host files intact" host_files_intact

write_cfg ''
bob sandbox create -n 4 >"$T/a" 2>/dev/null &
bob sandbox create -n 4 >"$T/b" 2>/dev/null &
wait
check "two concurrent create -n 4 give 8 distinct ids" [ "$(cat "$T/a" "$T/b" | sort -u | wc -l)" = 8 ]
check "list shows 8" [ "$(bob sandbox list | wc -l)" = 8 ]
bob sandbox destroy -a 2>/dev/null
check "destroy -a of 8" [ $? = 0 ]

# Processes left inside: a plain background one, a double-forked daemon
# ignoring SIGTERM and SIGHUP in its own session.
SB=$(bob sandbox create 2>/dev/null)
chroot "$SB" /bin/sh -c 'sleep 600 >/dev/null 2>&1 &'
chroot "$SB" /bin/sh -c 'setsid /bin/sh -c "trap \"\" TERM HUP; (sleep 600 &); sleep 600" >/dev/null 2>&1 &'
sleep 0.3
n=$(procs_under "$SB" | wc -l)
check "processes are running inside ($n)" [ "$n" -ge 3 ]
start=$(date +%s%N)
bob sandbox destroy -a 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "destroy kills them and succeeds" [ $rc = 0 ]
diag "destroy with 4 stubborn processes: ${ms} ms"
check "no process left inside" [ -z "$(procs_under "$SB")" ]
check "sandbox gone" [ ! -e "$SB" ]
