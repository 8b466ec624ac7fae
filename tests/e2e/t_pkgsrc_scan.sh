#!/bin/bash
# bob build and bob scan of pkgsrc pkgpaths with a scan, against a stand-in
# pkgsrc tree written here: a fake bmake that answers pbulk-index from
# <pkgdir>/index, show-var(s) from it and from fake/globals, and the stage
# targets (a real binary package with +CONTENTS and +BUILD_VERSION);
# fake pkg_add and pkg_delete that keep a package database. Covers
# unlisted dependency chains, tools, bootstrap packages, skip and fail
# reasons and their dependents, an unresolvable pattern, MULTI_VERSION, a
# scan failure, strict_scan, up to date (a second build builds nothing),
# --all, --dry-run, -v, cachevars, a PREFIX that post-build cannot remove,
# and the scan kept in the build state (taken again while the tree's files
# are unchanged, a changed package scanned again, bob scan and bob clean).
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
P=$T/pkgsrc     # the same path on the host and in the sandboxes
PK=$T/packages  # PACKAGES, bound writable into every sandbox
mkdir -p "$P/fake" "$PK" "$P/pkgtools/pkg_install"

cat >"$P/fake/bmake" <<'EOS'
#!/bin/sh
top=$(cd "$(dirname "$0")/.." && pwd)
dir= targets= names= mv=
while [ $# -gt 0 ]; do
    case $1 in
    -C) dir=$2; shift ;;
    BATCH=1 | DEPENDS_TARGET=/nonexistent) ;;
    VARNAME=*) names=${1#VARNAME=} ;;
    VARNAMES=*) names=${1#VARNAMES=} ;;
    *=*) mv="$mv $1" ;;
    *) targets="$targets $1" ;;
    esac
    shift
done
[ -n "$dir" ] || dir=$(pwd)
pkgpath=${dir#"$top"/}
idx=$dir/index
# The PKGNAME of this variant: the record whose MULTI_VERSION matches, else
# the first. (Plain sh: awk is a link through /etc, which the sandbox lacks.)
pkgname() {
    first= found= name=
    while IFS= read -r line; do
        case $line in
        PKGNAME=*) name=${line#PKGNAME=}; [ -n "$first" ] || first=$name ;;
        MULTI_VERSION=*) v=${line#MULTI_VERSION=}; [ " ${v# }" != "$mv" ] || found=${found:-$name} ;;
        esac
    done <"$idx"
    if [ -n "$mv" ] && [ -n "$found" ]; then echo "$found"; else echo "$first"; fi
}
field() {
    want=$(pkgname) cur=
    while IFS= read -r line; do
        case $line in
        PKGNAME=*) cur=${line#PKGNAME=} ;;
        "$1"=*) [ "$cur" != "$want" ] || { echo "${line#"$1"=}"; return; } ;;
        esac
    done <"$idx"
}
val() {
    case $1 in
    PKGNAME) pkgname ;;
    STAGE_PKGFILE) echo "$dir/work/.packages/$(pkgname).tgz" ;;
    USERGROUP_PHASE) field USERGROUP_PHASE ;;
    *) sed -n "s|^$1=||p" "$top/fake/globals" ;;
    esac
}
case $targets in
' show-var' | ' show-vars')
    for n in $names; do printf '%s\n' "$(val "$n")"; done
    exit 0 ;;
' pbulk-index')
    if [ -e "$dir/scan.slow" ]; then
        : >"$top/slow.started"
        sleep 60
    fi
    if [ -e "$dir/scan.fail" ]; then
        echo "bmake: \"$dir/Makefile\" line 3: Malformed conditional" >&2
        echo "bmake: stopped in $dir" >&2
        exit 2
    fi
    echo "$pkgpath" >>"$top/scanned"
    cat "$idx"
    exit 0 ;;
esac
echo "$pkgpath$targets$mv" >>"$top/trace"
for t in $targets; do
    [ ! -e "$dir/fail.$t" ] || { echo "fake make: $t failed"; exit 1; }
    case $t in
    checksum)
        echo "$pkgpath env NATIVE_OPSYS=${NATIVE_OPSYS-unset} BOB_UNDEFINED=${BOB_UNDEFINED-unset}" >>"$top/trace" ;;
    stage-package-create)
        name=$(pkgname) db=$(val PKG_DBDIR)
        w=$dir/work/.meta.$name
        rm -rf "$w" && mkdir -p "$w" "$dir/work/.packages" || exit 1
        {
            echo "@name $name"
            for d in "$db"/*; do
                [ -e "$d" ] && [ "${d##*/}" != "$name" ] && echo "@blddep ${d##*/}"
            done
        } >"$w/+CONTENTS"
        echo "$pkgpath/Makefile: $(sha256sum <"$dir/Makefile" | cut -d' ' -f1)" >"$w/+BUILD_VERSION"
        (cd "$w" && tar czf "$dir/work/.packages/$name.tgz" +CONTENTS +BUILD_VERSION) || exit 1 ;;
    esac
