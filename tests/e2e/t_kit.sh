#!/bin/bash
# The bootstrap kit unpacked once per build and overlaid on each job
# (src/sandbox/kit.h): the first job unpacks it as before; once the kit is
# unpacked into the build's own tmpfs, every later job gets it as overlays
# at PREFIX. Each job starts from the kit as it is (nothing a job installed
# is seen by the next one in the same sandbox), modes and owners are kept,
# the overlays go with the post-build, and nothing is left. A kit with
# files outside PREFIX and the package databases, a kit whose PREFIX is a
# symlink, and BOB_NO_KIT_OVERLAY=1 fall back to unpacking for each job.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
PREFIX=/opt/pkg
mkdir -p "$T/log" "$T/pkgsrc/pkgtools/pkg_install"
cat >"$T/pkgsrc/make" <<EOS
#!/bin/sh
for a; do case \$a in VARNAMES=*) vars=\${a#VARNAMES=} ;; esac; done
for v in \$vars; do
  case \$v in
    PREFIX) echo "$PREFIX" ;;
    PKG_DBDIR) echo "$PREFIX/pkgdb" ;;
    PKG_REFCOUNT_DBDIR) echo "$PREFIX/pkgdb.refcount" ;;
    PACKAGES) echo /packages ;;
    PKG_TOOLS_BIN) echo "$PREFIX/sbin" ;;
    *) echo "value-of-\$v" ;;
  esac
done
EOS
chmod +x "$T/pkgsrc/make"

# kit DIR NAME: a kit with a setuid tool owned by 1234:5678 and a package record.
kit() {
    mkdir -p "$1$PREFIX/bin" "$1$PREFIX/pkgdb/kitpkg"
    echo tool >"$1$PREFIX/bin/tool"
    chown 1234:5678 "$1$PREFIX/bin/tool"
    chmod 4755 "$1$PREFIX/bin/tool"
    echo contents >"$1$PREFIX/pkgdb/kitpkg/+CONTENTS"
    (cd "$1" && tar czf "$T/$2" --numeric-owner *)
}
kit "$T/k1" kit.tgz
kit "$T/k2" outside.tgz
mkdir -p "$T/k2/etc" && echo x >"$T/k2/etc/extra" && (cd "$T/k2" && tar czf "$T/outside.tgz" --numeric-owner *)
mkdir -p "$T/k3/opt" && ln -s /etc "$T/k3/opt/pkg" && (cd "$T/k3" && tar czf "$T/symlink.tgz" opt)

# Each job: fails if an earlier job's file is there, records the tool's
# mode and owner and what /opt/pkg is, installs a file of its own.
write_cfg() { # KIT
    {
        cat <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false }
pkgsrc = { basedir = "/pkgsrc", make = "/pkgsrc/make", bootstrap = "$T/$1" }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
$JOB_SETUP_LUA
    { action = "mount", fs = "bind", src = "$T/pkgsrc", dest = "/pkgsrc", opts = "ro" },
    { action = "mount", fs = "bind", src = "$T/log", dest = "/log" },
  },
}
jobs = {
LUA
        for i in 1 2 3 4 5 6 7 8; do
            cat <<LUA
  { name = "j$i", stages = { { name = "build", run = [[
sleep 0.2
if [ -e $PREFIX/installed ]; then echo "left by \$(cat $PREFIX/installed)"; exit 1; fi
stat -c '%a %u %g' $PREFIX/bin/tool >/log/j$i.stat 2>&1
sed -n 's|.* $PREFIX .* - \([^ ]*\) .*|\1|p' /proc/self/mountinfo >/log/j$i.fs
echo j$i >$PREFIX/installed
echo j$i >$PREFIX/pkgdb/kitpkg/+CONTENTS
]] } } },
LUA
        done
        echo "}"
    } >"$CFG"
}
fs_of() { cat "$T/log/$1.fs" 2>/dev/null; }
overlaid() { local n=0; for i in 1 2 3 4 5 6 7 8; do [ "$(fs_of j$i)" = overlay ] && n=$((n + 1)); done; echo $n; }

write_cfg kit.tgz
"$BOB" -v -c "$CFG" build >"$T/out" 2>"$T/err"
check "a build with a kit: exit 0" [ $? = 0 ]
check "every job succeeded: none saw what an earlier one installed" grep -q '8 succeeded, 0 failed' "$T/out"
check "each job saw the tool setuid, owned 1234:5678" \
    [ "$(cat "$T/log"/j*.stat | sort -u)" = "4755 1234 5678" ]
check "the first jobs unpacked the kit: no overlay" [ "$(fs_of j1)" = "" ]
n=$(overlaid)
check "the later jobs had it as an overlay ($n of 8)" [ "$n" -ge 2 ]
check "said so at -v" grep -q 'bootstrap kit: unpacked once, overlaid from now on' "$T/err"
check "no warning" [ -z "$(grep -i warning "$T/err")" ]
check "nothing left in the basedir" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "the kit itself is untouched on the host" [ "$(cat "$T/k1$PREFIX/pkgdb/kitpkg/+CONTENTS")" = contents ]

rm -f "$T/log"/*
BOB_NO_KIT_OVERLAY=1 "$BOB" -c "$CFG" build --all >"$T/out" 2>"$T/err"
check "BOB_NO_KIT_OVERLAY=1: exit 0" [ $? = 0 ]
check "BOB_NO_KIT_OVERLAY=1: no job had an overlay" [ "$(overlaid)" = 0 ]

rm -f "$T/log"/*
write_cfg outside.tgz
"$BOB" -c "$CFG" build --all >"$T/out" 2>"$T/err"
check "a kit with files outside PREFIX: exit 0" [ $? = 0 ]
check "it says why, once, and unpacks for each job" \
    [ "$(grep -c 'bootstrap kit: the bootstrap kit has /etc, outside PREFIX and the package databases: it is unpacked for each job instead' "$T/err")" = 1 ]
check "no job had an overlay" [ "$(overlaid)" = 0 ]
check "every job succeeded" grep -q '8 succeeded, 0 failed' "$T/out"

rm -f "$T/log"/*
write_cfg symlink.tgz
"$BOB" -c "$CFG" build --all >"$T/out" 2>"$T/err"
check "a kit whose PREFIX is a symlink to /etc: never overlaid" [ "$(overlaid)" = 0 ]
check "it says why" grep -q "bootstrap kit: /opt/pkg in the bootstrap kit is not a directory" "$T/err"
check "nothing left in the basedir after it" [ -z "$(ls -A "$BOB_BASEDIR")" ]
