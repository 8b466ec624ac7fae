#!/bin/bash
# Hostile configurations: destinations that escape the sandbox (through
# "..", through symlinks made by earlier actions), bad basedirs, binds and
# copies that contain the basedir, absurd numbers, deep nesting (built by
# code and written literally), configs that loop or allocate forever, Lua
# errors of every kind, os.exit, missing files, NUL bytes and invalid UTF-8,
# and job names that try to leave the log directory.
#
# Each is refused by `config check` with exit 1 (no crash, no sanitizer
# report), a message that names the file and the place, nothing on stdout,
# and nothing created on disk (its basedir, logdir and dbdir do not exist
# afterwards). As root the sandbox cases also go through `sandbox create`
# in a private mount namespace. Runs as any user.
set -u
: "${BOB:?}" "${BOB_SOURCE_DIR:?}"
T=$(mktemp -d /tmp/bob-hostile.XXXXXX)
chmod 755 "$T"
VARDIR=/var/tmp/bob-hostile.$$
trap 'rm -rf "$T" "$VARDIR"' EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
diag() { printf '# %s\n' "$@"; }
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

ROOT=0
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then ROOT=1; fi

# case_file NAME: writes $T/NAME.lua from stdin, after a header that defines
# SB, LOGS and DB (the paths that must never be created) and sets options.
case_file() {
    local f=$T/$1.lua
    {
        printf 'local T, SB, LOGS, DB = "%s", "%s", "%s", "%s"\n' \
            "$T" "$T/$1-sb" "$T/$1-logs" "$T/$1-db"
        printf 'options = { logdir = LOGS, dbdir = DB, tui = false }\n'
        cat
    } >"$f"
}

# nothing_created NAME [PATH...]: the case's basedir, logdir and dbdir (and PATHs) do not exist.
nothing_created() {
    local name=$1 p
    shift
    for p in "$T/$name-sb" "$T/$name-logs" "$T/$name-db" "$@"; do
        [ ! -e "$p" ] || { diag "$p exists"; return 1; }
    done
}

# No sanitizer report and no UBSan message in the file.
clean_stderr() {
    ! grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|\.c:[0-9]+:[0-9]+: runtime error' "$1"
}

# refused NAME WANT [--create] [--also PATH]: config check of $T/NAME.lua must fail
# with exit 1, a message on stderr naming the file and WANT, nothing on stdout,
# and nothing created. --create: as root, sandbox create too.
refused() {
    local name=$1 want=$2 create=0 f=$T/$1.lua rc start ms
    local -a also=()
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
        --create) create=1 ;;
        --also) also+=("$2"); shift ;;
        esac
        shift
    done
    start=$(date +%s%N)
    "$BOB" -c "$f" config check >"$T/out" 2>"$T/err"
    rc=$?
    ms=$(ms_since "$start")
    LAST_MS=$ms
    if [ $rc = 1 ] && [ ! -s "$T/out" ] && clean_stderr "$T/err"; then
        ok "$name: refused, exit 1, no crash"
    else
        not_ok "$name: refused, exit 1, no crash"
        diag "exit $rc after $ms ms" "$(head -c 1500 "$T/err")"
    fi
    if grep -qF -- "$f" "$T/err" && grep -qF -- "$want" "$T/err"; then
        ok "$name: the message names the file and '$want'"
    else
        not_ok "$name: the message names the file and '$want'"
        diag "$(head -c 1500 "$T/err")"
    fi
    check "$name: nothing created" nothing_created "$name" "${also[@]}"
    diag "$name: $(head -c 240 "$T/err" | cat -v | tr '\n' ' ' | sed "s|$T|\$T|g")"
    if [ $create = 1 ] && [ $ROOT = 1 ]; then
        unshare -m --propagation private "$BOB" -c "$f" sandbox create >"$T/out" 2>"$T/err2"
        rc=$?
        if [ $rc = 1 ] && [ ! -s "$T/out" ] && grep -qF -- "$want" "$T/err2" &&
            nothing_created "$name" "${also[@]}"; then
            ok "$name: sandbox create refuses it too, nothing created"
        else
            not_ok "$name: sandbox create refuses it too, nothing created"
            diag "exit $rc" "$(head -c 1500 "$T/err2")"
        fi
    fi
}

