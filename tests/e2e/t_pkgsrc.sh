#!/bin/bash
# bob build of jobs generated from pkgsrc.pkgpaths (scanned, resolved, and
# made into jobs by lua/pkgsrc.lua), against a fake pkgsrc tree: a fake bmake
# that answers pbulk-index and the show-var(s) queries from a file per
# package and writes a trace, and fake pkg_add/pkg_delete that check their
# package files. Checks the stage order, the dependencies found by the scan,
# the packages copied to PACKAGES/All through the writable bind mount, a
# failure and the skip it causes, and the logs. (t_pkgsrc_scan.sh covers
# the scan and the resolution in depth.)
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
P=$T/pkgsrc     # the same path on the host and in the sandboxes
PK=$T/packages  # PACKAGES, bound writable into every sandbox
mkdir -p "$P/fake" "$PK"

cat >"$P/fake/bmake" <<'EOS'
#!/bin/sh
# -C dir, targets, VAR=value: answers pbulk-index and show-var(s) from
# <dir>/fake.vars, checks bob's flags on the other targets, traces them to
# <tree>/trace, fails a target when <dir>/fail.<target> exists, and makes
# the package file.
top=$(cd "$(dirname "$0")/.." && pwd)
dir= targets= batch= dt= names=
while [ $# -gt 0 ]; do
    case $1 in
    -C) dir=$2; shift ;;
    BATCH=1) batch=1 ;;
    DEPENDS_TARGET=/nonexistent) dt=1 ;;
    VARNAME=*) names=${1#VARNAME=} ;;
    VARNAMES=*) names=${1#VARNAMES=} ;;
    *=*) echo "fake make: unexpected $1"; exit 2 ;;
    *) targets="$targets $1" ;;
    esac
    shift
done
pkgpath=${dir#"$top"/}
val() { sed -n "s|^$1=||p" "$dir/fake.vars"; }
case $targets in
' show-var' | ' show-vars')
    for n in $names; do printf '%s\n' "$(val "$n")"; done
    exit 0 ;;
' pbulk-index')
    printf 'PKGNAME=%s\nALL_DEPENDS=%s\nBOOTSTRAP_PKG=%s\nUSERGROUP_PHASE=%s\n' \
        "$(val PKGNAME)" "$(val _ALL_DEPENDS)" "$(val BOOTSTRAP_PKG)" "$(val USERGROUP_PHASE)"
    exit 0 ;;
esac
[ -n "$batch" ] && [ -n "$dt" ] || { echo "fake make: missing flags"; exit 2; }
echo "$pkgpath$targets" >>"$top/trace"
for t in $targets; do
    [ ! -e "$dir/fail.$t" ] || { echo "fake make: $t failed"; exit 1; }
    if [ "$t" = stage-package-create ]; then
        f=$(val STAGE_PKGFILE)
        mkdir -p "${f%/*}" && echo "package $pkgpath" >"$f"
    fi
