#!/bin/bash
# Options parse the same way in every command (getopt_long): --opt=value,
# --opt value and -nVALUE; a bad value is a usage error (exit 2). And
# bob build --dry-run: the start order, text and JSON, creating nothing.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
mkdir -p "$T/shared"
cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "bind", src = "$T/shared", dest = "/shared" },
  },
}
jobs = {
  { name = "top", depends = { "mid", "side" }, run = "echo top >> /shared/order" },
  { name = "mid", depends = { "base" }, run = "echo mid >> /shared/order" },
  { name = "base", run = "echo base >> /shared/order" },
  { name = "side", run = "echo side >> /shared/order" },
  { name = "alone", run = "echo alone >> /shared/order" },
}
LUA
# Every build here is a first one: no state from the build before (t_state
# tests resume and up to date).
bob() { [ "$1" != build ] || rm -rf "$BOB_DATADIR"; "$BOB" -c "$CFG" "$@"; }
status() { "$@" >/dev/null 2>&1; echo $?; }

# ---- build: --format=json, --events=-, --events FILE ----
bob build --format=json --events="$T/ev1" >"$T/out1" 2>"$T/err"
check "build --format=json --events=FILE: exit 0" [ $? = 0 ]
check "build --format=json: the summary is JSON" python3 -c "import json; s=json.load(open('$T/out1')); assert len(s['succeeded'])==5, s"
check "build --events=FILE: every line is an event" python3 -c "import json; e=[json.loads(l) for l in open('$T/ev1')]; assert e[0]['event']=='run_started' and e[-1]['event']=='run_finished'"
bob build --events=- --format text >"$T/out2" 2>"$T/err"
check "build --events=-: exit 0" [ $? = 0 ]
check "build --events=-: events on stdout" grep -q '^{"event":"run_finished"' "$T/out2"
check "build --events=-: the text summary too" grep -q '^5 jobs in .*: 5 succeeded' "$T/out2"
bob build --events "$T/ev3" alone >/dev/null 2>"$T/err"
check "build --events FILE JOB: exit 0" [ $? = 0 ]
check "build --events FILE: written" grep -q '"job":"alone"' "$T/ev3"
check "build --format=xml: exit 2" [ "$(status bob build --format=xml)" = 2 ]
check "build --format without a value: exit 2" [ "$(status bob build --format)" = 2 ]
check "build --bogus: exit 2" [ "$(status bob build --bogus)" = 2 ]

# ---- sandbox create: -n4, -n 0, -n x ----
bob sandbox create -n2 >"$T/out" 2>"$T/err"
check "sandbox create -n2: exit 0" [ $? = 0 ]
check "sandbox create -n2: two paths" [ "$(wc -l <"$T/out")" = 2 ]
bob sandbox create --count=1 >"$T/out" 2>"$T/err"
rc=$?
check "sandbox create --count=1: one more" bash -c "[ $rc = 0 ] && [ \$(wc -l <'$T/out') = 1 ]"
bob sandbox destroy --all >/dev/null 2>&1
check "sandbox destroy --all" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]
check "sandbox create -n 0: exit 2" [ "$(status bob sandbox create -n 0)" = 2 ]
check "sandbox create -n0: exit 2" [ "$(status bob sandbox create -n0)" = 2 ]
check "sandbox create -n x: exit 2" [ "$(status bob sandbox create -n x)" = 2 ]
check "sandbox create -n 4097: exit 2" [ "$(status bob sandbox create -n 4097)" = 2 ]
check "sandbox create -n: exit 2" [ "$(status bob sandbox create -n)" = 2 ]
check "sandbox run --log without a file: exit 2" [ "$(status bob sandbox run --log)" = 2 ]
check "no sandbox was made by a refused command" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]

# ---- build --dry-run ----
rm -rf "$T/shared/order" "$T/logs"
bob build --dry-run >"$T/dry" 2>"$T/err"
check "dry run: exit 0" [ $? = 0 ]
check "dry run: every job once" [ "$(sort "$T/dry" | tr '\n' ' ')" = "alone base mid side top " ]
deps_ok() { # FILE: base<mid<top, side<top
    awk '{p[$1]=NR} END {exit !(p["base"]<p["mid"] && p["mid"]<p["top"] && p["side"]<p["top"])}' "$1"
}
check "dry run: dependencies first" deps_ok "$T/dry"
check "dry run: nothing ran" [ ! -e "$T/shared/order" ]
nothing_made() { [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ] && [ ! -e "$T/logs" ]; }
check "dry run: no sandbox, no log" nothing_made
bob build --dry-run --format=json top >"$T/dry.json" 2>"$T/err"
check "dry run json: exit 0" [ $? = 0 ]
check "dry run json: order of top and its dependencies, skipped empty" python3 -c "
import json
s = json.load(open('$T/dry.json'))
o = s['order']
assert sorted(o) == ['base', 'mid', 'side', 'top'], o
assert o.index('base') < o.index('mid') < o.index('top') and o.index('side') < o.index('top'), o
assert s['skipped'] == [], s"
chmod 755 "$T" && chmod 644 "$CFG"
check "dry run as a normal user (no root needed)" \
    [ "$(setpriv --reuid=65534 --regid=65534 --clear-groups -- "$BOB" -c "$CFG" build --dry-run alone 2>/dev/null)" = alone ]
check "dry run of an unknown job: exit 1" [ "$(status bob build --dry-run nosuch)" = 1 ]
check "dry run: still nothing created" nothing_made