done
EOS
cat >"$P/fake/pkg_add" <<'EOS'
#!/bin/sh
top=$(cd "$(dirname "$0")/.." && pwd)
echo "pkg_add $*" >>"$top/trace"
[ "$1" = -K ] || { echo "pkg_add: no -K"; exit 2; }
db=$2
shift 2
mkdir -p "$db" || exit 1
for p; do
    case $p in
    /*) [ -f "$p" ] || { echo "pkg_add: no $p"; exit 1; }; n=${p##*/}; n=${n%.tgz} ;;
    *) [ -f "$PKG_PATH/$p.tgz" ] || { echo "pkg_add: no pkg found for '$p'"; exit 1; }; n=$p ;;
    esac
    touch "$db/$n"
done
EOS
cat >"$P/fake/pkg_delete" <<'EOS'
#!/bin/sh
top=$(cd "$(dirname "$0")/.." && pwd)
echo "pkg_delete $*" >>"$top/trace"
rm -f "$2/$3"
EOS
chmod 755 "$P/fake/bmake" "$P/fake/pkg_add" "$P/fake/pkg_delete"
cat >"$P/fake/globals" <<EOF
PKG_DBDIR=/opt/pkg/pkgdb
PKG_REFCOUNT_DBDIR=/opt/pkg/pkgdb.refcount
PKG_TOOLS_BIN=$P/fake
PACKAGES=$PK
PREFIX=/opt/pkg
VARBASE=/var
NATIVE_OPSYS=Linux
EOF
# The bootstrap kit: PREFIX, unpacked into each sandbox before each job.
mkdir -p "$T/kit/opt/pkg/bin"
echo kit >"$T/kit/opt/pkg/bin/kit"
tar czf "$T/kit.tgz" -C "$T/kit" opt

# pkg PKGPATH INDEX: a package directory with its pbulk-index answer.
pkg() {
    mkdir -p "$P/$1"
    printf '%s\n' "$2" >"$P/$1/index"
    echo "# $1" >"$P/$1/Makefile"
}
pkg devel/base "PKGNAME=base-2.0"
pkg devel/lib "PKGNAME=lib-1.5
ALL_DEPENDS=base>=1:../../devel/base"
pkg devel/lib13 "PKGNAME=lib-1.3"
pkg devel/nbpatch "PKGNAME=nbpatch-20151107"
pkg pkgtools/digest "PKGNAME=digest-20220214
BOOTSTRAP_PKG=yes"
pkg misc/app "PKGNAME=app-1.0
ALL_DEPENDS=lib>=1.2:../../devel/lib digest>=20010302:../../pkgtools/digest nbpatch-[0-9]*:../../devel/nbpatch
USERGROUP_PHASE=configure
CATEGORIES=misc
MAINTAINER=someone@example.org"
pkg lang/py-foo "PKGNAME=py311-foo-1.0
MULTI_VERSION= PYVER=311
ALL_DEPENDS=base-[0-9]*:../../devel/base
PKGNAME=py310-foo-1.0
MULTI_VERSION= PYVER=310
PKGNAME=py311-foo-1.0
MULTI_VERSION= PYVER=311"
pkg misc/skip "PKGNAME=skip-1
PKG_SKIP_REASON=not for this platform"
pkg misc/needskip "PKGNAME=needskip-1
ALL_DEPENDS=skip-[0-9]*:../../misc/skip"
pkg misc/broken "PKGNAME=broken-1
PKG_FAIL_REASON=broken with this compiler"
pkg misc/zz "PKGNAME=zz-1.0"
pkg misc/unres "PKGNAME=unres-1
ALL_DEPENDS=zz>=9:../../misc/zz"
pkg misc/needunres "PKGNAME=needunres-1
ALL_DEPENDS=unres>=1:../../misc/unres"
pkg misc/scanfail "PKGNAME=scanfail-1"
touch "$P/misc/scanfail/scan.fail"
pkg misc/slow "PKGNAME=slow-1"
touch "$P/misc/slow/scan.slow"
pkg misc/needscanfail "PKGNAME=needscanfail-1
ALL_DEPENDS=scanfail-[0-9]*:../../misc/scanfail"
pkg misc/buildfail "PKGNAME=buildfail-1"
touch "$P/misc/buildfail/fail.all"
pkg misc/afterfail "PKGNAME=afterfail-1
ALL_DEPENDS=buildfail>=1:../../misc/buildfail"