# accepted NAME: config check of $T/NAME.lua succeeds, show --format json is
# valid JSON, and show (Lua) loads back to the same text.
accepted() {
    local name=$1 f=$T/$1.lua rc
    "$BOB" -c "$f" config check >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc = 0 ] && clean_stderr "$T/err"; then
        ok "$name: accepted"
    else
        not_ok "$name: accepted"
        diag "exit $rc" "$(head -c 1500 "$T/err")"
    fi
    check "$name: config show --format json is valid JSON" \
        bash -c "'$BOB' -c '$f' config show --format json | python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read())'"
    "$BOB" -c "$f" config show >"$T/$name.shown.lua" 2>/dev/null
    "$BOB" -c "$T/$name.shown.lua" config show >"$T/$name.shown2.lua" 2>/dev/null
    check "$name: config show gives Lua that loads back to the same" \
        cmp -s "$T/$name.shown.lua" "$T/$name.shown2.lua"
    check "$name: nothing created" nothing_created "$name"
}

# ---- destinations that escape the sandbox ---------------------------------

case_file dest_dotdot <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "tmp", dest = "/../../etc" } } }
LUA
refused dest_dotdot "sandboxes.setup[1].dest" --create

case_file dir_dotdot <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "tmp", dir = "/tmp/../../x" } } }
LUA
refused dir_dotdot "sandboxes.setup[1].dir" --create

case_file dest_relative_dotdot <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "copy", src = "/etc/hostname", dest = "a/../../b" } } }
LUA
refused dest_relative_dotdot "sandboxes.setup[1].dest" --create

case_file symlink_dest_dotdot <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "symlink", src = "x", dest = "/a/../../up" } } }
LUA
refused symlink_dest_dotdot "sandboxes.setup[1].dest" --create

case_file dest_root <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "tmp", dest = "/x/.." } } }
LUA
refused dest_root "sandboxes.setup[1].dest" --create

case_file dest_marker <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "tmp", dest = "//.bob/./x" } } }
LUA
refused dest_marker "sandboxes.setup[1].dest" --create

case_file symlink_to_root <<'LUA'
sandboxes = { basedir = SB, setup = {
  { action = "symlink", src = "/", dest = "/up" },
  { action = "mount", fs = "bind", src = "/usr", dest = "/up/etc" },
} }
LUA
refused symlink_to_root "sandboxes.setup[2].dest" --create

case_file symlink_relative_up <<'LUA'
sandboxes = { basedir = SB, setup = {
  { action = "symlink", src = "../../..", dest = "/a/up" },
  { action = "mount", fs = "tmp", dest = "/a/up/etc" },
} }
LUA
refused symlink_relative_up "sandboxes.setup[2].dest" --create

case_file symlink_chain <<'LUA'
sandboxes = { basedir = SB, setup = {
  { action = "symlink", src = "../..", dest = "/b" },
  { action = "symlink", src = "b", dest = "/a" },
  { action = "copy", src = "/etc/hostname", dest = "/a/hostname" },
} }
LUA
refused symlink_chain "sandboxes.setup[3].dest" --create

case_file symlink_dotdot_after <<'LUA'
sandboxes = { basedir = SB, setup = {
  { action = "symlink", src = "usr/lib", dest = "/lib" },
  { action = "mount", fs = "tmp", dest = "/lib/../../../x" },
} }
LUA
refused symlink_dotdot_after "sandboxes.setup[2].dest" --create

