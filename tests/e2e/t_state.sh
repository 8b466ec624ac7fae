#!/bin/bash
# The build state (options.dbdir, SQLite): resume after Ctrl+C and after
# SIGKILL at random moments, failures kept until bob rebuild (and --only),
# up to date after a finished build, a changed definition, --all; status,
# log, list, history, diff, clean and report in every format; a reader
# while a build writes; a schema mismatch, a corrupt file, a read-only
# dbdir, a full disk; options.dbdir = false.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
DB=$T/db
write_cfg() { # JOBS [OPTIONS]
cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs", dbdir = "$DB", tui = false, ${2:-} }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
    { action = "mount", fs = "bind", src = "$T/shared", dest = "/shared" },
  },
}
jobs = { $1 }
LUA
}
mkdir -p "$T/shared"
bob() { "$BOB" -c "$CFG" "$@"; }
# J NAME [DEPS] [EXTRA]: appends NAME to /shared/order when it runs.
J() {
    local deps=""
    [ -z "${2:-}" ] || deps="depends = { $2 },"
    echo "{ name = \"$1\", $deps run = \"echo $1 >> /shared/order; ${3:-true}\" },"
}
ran() { grep -c "^$1\$" "$T/shared/order"; }
st() { bob status -f json | python3 -c "import json,sys; s={r['job']:r for r in json.load(sys.stdin)}; $1"; }
# Sandboxes left by a SIGKILLed bob (their mounts died with it) go before the next test.
sweep() { bob sandbox destroy -a >/dev/null 2>&1; }

# 1. A first build: recorded, failures and skips with their reason and blocker.
JOBS="$(J a) $(J b '"a"') $(J c '"a"' 'exit 4') $(J d '"c"') $(J e '"d"')"
write_cfg "$JOBS"
bob build >"$T/out" 2>"$T/err"
check "first build: exit 3 (a failure)" [ $? = 3 ]
check "the summary names the build" grep -q '^Build 1 ' "$T/out"
check "bob.db exists (WAL)" bash -c "[ -f '$DB/bob.db' ] && python3 -c \"import sqlite3; c=sqlite3.connect('$DB/bob.db'); assert c.execute('PRAGMA journal_mode').fetchone()[0]=='wal'\""
check "status json: every job with its status" st "assert {k:v['status'] for k,v in s.items()}=={'a':'succeeded','b':'succeeded','c':'failed','d':'skipped','e':'skipped'}, s"
check "status json: job, status, stage, reason, duration" st "assert all(set(['job','status','stage','reason','duration'])<=set(r) for r in s.values())"
check "status json: the failure's stage and reason" st "assert s['c']['stage']=='build' and s['c']['reason']=='exit code 4', s['c']"
check "status json: a skip names its blocker (transitively)" st "assert s['d']['blocker']=='c' and s['e']['blocker']=='c', s"
check "status csv: a header and 5 rows" bash -c "[ \$('$BOB' -c '$CFG' status -f csv | wc -l) = 6 ]"
check "status -H: no header" bash -c "! '$BOB' -c '$CFG' status -H | grep -q '^job'"
check "status -o job,status: two columns" bash -c "'$BOB' -c '$CFG' status -f csv -o job,status | head -1 | grep -qx 'job,status'"
check "status PATTERN filters" bash -c "[ \"\$('$BOB' -c '$CFG' status -H -f csv -o job 'c*')\" = c ]"
check "status -o unknown: usage error" bash -c "'$BOB' -c '$CFG' status -o nope 2>/dev/null; [ \$? = 2 ]"
check "log JOB prints the failed stage's log" bash -c "'$BOB' -c '$CFG' log c | grep -q 'exit code 4'"
check "log -l lists the logs" bash -c "'$BOB' -c '$CFG' log -l c | grep -q '/c/build.log\$'"
check "log -s STAGE" bash -c "'$BOB' -c '$CFG' log -s build c | head -1 | grep -q '^=> echo c'"
check "log ../x: refused as a usage error" bash -c "'$BOB' -c '$CFG' log ../etc 2>/dev/null; [ \$? = 2 ]"
check "log of a job that succeeded: error" bash -c "! '$BOB' -c '$CFG' log a 2>/dev/null"