ALL_LISTED='"misc/app", "misc/needskip", "misc/broken", "misc/needunres", "lang/py-foo",
             "misc/scanfail", "misc/needscanfail", "misc/buildfail", "misc/afterfail"'
GOOD_LISTED='"misc/app", "lang/py-foo"'
write_cfg() { # pkgpaths, extra options, extra setup
cat >"$CFG" <<LUA
options = { scan_threads = 2, logdir = "$T/logs", tui = false, ${2:-build_threads = 2} }
pkgsrc = { basedir = "$P", make = "$P/fake/bmake", bootstrap = "$T/kit.tgz",
           cachevars = { "NATIVE_OPSYS", "BOB_UNDEFINED" },
           pkgpaths = { $1 } }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
    { action = "mount", fs = "bind", dir = "$P" },
    { action = "mount", fs = "bind", dir = "$PK", opts = "rw" },
$3
  },
}
LUA
}
bob() { "$BOB" -c "$CFG" "$@"; }
py() { python3 -c "import json,sys; s=json.load(open('$T/summary')); $1"; }

# ---- a dry run: the plan, with every reason -----------------------------------
write_cfg "$ALL_LISTED" "" ""
bob -v build --dry-run --format json >"$T/summary" 2>"$T/err"
rc=$?
[ $rc = 0 ] || diag "rc=$rc" "$(tail -20 "$T/err")"
check "dry run: exit 0" [ $rc = 0 ]
check "dry run: the scan's progress names each share, says Scanned, and counts within its totals" python3 -c "
import re
lines=open('$T/err').read().splitlines()
done=[l for l in lines if re.match(r'\[ *\d+/\d+\] +Scanned ', l)]
assert done and not [l for l in lines if ' Built scan' in l or re.match(r'\[.*\] +Built ', l) and 'Scanning' in l], lines
assert any(re.search(r'Scanned \S+ and \d+ more ', l) for l in done), done
for l in lines:
    m=re.match(r'\[ *(\d+)/(\d+)\]', l)
    assert not m or int(m.group(1)) <= int(m.group(2)), l"
check "dry run: the dependency chain first, unlisted packages included" py "
o=s['order']
assert sorted(o)==sorted(['devel/base','devel/lib','pkgtools/digest','devel/nbpatch','misc/app','lang/py-foo/311','lang/py-foo/310','misc/buildfail','misc/afterfail']), o
assert o.index('devel/base') < o.index('devel/lib') < o.index('misc/app'), o
assert o.index('pkgtools/digest') < o.index('misc/app') and o.index('devel/nbpatch') < o.index('misc/app'), o
assert 'devel/lib13' not in o, o"
check "dry run: skip, fail, unresolved and scan-failure reasons, carried to dependents" py "
r={k['job']:k['reason'] for k in s['skipped']}
assert r['misc/skip']=='not for this platform', r
assert r['misc/needskip']=='depends on misc/skip, which is skipped: not for this platform', r
assert r['misc/broken']=='broken with this compiler', r
assert r['misc/unres']=='no package satisfies zz>=9', r
assert r['misc/needunres']=='depends on misc/unres, which is skipped: no package satisfies zz>=9', r
assert r['misc/scanfail'].startswith('scan failed: bmake pbulk-index exited 2: '), r
assert 'Malformed conditional' in r['misc/scanfail'], r
assert 'misc/scanfail failed to scan' in r['misc/needscanfail'], r
assert len(r)==7, r"
check "dry run: the scan failure is reported with the output's last lines" \
    grep -q 'misc/scanfail: bmake pbulk-index exited 2: .*Malformed conditional | bmake: stopped in' "$T/err"
check "dry run: -v shows scan, resolve and up-to-date decisions" bash -c "
    grep -q 'scan: devel/lib: 1 package' '$T/err' &&
    grep -q 'resolve: app-1.0: lib>=1.2 -> lib-1.5' '$T/err' &&
    grep -q 'up-to-date: devel/base (base-2.0): package not found' '$T/err'"