done
EOS
# pkg_add: each package name must have its package in PKG_PATH (built and
# copied by an earlier job); pkg_delete just records.
cat >"$P/fake/pkg_add" <<'EOS'
#!/bin/sh
top=$(cd "$(dirname "$0")/.." && pwd)
echo "pkg_add $*" >>"$top/trace"
shift 2 # -K dbdir
for p; do
    case $p in
    /*) [ -f "$p" ] || { echo "pkg_add: no $p"; exit 1; } ;;
    *) [ -f "$PKG_PATH/$p.tgz" ] || { echo "pkg_add: no $p in $PKG_PATH"; exit 1; } ;;
    esac
done
EOS
cat >"$P/fake/pkg_delete" <<'EOS'
#!/bin/sh
top=$(cd "$(dirname "$0")/.." && pwd)
echo "pkg_delete $*" >>"$top/trace"
EOS
chmod 755 "$P/fake/bmake" "$P/fake/pkg_add" "$P/fake/pkg_delete"

# pkg NAME DEPENDS MAKEFILE: a package x/NAME.
pkg() {
    mkdir -p "$P/x/$1"
    cat >"$P/x/$1/fake.vars" <<EOF
PKG_DBDIR=/tmp/pkgdb
PACKAGES=$PK
PKG_TOOLS_BIN=$P/fake
PKGNAME=$1-1.0
STAGE_PKGFILE=$P/x/$1/work/.packages/$1-1.0.tgz
USERGROUP_PHASE=
_ALL_DEPENDS=$2
BOOTSTRAP_PKG=
EOF
    printf '%s\n' "$3" >"$P/x/$1/Makefile"
}
pkg lib "" "COMMENT= a library"
pkg app "lib>=1.0:../../x/lib" '.include "../../x/lib/buildlink3.mk"'
pkg bad "" "COMMENT= fails to build"
touch "$P/x/bad/fail.all"
pkg user "bad>=1:../../x/bad" "DEPENDS+= bad>=1:../../x/bad"

write_cfg() { # PACKAGES mount options
cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false }
pkgsrc = { basedir = "$P", make = "$P/fake/bmake",
           pkgpaths = { "x/user", "x/app", "x/bad", "x/lib" } }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
    { action = "mount", fs = "bind", dir = "$P" },
    -- PACKAGES, writable: the packages reach the host through it.
    { action = "mount", fs = "bind", dir = "$PK", opts = "$1" },
  },
}
LUA
}
write_cfg rw
# Every build here is a first one: no state from the build before.
bob() { [ "$1" != build ] || rm -rf "$BOB_DATADIR"; "$BOB" -c "$CFG" "$@"; }

bob config check >"$T/check" 2>&1
check "the config with pkgpaths and no jobs checks" [ $? = 0 ]
bob scan >"$T/scan" 2>&1
check "bob scan: x/app depends on x/lib" grep -qx "x/app app-1.0 -> x/lib" "$T/scan"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

bob build --format json >"$T/summary" 2>"$T/err"
rc=$?
[ $rc = 3 ] || diag "rc=$rc" "$(tail -20 "$T/err")"
check "a failed package gives exit 3" [ $rc = 3 ]
py() { python3 -c "import json,sys; s=json.load(open('$T/summary')); $1"; }
check "summary: x/lib and x/app built" py "assert sorted(s['succeeded'])==['x/app','x/lib'], s"
check "summary: x/bad failed in stage build" py "f=s['failures'][0]; assert s['failed']==['x/bad'] and f['stage']=='build' and f['log'].endswith('/x/bad/build.log'), s"
check "summary: x/user skipped (depends on x/bad)" py "assert s['skipped']==['x/user'], s"

# The stages of x/app, in bob's order (shown by the make targets and tools).
grep -E '^(x/app |pkg_add .*( lib-1.0$|/app-)|pkg_delete .* app-)' "$P/trace" >"$T/app.trace"
cat >"$T/app.want" <<EOF
x/app clean
pkg_add -K /tmp/pkgdb lib-1.0
x/app checksum
x/app configure
x/app all
x/app stage-install
x/app stage-package-create
pkg_add -K /tmp/pkgdb $P/x/app/work/.packages/app-1.0.tgz
pkg_delete -K /tmp/pkgdb app-1.0
x/app clean
EOF
check "x/app: the stages ran in order" diff -u "$T/app.want" "$T/app.trace"
check "x/lib ran before x/app" \
    awk '/^x\/lib stage-package-create/ {l=NR} /^x\/app clean/ && !a {a=NR} END {exit !(l && a && l < a)}' "$P/trace"
check "packages copied to PACKAGES/All on the host" \
    bash -c "[ -f '$PK/All/lib-1.0.tgz' ] && [ -f '$PK/All/app-1.0.tgz' ] && [ ! -e '$PK/All/bad-1.0.tgz' ]"
check "no temporary file left in PACKAGES/All" [ "$(ls -A "$PK/All" | wc -l)" = 2 ]
check "x/bad stopped at build" bash -c "! grep -q '^x/bad stage-install' '$P/trace'"
check "x/user never ran" bash -c "! grep -q '^x/user' '$P/trace'"
check "the failed build log starts with the command and keeps the output" \
    bash -c "head -1 '$T/logs/x/bad/build.log' | grep -qF '=> \"\$bob_make\" -C \"\$bob_pkgsrc/x/bad\" all BATCH=1 DEPENDS_TARGET=/nonexistent' && grep -q 'fake make: all failed' '$T/logs/x/bad/build.log'"
check "logs of successful packages are removed" [ ! -e "$T/logs/x/app" ]
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# A job named on the command line builds with what it depends on.
rm -f "$P/trace" "$PK/All/"*
bob build x/app >"$T/summary" 2>"$T/err"
check "bob build x/app: exit 0" [ $? = 0 ]
check "bob build x/app: x/lib and x/app only" \
    bash -c "[ \"\$(cut -d' ' -f1 '$P/trace' | grep / | sort -u | tr '\n' ' ')\" = 'x/app x/lib ' ]"

# Without a writable PACKAGES the copy stage fails and says why.
rm -f "$P/trace" "$PK/All/"*
write_cfg ro
bob build x/lib --format json >"$T/summary" 2>"$T/err"
check "read-only PACKAGES: exit 3" [ $? = 3 ]
check "read-only PACKAGES: the copy stage failed" py "f=s['failures'][0]; assert f['job']=='x/lib' and f['stage']=='copy', s"
check "read-only PACKAGES: the log says why" grep -q "PACKAGES must be a writable bind mount" "$T/logs/x/lib/copy.log"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]
