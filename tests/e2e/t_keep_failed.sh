#!/bin/bash
# bob build --keep-failed: the sandbox of a failed job is kept as the
# failure left it (no post-build, no further job in it), the summary says
# how to enter it, it works after the build with bob sandbox shell ID, the
# other jobs go on in the other sandboxes, and bob sandbox destroy -a
# removes it and its mounts afterwards; host files survive.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
mkdir -p "$T/shared"
cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
$JOB_SETUP_LUA
    { action = "mount", fs = "bind", src = "$T/shared", dest = "/shared" },
  },
  hooks = {
    { action = "cmd", chroot = true, create = "echo hook-applied >> /shared/hooks",
      destroy = "echo hook-undone >> /shared/hooks" },
  },
}
jobs = {
  { name = "broken", run = "echo left-behind > /left-here; echo in-tmp > /tmp/x; exit 4" },
  { name = "one", depends = { "broken" }, run = "true" },
  { name = "two", run = "sleep 0.5; echo two >> /shared/ran" },
  { name = "three", run = "sleep 0.5; echo three >> /shared/ran" },
}
LUA

"$BOB" -c "$CFG" build --keep-failed --format json >"$T/summary" 2>"$T/err"
rc=$?
check "a failure: exit 3" [ $rc = 3 ]
[ $rc = 3 ] || diag "$(tail -20 "$T/err")"
py() { python3 -c "import json; s=json.load(open('$T/summary')); $1"; }
check "the failure names the kept sandbox" py "
f=s['failures'][0]
assert f['job']=='broken' and isinstance(f.get('kept_sandbox'), int), s"
id=$(python3 -c "import json; print(json.load(open('$T/summary'))['failures'][0]['kept_sandbox'])" 2>/dev/null)
check "the others went on in the other sandbox" py "
assert sorted(s['succeeded'])==['three','two'] and s['skipped']==['one'], s"
"$BOB" -c "$CFG" build --keep-failed >"$T/out" 2>&1
check "the text summary says how to enter it" \
    grep -qE "^  Kept sandbox [0-9]+ of broken as the failure left it: bob sandbox shell [0-9]+$" "$T/out"
id2=$(sed -nE 's/^  Kept sandbox ([0-9]+) of broken.*/\1/p' "$T/out")
check "both kept sandboxes are listed after the builds" bash -c "
    '$BOB' -c '$CFG' sandbox list 2>/dev/null | grep -q '$BOB_BASEDIR/$id\$' &&
    '$BOB' -c '$CFG' sandbox list 2>/dev/null | grep -q '$BOB_BASEDIR/$id2\$'"
check "only the kept ones are left: one per failure" [ "$(ls "$BOB_BASEDIR" | grep -c '^[0-9]')" = 2 ]
check "kept as the failure left it: the file it wrote" \
    [ "$(cat "$BOB_BASEDIR/$id/left-here" 2>/dev/null)" = left-behind ]
check "kept as the failure left it: no post-build (the hook was not undone)" \
    [ "$(grep -c hook-undone "$T/shared/hooks")" = "$(($(grep -c hook-applied "$T/shared/hooks") - 2))" ]
out=$(echo 'cat /left-here /tmp/x; exit 0' | "$BOB" -c "$CFG" sandbox shell "$id" 2>/dev/null)
check "bob sandbox shell ID enters it after the build, its tmpfs still mounted" \
    [ "$out" = "left-behind
in-tmp" ]
"$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>"$T/err"
check "destroy -a removes them (exit 0)" [ $? = 0 ]
check "nothing left in the basedir" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "no mount of theirs left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