case_file symlink_then_symlink <<'LUA'
sandboxes = { basedir = SB, setup = {
  { action = "symlink", src = "/etc", dest = "/e" },
  { action = "symlink", src = "passwd", dest = "/e/x" },
} }
LUA
refused symlink_then_symlink "sandboxes.setup[2].dest" --create

case_file symlink_setup_hooks <<'LUA'
sandboxes = { basedir = SB,
  setup = { { action = "symlink", src = "/", dest = "/up" } },
  hooks = { { action = "mount", fs = "tmp", dest = "/up/tmp" } },
}
LUA
refused symlink_setup_hooks "sandboxes.hooks[1].dest" --create

case_file symlink_loop <<'LUA'
sandboxes = { basedir = SB, setup = {
  { action = "symlink", src = "b", dest = "/a" },
  { action = "symlink", src = "a", dest = "/b" },
  { action = "mount", fs = "tmp", dest = "/a/x" },
} }
LUA
refused symlink_loop "sandboxes.setup[3].dest" --create

# ---- basedir ----------------------------------------------------------------

case_file basedir_root <<'LUA'
sandboxes = { basedir = "/" }
LUA
refused basedir_root "sandboxes.basedir" --create
case_file basedir_root2 <<'LUA'
sandboxes = { basedir = "//./" }
LUA
refused basedir_root2 "sandboxes.basedir" --create
case_file basedir_dotdot <<'LUA'
sandboxes = { basedir = SB .. "/x/.." }
LUA
refused basedir_dotdot "sandboxes.basedir" --create
case_file basedir_relative <<'LUA'
sandboxes = { basedir = "relative" }
LUA
refused basedir_relative "sandboxes.basedir" --create --also "$T/relative"
case_file basedir_empty <<'LUA'
sandboxes = { basedir = "" }
LUA
refused basedir_empty "sandboxes.basedir" --create
case_file basedir_table <<'LUA'
sandboxes = { basedir = { SB } }
LUA
refused basedir_table "sandboxes.basedir" --create

# basedir inside a bind source: /var, the test directory, a symlink to it, and "/".
case_file basedir_in_var_bind <<LUA
sandboxes = { basedir = "$VARDIR/sb", setup = { { action = "mount", fs = "bind", src = "/var", dest = "/var" } } }
LUA
refused basedir_in_var_bind "sandboxes.setup[1].src" --create --also "$VARDIR"
case_file basedir_in_bind <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "bind", dir = T } } }
LUA
refused basedir_in_bind "sandboxes.setup[1].dir" --create
ln -s "$T" "$T/alias"
case_file basedir_in_bind_symlink <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "bind", src = T .. "/alias", dest = "/x" } } }
LUA
refused basedir_in_bind_symlink "really" --create
case_file bind_root <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "bind", src = "/", dest = "/host" } } }
LUA
refused bind_root "sandboxes.setup[1].src" --create
case_file bind_src_dotdot <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "bind", src = "/usr/../etc", dest = "/x" } } }
LUA
refused bind_src_dotdot "sandboxes.setup[1].src" --create
case_file bind_src_relative <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "bind", src = "usr", dest = "/usr" } } }
LUA
refused bind_src_relative "sandboxes.setup[1].src" --create
case_file copy_contains_basedir <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "copy", src = T, dest = "/copy" } } }
LUA
refused copy_contains_basedir "sandboxes.setup[1].src" --create
case_file copy_is_basedir <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "copy", src = SB, dest = "/copy" } } }
LUA
refused copy_is_basedir "sandboxes.setup[1].src" --create

# ---- numbers ------------------------------------------------------------------

i=0
for v in 1e18 -1 '2^63' 0.5 '"8"' 0 1025 math.huge -math.huge '0/0' math.mininteger math.maxinteger \
    '2^53 + 1' '"0x10"' true '{}'; do
    i=$((i + 1))
    case_file "threads_$i" <<LUA
