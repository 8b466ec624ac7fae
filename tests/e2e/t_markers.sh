#!/bin/bash
# A job (as root, in a plain chroot) destroys bob's markers: .bob removed,
# replaced by a file, by a symlink to a host directory, or by a new empty
# directory. The build that holds the sandbox still tears it down fully,
# never through the link, and a later destroy -a has nothing to do.
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
  write_cfg "{ name = \"a\", run = [==[$attack; true]==] },"
  "$BOB" -c "$CFG" build >"$T/out" 2>&1
  rc=$?
  check "$attack: build rc $rc" [ $rc = 0 ]
  check "$attack: nothing left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" -a -z "$(mounts_under "$T")" ]
  check "$attack: victim intact" [ -d "$HOST/victim/completed" ]
  "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>&1
  check "$attack: destroy -a exits 0" [ $? = 0 ]
done
