#!/bin/bash
# Ownership and markers. A job (as root) tries to destroy bob's markers:
# .bob removed, replaced by a file, by a symlink to a host directory, or by
# a new empty directory (its /.bob is a read-only tmpfs, so it cannot; the
# lifecycle copes all the same, see unit test_sandbox_lifecycle); the build
# that holds the sandbox tears it down fully, never through a link, and a
# later destroy -a has nothing to do. A sandbox that `sandbox run` uses is held: another bob's
# destroy, run and list see who holds it and change nothing.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
mkdir -p "$T/shared" "$HOST/victim/completed"
write_cfg() {
    cat >"$CFG" <<LUA
options = { build_threads = 1, logdir = "$T/logs", tui = false }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "tmp", dir = "/tmp" },
    { action = "mount", fs = "bind", src = "$T/shared", dest = "/shared" },
    { action = "copy", dir = "/etc" },
  },
}
jobs = { $1 }
LUA
}
for attack in "rm -rf /.bob; ln -s $HOST/victim /.bob" "rm -rf /.bob; touch /.bob" "rm -rf /.bob" "rm -rf /.bob; mkdir /.bob"; do
  write_cfg "{ name = \"a\", run = [==[($attack) 2>/dev/null || true]==] },"
  "$BOB" -c "$CFG" build >"$T/out" 2>&1
  rc=$?
  check "$attack: build rc $rc" [ $rc = 0 ]
  check "$attack: nothing left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" -a -z "$(mounts_under "$T")" ]
  check "$attack: victim intact" [ -d "$HOST/victim/completed" ]
  "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>&1
  check "$attack: destroy -a exits 0" [ $? = 0 ]
done

# sandbox run holds its sandbox while CMD runs.
write_cfg ""
"$BOB" -c "$CFG" sandbox create >/dev/null 2>&1
check "run: created" [ $? = 0 ]
rm -f "$T/shared/run-started"
"$BOB" -c "$CFG" sandbox run 0 -- /bin/sh -c 'touch /shared/run-started; sleep 2' >/dev/null 2>&1 &
RUN=$!
for i in $(seq 100); do [ -e "$T/shared/run-started" ] && break; sleep 0.05; done
"$BOB" -c "$CFG" sandbox list >"$T/list" 2>&1
check "run: list shows the holder" grep -q "/0 (in use by pid $RUN)" "$T/list"
"$BOB" -c "$CFG" sandbox destroy 0 >/dev/null 2>"$T/d.err"
check "run: destroy refuses (exit 1)" [ $? = 1 ]
check "run: the refusal names the owner" grep -q "sandbox 0: in use by bob sandbox run (pid $RUN)" "$T/d.err"
"$BOB" -c "$CFG" sandbox run 0 -- /bin/true >/dev/null 2>"$T/r.err"
check "run: a second run refuses (exit 1)" [ $? = 1 ]
check "run: the second run names the owner" grep -q "in use by bob sandbox run (pid $RUN)" "$T/r.err"
check "run: nothing changed" [ -d "$BOB_BASEDIR/0/.bob/completed" ]
wait $RUN
check "run: the run was not disturbed (exit 0)" [ $? = 0 ]
"$BOB" -c "$CFG" sandbox list >"$T/list" 2>&1
check "run: free again" bash -c "! grep -q 'in use' '$T/list'"
"$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>&1
check "run: destroy -a afterwards exits 0" [ $? = 0 ]
check "run: nothing left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" -a -z "$(mounts_under "$T")" ]