options.build_threads = $v
LUA
    diag "options.build_threads = $v"
    refused "threads_$i" "options.build_threads"
done
case_file scan_threads <<'LUA'
options.scan_threads = -2^63
LUA
refused scan_threads "options.scan_threads"

# ---- deep nesting --------------------------------------------------------------

case_file deep_code_jobs <<'LUA'
local t = {}
for i = 1, 100000 do t = { t } end
jobs = t
LUA
refused deep_code_jobs "jobs[1]"
case_file deep_code_setup <<'LUA'
local t = { action = "mount", fs = "tmp", dest = "/tmp" }
for i = 1, 100000 do t = { only = t } end
sandboxes = { basedir = SB, setup = { t } }
LUA
refused deep_code_setup "sandboxes.setup[1]"
case_file deep_code_env <<'LUA'
local t = "x"
for i = 1, 100000 do t = { A = t } end
jobs = { { name = "a", run = "true", env = t } }
LUA
refused deep_code_env "jobs[1].env.A"
# Many symlink actions: the escape check looks each path component up in
# an index (it was a linear scan: 100,000 links took minutes, in C, where
# the 10 s limit does not look). The most recent link at a path counts.
case_file many_links <<'LUA'
local setup = {}
for i = 1, 100000 do setup[i] = { action = "symlink", src = "../t" .. i, dest = "/d/l" .. i } end
sandboxes = { basedir = SB, setup = setup }
LUA
accepted many_links
case_file many_links_escape <<'LUA'
local setup = {}
for i = 1, 100000 do setup[i] = { action = "symlink", src = "../t" .. i, dest = "/d/l" .. i } end
setup[#setup + 1] = { action = "symlink", src = "/", dest = "/d/l5" }
setup[#setup + 1] = { action = "mount", fs = "tmp", dest = "/d/l5/etc" }
sandboxes = { basedir = SB, setup = setup }
LUA
refused many_links_escape "sandboxes.setup[100002]"
check "many_links_escape: the later link to / is named" grep -qF "made by sandboxes.setup[100001]" "$T/err"

# Written literally: Lua's parser stops at its C stack limit.
for kind in braces parens concat not functions; do
    python3 - "$kind" <<'PY' | case_file "deep_literal_$kind"
import sys
k, n = sys.argv[1], 100000
if k == "braces":
    print("x = " + "{" * n + "}" * n)
elif k == "parens":
    print("x = " + "(" * n + "1" + ")" * n)
elif k == "concat":
    print("x = 'a'" + " .. 'a'" * n)
elif k == "not":
    print("x = " + "not " * n + "true")
else:
    print("x = " + "function() return " * 1000 + "1" + " end" * 1000)
PY
    refused "deep_literal_$kind" "$T/deep_literal_$kind.lua"
done
case_file recursion <<'LUA'
local function f() return 1 + f() end
x = f()
LUA
refused recursion "stack overflow"
case_file index_recursion <<'LUA'
local t = setmetatable({}, {})
getmetatable(t).__index = function(s, k) return s[k] end
x = t.y
LUA
refused index_recursion "stack overflow"
case_file index_loop <<'LUA'
local mt = {}
mt.__index = setmetatable({}, mt)
x = setmetatable({}, mt).y
LUA
refused index_loop "loop"
case_file tostring_recursion <<'LUA'
local t = {}
setmetatable(t, { __tostring = function(s) return tostring(s) end })
print(t)
LUA
refused tostring_recursion "overflow"

# ---- time and memory ---------------------------------------------------------------

case_file loop_forever <<'LUA'
while true do end
LUA
refused loop_forever "took too long"
check "loop_forever: refused within 30 s" [ "$LAST_MS" -lt 30000 ]
diag "refusal of 'while true do end': ${LAST_MS} ms (limit CONFIG_MAX_MS)"
LOOP_MS=$LAST_MS

case_file loop_pcall <<'LUA'
while true do pcall(function() while true do end end) end
LUA
refused loop_pcall "took too long"
check "loop_pcall: refused within 30 s" [ "$LAST_MS" -lt 30000 ]
diag "refusal of a loop that catches the timeout with pcall: ${LAST_MS} ms"

case_file loop_in_script <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "cmd", create = function() while true do end end } } }
LUA
refused loop_in_script "took too long"
diag "refusal of a loop in a script function: ${LAST_MS} ms"

