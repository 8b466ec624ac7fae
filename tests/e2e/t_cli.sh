#!/bin/bash
# The command line: usage errors, --help everywhere, init, config check and
# show on the bundled examples, refused typos with the place named, and
# that none of this needs root. Runs as any user.
set -u
: "${BOB:?}" "${BOB_SOURCE_DIR:?}"
T=$(mktemp -d /tmp/bob-cli.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
n=0
fail=0
check() {
    local desc=$1
    shift
    n=$((n + 1))
    if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fail=$((fail + 1)); fi
}
# Runs bob as a normal user when we are root.
asuser() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups -- "$BOB" "$@"
    else
        "$BOB" "$@"
    fi
}
status() { "$@" >/dev/null 2>&1; echo $?; }

check "no command: usage, exit 2" [ "$(status "$BOB")" = 2 ]
check "unknown command: exit 2" [ "$(status "$BOB" frobnicate)" = 2 ]
check "--help exits 0" [ "$(status "$BOB" --help)" = 0 ]
check "--version" bash -c "'$BOB' --version | grep -q '^bob '"
for c in init "config" "config check" "sandbox" "sandbox create" "sandbox list" \
         "sandbox destroy" "sandbox run" "sandbox shell" build; do
    check "bob $c --help exits 0 and shows usage" bash -c "'$BOB' $c --help | grep -q usage"
done
check "sandbox destroy without -a or ids: exit 2" [ "$(status "$BOB" -c /nonexistent sandbox destroy)" = 2 ]
check "sandbox destroy -a and an id: exit 2" [ "$(status "$BOB" -c /nonexistent sandbox destroy -a 1)" = 2 ]
check "sandbox destroy x: exit 2" [ "$(status "$BOB" -c /nonexistent sandbox destroy x)" = 2 ]
check "sandbox create -n x: exit 2" [ "$(status "$BOB" -c /nonexistent sandbox create -n x)" = 2 ]
"$BOB" -c "$T/missing.lua" config check 2>"$T/err"
check "missing config: exit 1" [ $? = 1 ]
check "missing config: says to run bob init with that path" grep -qF "Run 'bob -c $T/missing.lua init'" "$T/err"
check "missing config: does not advise a bare bob init (the default path)" bash -c "! grep -qF \"'bob init'\" '$T/err'"
XDG_CONFIG_HOME=$T/noxdg HOME=$T/nohome "$BOB" config check 2>"$T/err"
check "missing default config: says to run bob init" grep -qF "Run 'bob init'" "$T/err"

# init writes the default config, which then loads; a second init refuses.
mkdir -p "$T/init"
[ "$(id -u)" != 0 ] || chown 65534:65534 "$T/init"
asuser -c "$T/init/config.lua" init >"$T/out" 2>&1
check "init as a normal user" [ $? = 0 ]
check "init prints Created <path>" grep -qx "Created $T/init/config.lua" "$T/out"
check "the written config loads" [ "$(status asuser -c "$T/init/config.lua" config check)" = 0 ]
asuser -c "$T/init/config.lua" init 2>"$T/err" >/dev/null
check "init refuses to overwrite" bash -c "[ $? = 1 ] && grep -q 'already exists' '$T/err'"
# Without a pkgsrc tree (as here), the written config builds as it is.
if [ ! -e /usr/pkgsrc/mk ]; then
    "$BOB" -c "$T/init/config.lua" config show --format json >"$T/show" 2>/dev/null
    check "init without pkgsrc: jobs, and the pkgsrc section commented out" python3 -c "
import json; s=json.load(open('$T/show'))
assert s['pkgsrc'] is None and [j['name'] for j in s['jobs']]==['hello','world'], s"
    BOB_DATADIR=$T/initdata "$BOB" -c "$T/init/config.lua" build >"$T/out" 2>"$T/err"
    check "init without pkgsrc: bob build with it succeeds" \
        bash -c "[ $? = 0 ] && grep -q '^2 jobs in .*: 2 succeeded, 0 failed, 0 skipped\$' '$T/out'"
    check "init without pkgsrc: its sandboxes are gone" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]
fi
(
    export XDG_CONFIG_HOME=$T/xdg
    "$BOB" init >/dev/null 2>&1
) 
check "init writes \$XDG_CONFIG_HOME/bob/config.lua by default" [ -f "$T/xdg/bob/config.lua" ]