# 2. Resume: bob build after a finished build starts a new one, a b up to date.
: >"$T/shared/order"
bob build --format json >"$T/sum" 2>/dev/null
check "second build: a and b are up to date, not run" bash -c "! grep -qE '^(a|b)\$' '$T/shared/order'"
check "second build: the failure ran again (a new build)" [ "$(ran c)" = 1 ]
check "json summary: build 2, up_to_date a b" python3 -c "import json; s=json.load(open('$T/sum')); assert s['build']==2 and sorted(s['up_to_date'])==['a','b'], s"
check "status: up-to-date" st "assert s['a']['status']=='up-to-date' and s['b']['status']=='up-to-date', s"

# 3. rebuild: failures kept by bob build until bob rebuild; --only keeps dependents skipped.
write_cfg "$(J a) $(J b '"a"') $(J c '"a"' 'exit 4') $(J d '"c"') $(J e '"d"') $(J f '' 'sleep 3')"
: >"$T/shared/order"
"$BOB" -c "$CFG" build >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do grep -q '^f$' "$T/shared/order" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid
check "Ctrl+C: exit 130" [ $? = 130 ]
check "after Ctrl+C the build is interrupted" bash -c "'$BOB' -c '$CFG' list -f csv -H -o outcome | tail -1 | grep -qx interrupted"
# Fix c's definition? No: keep it failing, make f fast; f is pending or interrupted.
write_cfg "$(J a) $(J b '"a"') $(J c '"a"' 'exit 4') $(J d '"c"') $(J e '"d"') $(J f)"
: >"$T/shared/order"
bob build >"$T/out" 2>/dev/null
check "resume: exit 3 (c's failure is kept)" [ $? = 3 ]
check "resume: the kept failure did not run again" [ "$(ran c)" = 0 ]
check "resume: the changed job f ran" [ "$(ran f)" = 1 ]
check "resume: same build id (3)" grep -q '^Build 3 ' "$T/out"
check "resume: the summary says the failure is kept" grep -q 'Failed c in build (exit code 4, kept from before)' "$T/out"
write_cfg "$(J a) $(J b '"a"') $(J c '"a"') $(J d '"c"') $(J e '"d"') $(J f)"
: >"$T/shared/order"
bob rebuild --only c >/dev/null 2>"$T/err"
check "rebuild --only c: exit 0 (c, the only job run, succeeded)" [ $? = 0 ]
check "rebuild --only: the warning" grep -q 'rebuilding without dependents' "$T/err"
check "rebuild --only: c ran, d and e did not" bash -c "[ \$(grep -c . '$T/shared/order') = 1 ] && grep -qx c '$T/shared/order'"
check "rebuild --only: status c succeeded, d skipped" st "assert s['c']['status']=='succeeded' and s['d']['status']=='skipped', s"
write_cfg "$(J a) $(J b '"a"') $(J c '"a"') $(J d '"c"' 'exit 5') $(J e '"d"') $(J f)"
bob build >/dev/null 2>&1
: >"$T/shared/order"
bob rebuild -a >/dev/null 2>&1
check "rebuild -a: retries d (fails again: exit 3)" [ $? = 3 ]
write_cfg "$(J a) $(J b '"a"') $(J c '"a"') $(J d '"c"') $(J e '"d"') $(J f)"
: >"$T/shared/order"
bob rebuild d >/dev/null 2>&1
check "rebuild d: exit 0, d and its dependent e ran" bash -c "[ \$? = 0 ] || true; grep -qx d '$T/shared/order' && grep -qx e '$T/shared/order'"
check "rebuild d: nothing else ran" [ "$(grep -c . "$T/shared/order")" = 2 ]
check "rebuild of an unknown job: error" bash -c "! '$BOB' -c '$CFG' rebuild nope 2>/dev/null"