case_file alloc_forever <<'LUA'
local t = {} while true do t[#t+1] = ("x"):rep(1e6) end
LUA
refused alloc_forever "$T/alloc_forever.lua"
check "alloc_forever: says too much memory (or too long)" \
    grep -qE 'too much memory|took too long' "$T/err"
# Wall clock: 2 s on an idle machine (plain build), much more under load or sanitizers.
check "alloc_forever: refused within 60 s" [ "$LAST_MS" -lt 60000 ]
diag "refusal of the unbounded allocation: ${LAST_MS} ms: $(head -c 200 "$T/err")"
ALLOC_MS=$LAST_MS

case_file alloc_one <<'LUA'
x = ("x"):rep(2^40)
LUA
refused alloc_one "$T/alloc_one.lua"
diag "refusal of a 1 TiB string: ${LAST_MS} ms: $(head -c 200 "$T/err")"

case_file alloc_table <<'LUA'
local t = {} for i = 1, math.maxinteger do t[i] = i end
LUA
refused alloc_table "$T/alloc_table.lua"
diag "refusal of an unbounded table: ${LAST_MS} ms: $(head -c 200 "$T/err")"

# Loading is bounded where the count hook cannot look: inside one long C
# call (a backtracking string.find: the hard stop ends bob 2 s after the
# 10 s limit), in a __gc finalizer (Lua runs them with hooks off: refused
# by setmetatable), and in a loop of slow C calls (the call hook reads the
# clock too). Each must be refused with exit 1 and the reason, within 20 s
# (timeout(1) would exit 124).
slow_refused() { # NAME WANT DESC LUA
    case_file "$1" <<<"$4"
    start=$(date +%s%N)
    timeout -k 2 20 "$BOB" -c "$T/$1.lua" config check >/dev/null 2>"$T/err"
    rc=$?
    diag "$1: exit $rc after $(ms_since "$start") ms: $(head -c 200 "$T/err" | tr '\n' ' ')"
    check "$3" [ $rc = 1 ]
    check "$1: the message names the file and the reason" grep -qF "$T/$1.lua" "$T/err"
    check "$1: ... $2" grep -qF "$2" "$T/err"
    check "$1: no sanitizer report" clean_stderr "$T/err"
}
slow_refused loop_in_pattern "configuration took too long to load (stuck in one call" \
    "loop_in_pattern: a backtracking string.find is refused within 20 s" \
    'x = ("a"):rep(5000):find(".-.-.-.-b")'
slow_refused loop_in_gc "__gc" \
    "loop_in_gc: a looping __gc finalizer is refused within 20 s" \
    'setmetatable({}, { __gc = function() while true do end end }) collectgarbage()'
# (Each rep of 100 MB can take a second under the sanitizers: then the
# hard stop may come first, with its own message; both say "too long".)
slow_refused loop_of_slow_calls "configuration took too long to load" \
    "loop_of_slow_calls: a loop of slow C calls is refused within 20 s" \
    'while true do local s = ("x"):rep(1e8) end'

# ---- Lua errors ---------------------------------------------------------------------

case_file syntax_error <<'LUA'
sandboxes = { basedir = SB
LUA
refused syntax_error "$T/syntax_error.lua:"
case_file runtime_error <<'LUA'
local x
x.y = 1
LUA
refused runtime_error "$T/runtime_error.lua:4: attempt to index"
case_file error_table <<'LUA'
error({ code = 1 })
LUA
refused error_table "error object is a table value"
case_file error_nil <<'LUA'
error()
LUA
refused error_nil "error object is a nil value"
case_file error_tostring <<'LUA'
error(setmetatable({}, { __tostring = function() while true do end end }))
LUA
refused error_tostring "error object is a table value"
case_file error_in_script <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "cmd", create = function() error({}) end } } }
LUA
refused error_in_script "sandboxes.setup[1].create"
case_file os_exit <<'LUA'
os.exit(0)
LUA
refused os_exit "os.exit is not available"
case_file os_exit_require <<'LUA'
require("os").exit(0, true)
LUA
refused os_exit_require "os.exit is not available"
case_file os_exit_in_script <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "cmd", create = function() os.exit(0) end } } }
LUA
refused os_exit_in_script "os.exit is not available"
case_file missing_file <<'LUA'
for line in io.lines("/nonexistent/bob-hostile") do end
LUA
refused missing_file "/nonexistent/bob-hostile"
case_file missing_pkgpaths <<'LUA'
pkgsrc = { basedir = "/usr/pkgsrc", make = "bmake", pkgpaths = read_pkgpaths("/nonexistent/pkgpaths") }
LUA
refused missing_pkgpaths "/nonexistent/pkgpaths"
case_file missing_dofile <<'LUA'
dofile("/nonexistent/x.lua")
LUA
refused missing_dofile "/nonexistent/x.lua"
case_file missing_module <<'LUA'
require("bob_hostile_no_such_module")
LUA
refused missing_module "bob_hostile_no_such_module"
case_file binary_chunk <<'LUA'
assert(load(string.dump(function() end)))()
LUA
refused binary_chunk "binary chunk"