for f in "$BOB_SOURCE_DIR"/contrib/*.lua "$BOB_SOURCE_DIR"/tests/configs/bob-linux-full.lua; do
    [ -f "$f" ] || continue
    check "config check $(basename "$f") as a normal user" [ "$(status asuser -c "$f" config check)" = 0 ]
    check "config show $(basename "$f") --format json parses" bash -c "'$BOB' -c '$f' config show --format json | python3 -m json.tool >/dev/null"
    "$BOB" -c "$f" config show >"$T/shown.lua" 2>/dev/null
    check "config show $(basename "$f") gives Lua that loads back" [ "$(status "$BOB" -c "$T/shown.lua" config check)" = 0 ]
done
check "config show --format xml: exit 2" [ "$(status "$BOB" -c "$BOB_SOURCE_DIR/contrib/linux.lua" config show --format xml)" = 2 ]

# Typos are refused with exit 1, the field path in the message, and nothing else happens.
typo() {
    local name=$1 lua=$2 want=$3
    printf '%s\n' "$lua" >"$T/$name.lua"
    asuser -c "$T/$name.lua" config check >"$T/out" 2>"$T/err"
    local rc=$?
    check "typo $name: exit 1" [ $rc = 1 ]
    check "typo $name: message names '$want'" grep -qF -- "$want" "$T/err"
    check "typo $name: nothing on stdout" [ ! -s "$T/out" ]
}
typo fs 'sandboxes = { basedir = "/x", setup = { { action = "mount", fs = "bnd", dir = "/usr" } } }' \
    "sandboxes.setup[1].fs"
typo chroot 'sandboxes = { basedir = "/x", setup = { { action = "cmd", chroot = "no", create = "true" } } }' \
    "sandboxes.setup[1].chroot"
typo actoin 'sandboxes = { basedir = "/x", setup = { { actoin = "mount", fs = "tmp", dir = "/tmp" } } }' \
    "sandboxes.setup[1]"
typo depends 'jobs = { { name = "a", run = "true", depends = { "b" } } }' "jobs[1].depends[1]"
typo cycle 'jobs = { { name = "a", run = "true", depends = { "b" } }, { name = "b", run = "true", depends = { "a" } } }' \
    "cycle"
typo syntax 'sandboxes = { basedir = "/x" ' "$T/syntax.lua:"
typo legacy 'sandboxes = { basedir = "/x", build = {} }' "is no longer a supported configuration key"
mkdir -p "$T/sb"
typo nocreate "sandboxes = { basedir = '$T/sb', setup = { { action = 'mount', fs = 'bnd', dir = '/usr' } } }" "bnd"
check "a refused config created nothing" [ -z "$(ls -A "$T/sb")" ]

# config check: missing bind and copy sources are warnings (they may appear
# later), except under only.exists; the config is still valid.
cat >"$T/src.lua" <<LUA
sandboxes = { basedir = "$T/sb", setup = {
  { action = "mount", fs = "bind", src = "$T/nosuch-bind", dest = "/b" },
  { action = "copy", src = "$T/nosuch-copy", dest = "/c" },
  { action = "mount", fs = "bind", src = "$T/nosuch-cond", dest = "/d", only = { exists = "$T/nosuch-cond" } },
  { action = "mount", fs = "bind", dir = "/usr", opts = "ro" } } }
LUA
"$BOB" -c "$T/src.lua" config check 2>"$T/err"
check "missing sources: still valid (exit 0)" [ $? = 0 ]
check "missing sources: a warning for the bind, with file and place" \
    grep -q "^Warning: $T/src.lua: sandboxes.setup\[1\]: the bind source $T/nosuch-bind does not exist (yet)\$" "$T/err"
check "missing sources: a warning for the copy" \
    grep -q "sandboxes.setup\[2\]: the copy source $T/nosuch-copy does not exist" "$T/err"
check "missing sources: none under only.exists, none for what exists" \
    [ "$(grep -c 'does not exist' "$T/err")" = 2 ]

# config check: mount options, which would otherwise fail only at create.
cat >"$T/opts.lua" <<LUA
sandboxes = { basedir = "$T/sb", setup = {
  { action = "mount", fs = "tmp", dir = "/t", opts = "size=1g,mode=1777,nosuid" },
  { action = "mount", fs = "bind", dir = "/usr", opts = "ro,nodev" } } }
LUA
"$BOB" -c "$T/opts.lua" config check 2>"$T/err"
check "good mount options: valid" [ $? = 0 ]
cat >"$T/opts.lua" <<LUA
sandboxes = { basedir = "$T/sb", setup = {
  { action = "mount", fs = "bind", dir = "/usr", opts = "ro,size=1m" } } }
LUA
"$BOB" -c "$T/opts.lua" config check 2>"$T/err"
check "an option a bind does not take: exit 1, named" \
    bash -c "[ $? = 1 ] && grep -q \"sandboxes.setup\\[1\\]: option 'size=1m' does not apply to a bind mount\" '$T/err'"
if [ "$(id -u)" = 0 ]; then
    cat >"$T/opts.lua" <<LUA
sandboxes = { basedir = "$T/sb", setup = {
  { action = "mount", fs = "tmp", dir = "/t", opts = "size=lots" } } }
LUA
    "$BOB" -c "$T/opts.lua" config check 2>"$T/err"
    check "a tmp option the kernel refuses: exit 1, named, nothing mounted" \
        bash -c "[ $? = 1 ] && grep -q \"sandboxes.setup\\[1\\]: invalid options 'size=lots' for tmp\" '$T/err'"
fi

echo "1..$n"
[ $fail = 0 ]