# 4. A changed definition runs again, with its dependents; --all runs everything.
: >"$T/shared/order"
bob build >/dev/null 2>&1
check "nothing changed: nothing runs" [ ! -s "$T/shared/order" ]
write_cfg "$(J a) $(J b '"a"') $(J c '"a"' 'echo changed') $(J d '"c"') $(J e '"d"') $(J f)"
bob build >/dev/null 2>&1
check "changed c: c d e ran, a b f did not" bash -c "[ \"\$(sort '$T/shared/order' | tr '\n' ' ')\" = 'c d e ' ]"
: >"$T/shared/order"
bob build --all >/dev/null 2>&1
check "--all runs every job" [ "$(grep -c . "$T/shared/order")" = 6 ]

# 5. list, history, diff, clean in every format.
for f in table csv json; do
    check "list -f $f" bash -c "'$BOB' -c '$CFG' list -f $f >'$T/l.$f' && [ -s '$T/l.$f' ]"
    check "history -f $f" bash -c "'$BOB' -c '$CFG' history -f $f c >'$T/h.$f' && grep -q build '$T/h.$f'"
    check "diff -f $f" bash -c "'$BOB' -c '$CFG' diff -f $f >'$T/d.$f'"
done
check "list json parses, one object per build" python3 -c "import json; l=json.load(open('$T/l.json')); assert len(l)>=6 and all('id' in b and 'duration' in b for b in l), l"
check "history json: c failed then succeeded, with stage times" python3 -c "
import json; h=json.load(open('$T/h.json'))
st=[r['status'] for r in h]; assert 'failed' in st and 'succeeded' in st, st
assert any(r['stages'] and 'build=' in r['stages'] for r in h), h"
check "diff 1 3: no change for a" bash -c "! '$BOB' -c '$CFG' diff -H -f csv -o job 1 3 | grep -qx a"
check "diff 2 4: c fixed" bash -c "'$BOB' -c '$CFG' diff -f json 2 4 | python3 -c \"import json,sys; d={r['job']:r['change'] for r in json.load(sys.stdin)}; assert d.get('c')=='fixed', d\""
check "clean forgets the current build" bash -c "'$BOB' -c '$CFG' clean 2>/dev/null && ! '$BOB' -c '$CFG' status 2>/dev/null"
check "after clean, history stays" bash -c "'$BOB' -c '$CFG' history -H c | grep -q ."

# 6. The report, parsed as HTML, every link an anchor that exists.
write_cfg "$(J a) $(J b '"a"' "echo '<b>&'; exit 3") $(J c '"b"') $(J d '"c"')"
bob build >/dev/null 2>&1
mkdir -p "$T/rep"
check "report -o DIR writes both files" bash -c "'$BOB' -c '$CFG' report -o '$T/rep' >/dev/null && [ -s '$T/rep/report.html' ] && [ -s '$T/rep/report.txt' ]"
check "report -o makes a missing DIR" bash -c "'$BOB' -c '$CFG' report -o '$T/new/rep' >/dev/null && [ -s '$T/new/rep/report.html' ]"
check "report.html parses, links resolve, no external asset" python3 - "$T/rep/report.html" <<'PY'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.ids=set(); s.hrefs=[]; s.ext=[]; s.stack=[]
    def handle_starttag(s, tag, a):
        a=dict(a)
        if 'id' in a: s.ids.add(a['id'])
        if tag=='a': s.hrefs.append(a.get('href',''))
        for k in ('src','href'):
            v=a.get(k) or ''
            if v and not v.startswith('#'): s.ext.append(v)
        if tag not in ('meta','br','img','link','input'): s.stack.append(tag)
    def handle_endtag(s, tag):
        assert s.stack and s.stack[-1]==tag, (tag, s.stack[-5:])
        s.stack.pop()
p=P(); p.feed(open(sys.argv[1]).read()); p.close()
assert not p.stack, p.stack
assert not p.ext, p.ext
assert p.hrefs and all(h[1:] in p.ids for h in p.hrefs), [h for h in p.hrefs if h[1:] not in p.ids]
PY
check "report: the failure first, with its blocks count" python3 -c "
t=open('$T/rep/report.html').read()
i=t.index('id=\"failures\"'); assert t.index('id=\"fail-b\"')>i and t.index('id=\"skipped\"')>t.index('id=\"fail-b\"')
assert '2 jobs' in t and 'job(s)' not in t, 'blocks'
assert '&lt;b&gt;&amp;' in t, 'escaped log'"
check "report.txt: failure, skipped with blocker, stages" bash -c "grep -q '^\* b: build' '$T/rep/report.txt' && grep -qE '^d +b ' '$T/rep/report.txt' && grep -q 'Time per stage' '$T/rep/report.txt'"