# ---- NUL bytes and invalid UTF-8 ----------------------------------------------------

case_file nul_job_name <<'LUA'
jobs = { { name = "a\0b", run = "true" } }
LUA
refused nul_job_name "jobs[1].name"
case_file nul_command <<'LUA'
jobs = { { name = "a", run = "echo a\0rm -rf /" } }
LUA
refused nul_command "jobs[1].run"
case_file nul_stage <<'LUA'
jobs = { { name = "a", stages = { { name = "build", run = "true\0" } } } }
LUA
refused nul_stage "jobs[1].stages[1].run"
case_file nul_stage_name <<'LUA'
jobs = { { name = "a", stages = { { name = "bu\0ild", run = "true" } } } }
LUA
refused nul_stage_name "jobs[1].stages[1].name"
case_file nul_env <<'LUA'
jobs = { { name = "a", run = "true", env = { A = "x\0y" } } }
LUA
refused nul_env "jobs[1].env.A"
case_file nul_basedir <<'LUA'
sandboxes = { basedir = SB .. "\0/x" }
LUA
refused nul_basedir "sandboxes.basedir" --create
case_file nul_dest <<'LUA'
sandboxes = { basedir = SB, setup = { { action = "mount", fs = "tmp", dest = "/tmp\0/../../x" } } }
LUA
refused nul_dest "sandboxes.setup[1].dest" --create
case_file nul_logdir <<'LUA'
options.logdir = LOGS .. "\0x"
LUA
refused nul_logdir "options.logdir"
case_file utf8_job_name <<'LUA'
jobs = { { name = "caf\xe9", run = "true" } }
LUA
refused utf8_job_name "jobs[1].name"
case_file utf8_stage_name <<'LUA'
jobs = { { name = "a", stages = { { name = "\xff\xfe", run = "true" } } } }
LUA
refused utf8_stage_name "jobs[1].stages[1].name"
case_file esc_job_name <<'LUA'
jobs = { { name = "x\27]0;pwned\7\27[2J", run = "true" } }
LUA
refused esc_job_name "jobs[1].name"
check "esc_job_name: the message has no raw ESC or BEL byte" \
    bash -c "! grep -q \$'[\\x1b\\x07]' '$T/err'"
