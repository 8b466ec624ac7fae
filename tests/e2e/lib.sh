# Shared set-up for the end-to-end tests: sourced by every tests/e2e/t_*.sh.
#
# Each test runs as root inside its own private mount namespace
# (tests/run-private), works under a fresh directory $T, prints TAP, and at
# exit asserts that no mount and no process is left below $T and that the
# host files it planted are intact. As a normal user it skips (exit 77).

set -u
: "${BOB:?BOB must name the bob binary}"
: "${BOB_SOURCE_DIR:?}"

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root: the test mounts filesystems and uses chroot"
    exit 77
fi
if [ -z "${BOB_IN_PRIVATE_NS:-}" ]; then
    echo "1..0 # SKIP must run through tests/run-private (private mount namespace)"
    exit 77
fi
# Nothing mounted here may propagate anywhere, whatever the host's default.
mount --make-rprivate / 2>/dev/null

T=$(mktemp -d /tmp/bob-e2e.XXXXXX)
export BOB_BASEDIR="$T/sandboxes"
# Each test keeps its build state (options.dbdir's default) to itself.
export BOB_DATADIR="$T/bobdata"
HOST="$T/host"
mkdir -p "$HOST"
_ntest=0
_nfail=0

ok() {
    _ntest=$((_ntest + 1))
    echo "ok $_ntest - $*"
}

not_ok() {
    _ntest=$((_ntest + 1))
    _nfail=$((_nfail + 1))
    echo "not ok $_ntest - $*"
}

diag() {
    printf '# %s\n' "$@"
}

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# The mount points at or below a path.
mounts_under() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

# The pids of processes whose root or cwd is at or below a path.
procs_under() {
    local p r c
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        c=$(readlink "$p/cwd" 2>/dev/null) || c=""
        case "$r" in "$1" | "$1"/*) echo "${p#/proc/}"; continue ;; esac
        case "$c" in "$1" | "$1"/*) echo "${p#/proc/}" ;; esac
    done
}

# Plants host files that must survive everything: $HOST/data/... plus checksums.
plant_host_files() {
    mkdir -p "$HOST/data/sub"
    echo "precious" >"$HOST/data/file"
    echo "also precious" >"$HOST/data/sub/file"
    ln -s /etc/hostname "$HOST/data/link"
    (cd "$HOST" && find data -type f -exec sha256sum {} + | sort >"$T/host.sums")
}

host_files_intact() {
    [ -f "$T/host.sums" ] || return 0
    (cd "$HOST" && find data -type f -exec sha256sum {} + | sort | cmp -s - "$T/host.sums")
}

# destroy_cleans LABEL: `bob sandbox destroy -a` with $CFG (twice at most)
# leaves no mount, process or sandbox under $BOB_BASEDIR, and host files
# are intact (after injected failures and SIGKILLs).
destroy_cleans() {
    local i rc=1
    for i in 1 2; do
        "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>"$T/clean.err" && { rc=0; break; }
    done
    [ $rc = 0 ] || diag "$1: destroy -a failed: $(cat "$T/clean.err")"
    check "$1: destroy -a cleans up" [ $rc = 0 ]
    check "$1: no mount left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
    check "$1: no process left" [ -z "$(procs_under "$BOB_BASEDIR")" ]
    check "$1: no sandbox left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]
    check "$1: host files intact" host_files_intact
}

# The host system in a sandbox, read-only: setup actions for test configs
# (merged /usr: the other top directories are links into it).
SYSTEM_LUA='    { action = "mount", fs = "bind", dir = "/usr", opts = "ro" },
    { action = "symlink", src = "usr/bin", dest = "/bin" },
    { action = "symlink", src = "usr/lib", dest = "/lib" },
    { action = "symlink", src = "usr/lib64", dest = "/lib64" },'

# The setup actions of a job sandbox most tests use: /dev, /proc, a tmpfs /tmp.
JOB_SETUP_LUA='    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp" },'

# build_lua JOBS [OPTIONS] [SETUP]: a build config on stdout, the shared
# preamble of the build tests: options (2 threads, logdir $T/logs, no live
# display, then OPTIONS), sandboxes under $BOB_BASEDIR made of the
# read-only host system ($SYSTEM_LUA) and the SETUP actions (Lua lines),
# and the JOBS (Lua table entries).
build_lua() {
    cat <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false, ${2:-} }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
${3:-}
  },
}
jobs = { $1 }
LUA
}

# Writes a config to $1 from the bundled example, plus extra Lua appended.
example_config() {
    cp "$BOB_SOURCE_DIR/contrib/linux.lua" "$1"
    [ $# -lt 2 ] || printf '%s\n' "$2" >>"$1"
}

_finish() {
    local leftm leftp
    cd /
    leftp=$(procs_under "$T")
    if [ -n "$leftp" ]; then
        not_ok "no process left below $T"
        diag "left: $leftp"
        kill -9 $leftp 2>/dev/null
    else
        ok "no process left below $T"
    fi
    leftm=$(mounts_under "$T")
    if [ -n "$leftm" ]; then
        not_ok "no mount left below $T"
        diag "left: $leftm"
        for m in $(echo "$leftm" | sort -r); do umount -l "$m" 2>/dev/null; done
    else
        ok "no mount left below $T"
    fi
    if host_files_intact; then ok "host files intact"; else not_ok "host files intact"; fi
    rm -rf --one-file-system "$T"
    echo "1..$_ntest"
    [ "$_nfail" = 0 ]
    exit $?
}
trap _finish EXIT