# 7. SIGKILL at random moments, resume each time: never a success that did not finish.
write_cfg "$(for i in $(seq 1 12); do J "k$i" "$([ $i -gt 1 ] && echo "\"k$((i - 1))\"")" "sleep 0.0$((RANDOM % 9))"; done)"
bob clean >/dev/null 2>&1
: >"$T/shared/order"
for round in 1 2 3 4 5; do
    "$BOB" -c "$CFG" build >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    sweep
    check "SIGKILL round $round: the database reads" bash -c "'$BOB' -c '$CFG' status -f json >'$T/k.json'"
    # Every job recorded succeeded has its line in order (it really ran to the end).
    check "SIGKILL round $round: each succeeded job really ran" python3 -c "
import json; s=json.load(open('$T/k.json')); o=open('$T/shared/order').read().split()
bad=[r['job'] for r in s if r['status']=='succeeded' and r['job'] not in o]; assert not bad, bad
assert not any(r['status']=='running' for r in s), s"
done
bob build >"$T/out" 2>&1
check "after the kills, a resume finishes the build" [ $? = 0 ] || diag "$(cat "$T/out")"
check "after the resume every job succeeded (or is up to date)" st "assert all(r['status'] in ('succeeded','up-to-date') for r in s.values()), s" || diag "$(bob status)"
check "no job ran after a recorded success (k1 at most 6 times)" [ "$(ran k1)" -le 6 ]

# 7b. SIGKILL in the middle of a database write and of a commit, then resume.
for f in state.write:3 state.write:17 state.commit:2 state.commit:5 state.write:40; do
    write_cfg "$(for i in 1 2 3 4 5 6; do J "w$i" "$([ $i -gt 1 ] && echo "\"w$((i - 1))\"")"; done)"
    bob clean >/dev/null 2>&1
    : >"$T/shared/order"
    BOB_FAULT="kill@$f" bob build --all >/dev/null 2>&1
    sweep
    check "kill@$f: the database reads" bash -c "'$BOB' -c '$CFG' list -f json >/dev/null"
    bob status -f json >"$T/k.json" 2>/dev/null || echo '[]' >"$T/k.json"
    check "kill@$f: no success recorded that did not run" python3 -c "
import json; s=json.load(open('$T/k.json')); o=open('$T/shared/order').read().split()
bad=[r['job'] for r in s if r['status'] in ('succeeded',) and r['job'] not in o]; assert not bad, bad"
    bob build >/dev/null 2>&1
    check "kill@$f: the resume finishes" st "assert all(r['status'] in ('succeeded','up-to-date') for r in s.values()), s"
done

# 8. A reader while a build writes: status sees the running job and its stage.
write_cfg "$(J slow '' 'echo begun; sleep 2') $(J after '"slow"')"
"$BOB" -c "$CFG" build >/dev/null 2>&1 &
pid=$!
for i in $(seq 50); do grep -q '^slow$' "$T/shared/order" && break; sleep 0.1; done
sleep 0.3
check "concurrent reader: slow is running in stage build" st "assert s['slow']['status']=='running' and s['slow']['stage']=='build' and s['slow']['duration']>0, s['slow']"
check "concurrent reader: list says running" bash -c "'$BOB' -c '$CFG' list -f csv -H -o outcome | tail -1 | grep -qx running"
check "a second writer is refused" bash -c "'$BOB' -c '$CFG' build 2>&1 >/dev/null | grep -q 'another bob (pid $pid) is building'"
# Another database, the same logdir: refused too (each attempt of a job
# starts by removing its log directory, the running build's among them).
sed "s|dbdir = \"$DB\"|dbdir = \"$T/db2\"|" "$CFG" >"$T/other-db.lua"
"$BOB" -c "$T/other-db.lua" build >/dev/null 2>"$T/err2"
check "a second build into the same logdir is refused (exit 1)" [ $? = 1 ]
check "it says why" grep -q "another bob is building with its logs in $T/logs (options.logdir)" "$T/err2"
# The logdir removed (here: moved away) and made again: still the running
# build's, by its name.
mv "$T/logs" "$T/logs.away" && mkdir "$T/logs"
"$BOB" -c "$T/other-db.lua" build >/dev/null 2>"$T/err2"
check "the logdir made again: a second build is still refused (exit 1)" [ $? = 1 ]
check "the logdir made again: it says why" grep -q "another bob is building with its logs in $T/logs (options.logdir)" "$T/err2"
check "the logdir made again: the second build wrote nothing there" [ -z "$(ls -A "$T/logs")" ]
rmdir "$T/logs" && mv "$T/logs.away" "$T/logs"
check "the running job's log directory is still there" [ -d "$T/logs/slow" ]
wait $pid
check "the build went on" [ $? = 0 ]