# NUL and invalid UTF-8 in the file text itself, outside strings.
{ printf 'local x = 1\n'; printf 'x = 2\0\n'; } >"$T/nul_text.lua"
refused nul_text "$T/nul_text.lua:2:"
{ printf 'local x = 1\n'; printf 'x\xff = 2\n'; } >"$T/utf8_text.lua"
refused utf8_text "$T/utf8_text.lua:2:"
# Bytes that are fine where any bytes are: a command, an env value, a path.
case_file utf8_command <<'LUA'
jobs = { { name = "a", run = "printf '\xff\xfe\xc3\x28 \27[31m'; echo caf\xe9", env = { V = "\xe9\xff" } } }
LUA
accepted utf8_command
case_file utf8_path <<'LUA'
sandboxes = { basedir = SB .. "/\xff", setup = { { action = "mount", fs = "tmp", dest = "/tmp/\xe9" } } }
LUA
accepted utf8_path

# ---- job names that try to leave the log directory -----------------------------------

i=0
for name in '"../x"' '"/abs"' '"a/../../b"' '"."' '".."' '""' '"a//b"' '"a/"' '"./a"' '"a/."' \
    '"a\nb"' '"a b"' '" a"' '"a\tb"' '"a\\\\b"' '"~"' '"$(id)"' '"a;b"' '"*"' 'true' '{}'; do
    i=$((i + 1))
    case_file "job_name_$i" <<LUA
jobs = { { name = $name, run = "true" } }
LUA
    refused "job_name_$i" "jobs[1].name"
done
case_file stage_name_escape <<'LUA'
jobs = { { name = "a", stages = { { name = "../../x", run = "true" } } } }
LUA
refused stage_name_escape "jobs[1].stages[1].name"
case_file depends_escape <<'LUA'
jobs = { { name = "a", run = "true", depends = { "../x" } } }
LUA
refused depends_escape "jobs[1].depends[1]"

# ---- fuzzer findings: tests/configs/fuzz-*.lua (see fuzz/run) -------------------------

for f in "$BOB_SOURCE_DIR"/tests/configs/fuzz-*.lua; do
    [ -f "$f" ] || continue
    timeout -k 2 60 "$BOB" -c "$f" config check >/dev/null 2>"$T/err"
    rc=$?
    check "$(basename "$f"): a clean error or success (exit $rc)" \
        bash -c "{ [ $rc = 0 ] || [ $rc = 1 ]; } && ! grep -qE 'Sanitizer|\.c:[0-9]+:[0-9]+: runtime error' '$T/err'"
done

# ---- the config file itself ----------------------------------------------------------

"$BOB" -c /dev/zero config check >"$T/out" 2>"$T/err"
check "/dev/zero as the config: exit 1, says it is too large" \
    bash -c "[ $? = 1 ] && grep -q 'larger than' '$T/err'"
"$BOB" -c "$T" config check >"$T/out" 2>"$T/err"
check "a directory as the config: exit 1, says so" bash -c "[ $? = 1 ] && grep -q 'is a directory' '$T/err'"
head -c $((17 << 20)) /dev/zero | tr '\0' '-' >"$T/huge.lua"
"$BOB" -c "$T/huge.lua" config check >"$T/out" 2>"$T/err"
check "a 17 MiB config: exit 1, says it is too large" bash -c "[ $? = 1 ] && grep -q 'larger than' '$T/err'"
rm -f "$T/huge.lua"
: >"$T/empty.lua"
"$BOB" -c "$T/empty.lua" config check 2>"$T/err"
check "an empty config is an error (exit 1) that says why" \
    bash -c "[ $? = 1 ] && grep -q 'sets none of options, sandboxes, jobs and pkgsrc' '$T/err'"

diag "refusal times: looping config ${LOOP_MS} ms, allocating config ${ALLOC_MS} ms"
echo "1..$n"
[ $fail = 0 ]