check "dry run: unlisted pkgpaths were scanned, each once" bash -c "
    [ \"\$(sort '$P/scanned' | uniq -d)\" = '' ] && grep -qx devel/base '$P/scanned' && grep -qx devel/lib13 '$P/scanned' || grep -qx devel/lib '$P/scanned'"
check "dry run: nothing was built" [ ! -e "$P/trace" ]
check "dry run: no scan log kept but the failed one" bash -c "
    [ -d '$T/logs/scan' ] && [ \"\$(cd '$T/logs/scan' && find . -name pbulk-index.log | wc -l)\" = 1 ] && grep -rq 'Malformed conditional' '$T/logs/scan'"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# ---- the build -----------------------------------------------------------------
rm -f "$P/scanned"
bob build --format json >"$T/summary" 2>"$T/err"
rc=$?
[ $rc = 3 ] || diag "rc=$rc" "$(tail -30 "$T/err")"
check "build: exit 3 (a failure and skips)" [ $rc = 3 ]
check "build: the chains and the variants built" py "
assert sorted(s['succeeded'])==sorted(['devel/base','devel/lib','pkgtools/digest','devel/nbpatch','misc/app','lang/py-foo/311','lang/py-foo/310']), s"
check "build: misc/buildfail failed in build, misc/afterfail skipped" py "
assert s['failed']==['misc/buildfail'], s
r={k['job']:k['reason'] for k in s['reasons']}
assert r['misc/afterfail']=='depends on misc/buildfail', r
assert r['misc/needskip'].startswith('depends on misc/skip'), r
assert len(s['skipped'])==8, s['skipped']"
check "build: base before lib before app" \
    awk '/^devel\/base stage-package-create/ {b=NR} /^devel\/lib stage-package-create/ {l=NR} /^misc\/app clean/ && !a {a=NR} END {exit !(b && l && a && b < l && l < a)}' "$P/trace"
check "build: app installs the exact resolved packages" \
    grep -qx "pkg_add -K /opt/pkg/pkgdb lib-1.5 digest-20220214 nbpatch-20151107" "$P/trace"
check "build: app's users are created (USERGROUP_PHASE)" grep -qx "misc/app create-usergroup clean" "$P/trace"
check "build: the bootstrap package is neither installed nor deinstalled" bash -c "
    ! grep -q 'pkg_add .*/digest-20220214.tgz' '$P/trace' && ! grep -q 'pkg_delete .*digest' '$P/trace'"
check "build: each variant's make calls carry its MULTI_VERSION" bash -c "
    grep -qx 'lang/py-foo all PYVER=311' '$P/trace' && grep -qx 'lang/py-foo all PYVER=310' '$P/trace'"
check "build: the packages reached PACKAGES/All" bash -c "
    for p in base-2.0 lib-1.5 digest-20220214 nbpatch-20151107 app-1.0 py311-foo-1.0 py310-foo-1.0; do
        [ -f '$PK/All/'\$p.tgz ] || exit 1; done; [ ! -e '$PK/All/lib-1.3.tgz' ]"
check "build: app's package records its build dependencies" bash -c "
    tar xzOf '$PK/All/app-1.0.tgz' +CONTENTS | grep -qx '@blddep lib-1.5'"
check "build: a cachevar the tree defines is exported, one it does not is not" \
    grep -qx "misc/app env NATIVE_OPSYS=Linux BOB_UNDEFINED=unset" "$P/trace"
check "build: skipped packages never ran" bash -c "! grep -Eq '^misc/(skip|needskip|broken|unres|needunres|afterfail) ' '$P/trace'"
check "build: the dry run's scan was kept: no pkgpath it scanned is scanned again" [ ! -s "$P/scanned" ]
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# ---- up to date -------------------------------------------------------------------
write_cfg "$GOOD_LISTED" "" ""
rm -f "$P/trace"
bob -v build >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] || diag "rc=$rc" "$(cat "$T/out")" "$(tail -20 "$T/err")"
check "second build: exit 0" [ $rc = 0 ]
check "second build: nothing built, 7 up to date" grep -qx "7 jobs in .*: 0 succeeded, 0 failed, 0 skipped, 7 up to date" "$T/out"
check "second build: no stage ran" [ ! -e "$P/trace" ]

# A changed file of lib's: lib is built again, and app through it; base is not.
echo "# changed" >>"$P/devel/lib/Makefile"
rm -f "$P/scanned"
bob -v build --dry-run --format json >"$T/summary" 2>"$T/err"
check "changed lib: only lib is scanned again, the rest comes from the kept scan" \
    [ "$(sort -u "$P/scanned" 2>/dev/null)" = devel/lib ]
check "changed lib: -v says how much came from the kept scan" grep -q 'scan: 5 pkgpaths from the cache, 1 to scan' "$T/err"
check "changed lib: lib and app are rebuilt, base is not" py "
assert sorted(s['order'])==['devel/lib','misc/app'], s
r={k['job']:k['reason'] for k in s['skipped']}
assert r['devel/base']=='up to date', r"
check "changed lib: -v says why" bash -c "
    grep -q 'up-to-date: devel/lib (lib-1.5): build file changed: devel/lib/Makefile' '$T/err' &&
    grep -q 'up-to-date: misc/app (app-1.0): dependency refreshed: lib-1.5' '$T/err'"
bob build --format json >"$T/summary" 2>"$T/err"
check "changed lib: the build rebuilds lib and app" py "assert sorted(s['succeeded'])==['devel/lib','misc/app'] and len(s['up_to_date'])==5, s"
bob build --all --dry-run --format json >"$T/summary" 2>"$T/err"
check "--all: everything would be built" py "assert len(s['order'])==7 and s['skipped']==[], s"

# ---- bob scan ------------------------------------------------------------------
rm -f "$P/scanned"
bob scan --format json misc/needunres misc/app >"$T/summary" 2>"$T/err"
check "bob scan: exit 0" [ $? = 0 ]
check "bob scan: scans again what was kept" grep -qx misc/app "$P/scanned"
check "bob scan: packages, dependencies and reasons" py "
p={k['job']:k for k in s['packages']}
assert p['misc/app']['pkgname']=='app-1.0' and sorted(p['misc/app']['depends'])==['devel/lib','devel/nbpatch','pkgtools/digest'], p
assert p['misc/unres']['status']=='skipped' and p['misc/unres']['reason']=='no package satisfies zz>=9', p
assert 'lang/py-foo' not in p and s['scan_failed']==[], s"

# ---- bob clean forgets the kept scan ------------------------------------------------
bob clean >/dev/null 2>&1
rm -f "$P/scanned"
bob build --dry-run --format json >"$T/summary" 2>"$T/err"
check "after bob clean: every pkgpath is scanned again" grep -qx devel/base "$P/scanned"

# ---- strict_scan ---------------------------------------------------------------
write_cfg '"misc/app", "misc/scanfail"' "strict_scan = true" ""
rm -f "$P/trace"
bob build >"$T/out" 2>"$T/err"
rc=$?
check "strict_scan: a scan failure fails the run (exit 1)" [ $rc = 1 ]
check "strict_scan: it says so" grep -q "1 package path failed to scan (options.strict_scan is set)" "$T/err"
check "strict_scan: nothing was built" [ ! -e "$P/trace" ]
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# ---- a PREFIX that post-build cannot remove fails the job --------------------------
# A tmpfs below PREFIX: post-build cannot remove PREFIX, which would leak
# into the next job of that sandbox.
# With one sandbox, the next job does not run in it: it is skipped.
write_cfg '"devel/nbpatch", "devel/base"' "build_threads = 1" '    { action = "mount", fs = "tmp", dir = "/opt/pkg/tmp" },'
rm -f "$PK/All/nbpatch-20151107.tgz" "$PK/All/base-2.0.tgz"
bob build --format json >"$T/summary" 2>"$T/err"
rc=$?
check "PREFIX with a tmpfs below: exit 3" [ $rc = 3 ]
check "PREFIX with a tmpfs below: the job failed in post-build, saying why" py "
f=s['failures'][0]
assert len(s['failures'])==1 and f['stage']=='post-build' and 'cannot remove /opt/pkg' in f['reason'], s
assert s['failed']+s['skipped']==[f['job'], ({'devel/nbpatch','devel/base'}-{f['job']}).pop()], s
r={k['job']:k['reason'] for k in s['reasons']}
assert r[s['skipped'][0]]=='no usable sandbox left: a post-build failed', r"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# ---- SIGTERM during the scan: everything stops, exit 130 ------------------------
write_cfg '"misc/slow", "misc/app"' "" ""
rm -f "$P/trace" "$P/slow.started"
"$BOB" -c "$CFG" build >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 100); do [ -e "$P/slow.started" ] && break; sleep 0.1; done
check "interrupted scan: the scan was running" [ -e "$P/slow.started" ]
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 130 ] || diag "rc=$rc" "$(tail -20 "$T/err")"
check "interrupted scan: exit 130" [ $rc = 130 ]
check "interrupted scan: nothing was built" [ ! -e "$P/trace" ]
check "interrupted scan: no process left in the sandboxes" [ -z "$(procs_under "$BOB_BASEDIR")" ]
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]