# 9. Schema mismatch, corrupt file, read-only dbdir, full disk, no state.
cp "$DB/bob.db" "$T/good.db"
python3 -c "import sqlite3; c=sqlite3.connect('$DB/bob.db'); c.execute('PRAGMA user_version=99'); c.commit()"
check "schema mismatch: one line that says what to do" bash -c "'$BOB' -c '$CFG' status 2>&1 | grep -q 'schema version 99, this bob reads version 1: move it away'"
check "schema mismatch: build refuses too (exit 1)" bash -c "'$BOB' -c '$CFG' build >/dev/null 2>&1; [ \$? = 1 ]"
rm -f "$DB"/bob.db*
head -c 8192 /dev/urandom >"$DB/bob.db"
check "corrupt file: one line that says what to do" bash -c "'$BOB' -c '$CFG' status 2>&1 | grep -q 'is not a readable bob database.*move it away'"
check "corrupt file: build exits 1, nothing crashes" bash -c "'$BOB' -c '$CFG' build >/dev/null 2>&1; [ \$? = 1 ]"
rm -f "$DB"/bob.db*
mkdir -p "$T/ro"
mount -t tmpfs -o size=1m,ro tmpfs "$T/ro"
write_cfg "$(J a)" "dbdir = '$T/ro/db',"
sed -i "s|dbdir = \"$DB\", ||" "$CFG"
check "read-only dbdir: a clear error, exit 1" bash -c "'$BOB' -c '$CFG' build 2>&1 >/dev/null | grep -q 'cannot .*build state.*$T/ro/db'; [ \${PIPESTATUS[0]} = 1 ]"
umount "$T/ro"
mkdir -p "$T/full"
mount -t tmpfs -o size=80k tmpfs "$T/full"
write_cfg "$(for i in $(seq 1 40); do J "full$i" '' "echo $(printf 'x%.0s' $(seq 200))"; done)" "dbdir = '$T/full/db',"
sed -i "s|dbdir = \"$DB\", ||" "$CFG"
dd if=/dev/zero of="$T/full/filler" bs=1k count=200 2>/dev/null
rm -f "$T/full/filler"
mkdir -p "$T/full/db"
# Fill the disk after the database exists: the build has to hit it.
bob build >/dev/null 2>&1
dd if=/dev/zero of="$T/full/filler" bs=1k count=200 2>/dev/null
bob build --all >"$T/out" 2>"$T/err"
rc=$?
check "full disk: a clear error (exit 1 or 3), no crash" bash -c "[ $rc = 1 ] && grep -q 'disk is full\|build state' '$T/err'"
rm -f "$T/full/filler"
check "full disk: the database still reads afterwards" bash -c "'$BOB' -c '$CFG' list >/dev/null"
umount "$T/full"
write_cfg "$(J a)" "dbdir = false,"
sed -i "s|dbdir = \"$DB\", ||" "$CFG"
: >"$T/shared/order"
bob build >/dev/null 2>&1
bob build >/dev/null 2>&1
check "dbdir = false: every build runs every job" [ "$(ran a)" = 2 ]
check "dbdir = false: status says there is no state" bash -c "'$BOB' -c '$CFG' status 2>&1 | grep -q 'options.dbdir = false'"
sweep
