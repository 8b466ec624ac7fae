#!/bin/bash
# Every action kind and predicate, created and undone.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
mkdir -p "$HOST/bindsrc" "$HOST/copysrc/sub"
echo bound >"$HOST/bindsrc/file"
echo copied >"$HOST/copysrc/sub/file"
chmod 0750 "$HOST/copysrc"
ln -s sub/file "$HOST/copysrc/link"
mkfifo "$HOST/copysrc/fifo"
cat >"$CFG" <<LUA
pkgsrc = { basedir = "/usr/pkgsrc", make = "/usr/bin/make", build_user = "nobody" }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "fd", dir = "/devfd" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp", opts = "size=10M mode=1777" },
    { action = "mount", fs = "lofs", src = "$HOST/bindsrc", dest = "/data" },
    { action = "copy", src = "$HOST/copysrc", dest = "/copied" },
    { action = "mount", fs = "tmp", dir = "/var" },
    { action = "copy", src = "$HOST/copysrc", dest = "/var/copied-into-tmpfs" },
    { action = "mount", fs = "null", src = "/nonexistent-bob", dest = "/never",
      only = { exists = "/nonexistent-bob" } },
    { action = "mount", fs = "tmp", dir = "/devonly", only = { environment = "dev" } },
    { action = "mount", fs = "tmp", dir = "/buildonly", only = { environment = "build" } },
    { action = "cmd", only = { set = "pkgsrc.build_user" },
      create = "echo \$bob_build_user \$bob_build_user_home > \"\$bob_sandbox_path/host-cmd\"" },
    { action = "cmd", only = { set = "pkgsrc.nonexistent" }, create = "touch never" },
    { action = "cmd", chroot = true,
      create = function() return { run = 'echo "\$GREETING \${bob_sandbox_path:-unset}" > /chroot-cmd', env = { GREETING = "hello" } } end,
      destroy = "mountpoint -q /tmp && echo undone > /data/undo-ran" },
    { action = "macos-mdns-listener" },
  },
}
LUA
bob() { "$BOB" -c "$CFG" "$@"; }
SB=$(bob sandbox create 2>"$T/err")
check "create with every action kind" [ "$SB" = "$BOB_BASEDIR/0" ]
[ -n "$SB" ] || cat "$T/err"
check "fd mount is a mount" bash -c "awk '\$5==\"$SB/devfd\"' /proc/self/mountinfo | grep -q ."
check "tmp size honoured" bash -c "[ \"\$(stat -f -c '%b' '$SB/tmp')\" -le $((10*1024*1024/4096)) ]"
check "bind source visible" [ "$(cat "$SB/data/file")" = bound ]
check "bind is writable without ro" bash -c "echo w > '$SB/data/new' && [ -f '$HOST/bindsrc/new' ]"
check "copy keeps files" [ "$(cat "$SB/copied/sub/file")" = copied ]
check "copy keeps links as links" [ "$(readlink "$SB/copied/link")" = sub/file ]
check "copy skips fifos" [ ! -e "$SB/copied/fifo" ]
check "copy keeps the top-level mode" [ "$(stat -c %a "$SB/copied")" = 750 ]
check "copy into a tmpfs of the sandbox" [ "$(cat "$SB/var/copied-into-tmpfs/sub/file")" = copied ]
check "only.exists false: not mounted" [ ! -e "$SB/never" ]
check "only.environment dev: not applied by create" [ ! -e "$SB/devonly" ]
check "only.environment build: applied" mountpoint -q "$SB/buildonly"
check "only.set set: host cmd ran with bob_ variables" grep -q "^nobody /nonexistent" "$SB/host-cmd"
check "only.set unset: dropped" [ ! -e "$SB/never" ]
check "chroot cmd ran inside, with its env, without bob_sandbox_path" [ "$(cat "$SB/chroot-cmd")" = "hello unset" ]
check "config show drops the only.set action" bash -c "! '$BOB' -c '$CFG' config show | grep -q 'pkgsrc.nonexistent'"
bob sandbox destroy -a 2>"$T/err"
rc=$?
check "destroy exits 0" [ $rc = 0 ]
[ $rc = 0 ] || diag "$(cat "$T/err")"
check "everything removed" [ ! -e "$SB" ]
check "bind source survives with the file written through it" [ -f "$HOST/bindsrc/new" ] 
check "the cmd's destroy ran inside, before the later mounts were undone" [ "$(cat "$HOST/bindsrc/undo-ran" 2>/dev/null)" = undone ]
check "copy source survives" [ "$(cat "$HOST/copysrc/sub/file")" = copied ]
