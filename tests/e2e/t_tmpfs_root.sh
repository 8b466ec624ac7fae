#!/bin/bash
# sandboxes.tmpfs_root: each sandbox's root is a tmpfs of its own, mounted
# over the claimed directory before the setup actions and detached after
# everything below it is gone. It holds the sandbox's lock and .bob; it
# is told from any other mount at <basedir>/<id> by its mark, and such
# another mount is never taken for a sandbox. Create, run, a second bob
# beside the first, a build, the mount(2) fallback, bad options, injected
# failures and SIGKILL at each step leave nothing, and host files survive.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
mkdir -p "$T/outd"
write_cfg() { # TMPFS_ROOT_VALUE
    cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs", tui = false }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  tmpfs_root = $1,
  setup = {
$SYSTEM_LUA
$JOB_SETUP_LUA
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/work" },
    { action = "copy", src = "$HOST/data", dest = "/copy" },
    { action = "mount", fs = "bind", src = "$T/outd", dest = "/out" },
    { action = "cmd", chroot = true, create = "sleep 60 >/dev/null 2>&1 & echo made > /made",
      destroy = "rm -f /made" },
  },
}
jobs = {
  { name = "a", run = "stat -f -c %T / >/out/a.fs; echo a >/a; test -f /copy/file" },
  { name = "b", run = "echo b >/b" },
  { name = "c", run = "test -f /made" },
}
LUA
}
write_cfg '"size=32m"'
bob() { "$BOB" -c "$CFG" "$@"; }
root_fs() { awk -v d="$1" '$5 == d { for (i = 7; $i != "-"; i++); print $(i + 1), $(i + 2) }' /proc/self/mountinfo | tail -1; }

check "config check accepts it" bob config check
out=$(bob config show 2>/dev/null)
check "config show has it" grep -q 'tmpfs_root = "size=32m"' <<<"$out"

out=$(bob sandbox create -n 2 2>"$T/err")
check "create -n 2 with a tmpfs root each" [ "$out" = "$(printf '%s\n' "$BOB_BASEDIR/0" "$BOB_BASEDIR/1")" ]
check "the root of sandbox 0 is a tmpfs of bob's" [ "$(root_fs "$BOB_BASEDIR/0")" = "tmpfs bob-root" ]
check "the root of sandbox 1 is a tmpfs of bob's" [ "$(root_fs "$BOB_BASEDIR/1")" = "tmpfs bob-root" ]
check "its .bob is on the tmpfs, marked complete" [ -d "$BOB_BASEDIR/0/.bob/completed" ]
check "its mount points are on the tmpfs" [ "$(stat -f -c %T "$BOB_BASEDIR/0/usr/..")" = tmpfs ]
check "its root has mode 0755" [ "$(stat -c %a "$BOB_BASEDIR/0")" = 755 ]
check "list shows both" [ "$(bob sandbox list | wc -l)" = 2 ]
out=$(bob sandbox run 0 -- sh -c 'echo x >/x && stat -f -c %T / && test -f /copy/file && echo ok' 2>&1)
check "run: the root is a tmpfs, the copy is there" [ "$out" = "$(printf 'tmpfs\nok')" ]

# Another mount at <basedir>/<id> (no mark) is no sandbox: never listed,
# locked, destroyed or emptied.
mkdir -p "$BOB_BASEDIR/7"
mount -t tmpfs -o size=1m other "$BOB_BASEDIR/7"
mkdir "$BOB_BASEDIR/7/.bob" && echo keep >"$BOB_BASEDIR/7/file"
check "a foreign tmpfs with a .bob is not listed" [ "$(bob sandbox list | wc -l)" = 2 ]

# A second bob beside the first: a new id, never one of the tmpfs roots.
out=$(bob sandbox create 2>/dev/null)
check "a second create takes the next id" [ "$out" = "$BOB_BASEDIR/2" ]

bob sandbox destroy -a >/dev/null 2>"$T/err"
check "destroy -a exits 0" [ $? = 0 ]
check "destroy -a warns about the foreign mount" grep -q "$BOB_BASEDIR/7 is a mount point, not a sandbox" "$T/err"
check "the foreign mount and its file are left" [ "$(cat "$BOB_BASEDIR/7/file" 2>/dev/null)" = keep ]
umount "$BOB_BASEDIR/7" && rmdir "$BOB_BASEDIR/7"
check "no mount left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
check "no sandbox left" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "host files intact" host_files_intact

# A build: every job in a sandbox whose root is its own tmpfs.
mkdir -p "$T/logs"
bob build >"$T/out" 2>&1
check "build with tmpfs roots succeeds" [ $? = 0 ]
check "build: 3 succeeded" grep -q "3 succeeded" "$T/out"
check "build: a job's root is a tmpfs" [ "$(cat "$T/outd/a.fs" 2>/dev/null)" = tmpfs ] || diag "$(cat "$T/out")"
check "build: no mount left" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
check "build: no sandbox left" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]

# With mount(2) (old kernels, valgrind) as with the new API.
BOB_NO_NEWMOUNT=1 bob sandbox create -n 2 >/dev/null 2>&1
check "mount(2): create" [ "$(root_fs "$BOB_BASEDIR/1")" = "tmpfs bob-root" ]
BOB_NO_NEWMOUNT=1 bob sandbox destroy -a >/dev/null 2>&1
check "mount(2): destroy leaves nothing" [ -z "$(mounts_under "$BOB_BASEDIR")$(ls -A "$BOB_BASEDIR")" ]

# true, and the default: the kernel's default size; false: a directory on basedir's disk.
for v in true nil; do
    write_cfg $v
    bob sandbox create >/dev/null 2>&1
    check "tmpfs_root = $v: a tmpfs root" [ "$(root_fs "$BOB_BASEDIR/0")" = "tmpfs bob-root" ]
    # Bounded to a quarter of the memory (the kernel rounds to pages).
    want=$(awk '/^MemTotal:/ { print int($2 / 4 / 4) * 4 }' /proc/meminfo)
    got=$(df -k --output=size "$BOB_BASEDIR/0" | tail -1 | tr -d ' ')
    check "tmpfs_root = $v: a quarter of the memory ($got kB, want about $want)" \
        [ $(((got - want) * (got - want))) -le 16 ]
    bob sandbox destroy -a >/dev/null 2>&1
done
write_cfg false
out=$(bob config show 2>/dev/null)
check "config show says false" grep -q 'tmpfs_root = false' <<<"$out"
bob sandbox create -n 2 >/dev/null 2>&1
check "tmpfs_root = false: the root is a plain directory" [ -z "$(root_fs "$BOB_BASEDIR/0")" ]
check "tmpfs_root = false: on the disk" [ "$(stat -f -c %T "$BOB_BASEDIR/0")" = "$(stat -f -c %T "$BOB_BASEDIR")" ]
check "tmpfs_root = false: sandbox run" bob sandbox run 1 -- test -f /copy/file
bob build --all >"$T/out" 2>&1
check "tmpfs_root = false: build succeeds beside them" grep -q "3 succeeded" "$T/out"; grep -q "3 succeeded" "$T/out" || diag "$(tail -5 "$T/out")"
bob sandbox destroy -a >/dev/null 2>&1
check "tmpfs_root = false: destroy leaves nothing" [ -z "$(mounts_under "$BOB_BASEDIR")$(ls -A "$BOB_BASEDIR")" ]

# A kernel whose tmpfs takes no attributes (no mark): the root stays on the
# disk, said once, and everything works (BOB_FAULT=xattr plays that kernel).
write_cfg true
for api in new classic; do
    env=""
    [ $api = new ] || env="BOB_NO_NEWMOUNT=1"
    env $env BOB_FAULT=xattr:1 "$BOB" -c "$CFG" sandbox create -n 2 >/dev/null 2>"$T/err"
    check "no tmpfs attributes ($api): create succeeds" [ $? = 0 ]
    check "no tmpfs attributes ($api): said once" [ "$(grep -c 'sandboxes keep their roots on the disk' "$T/err")" = 1 ]
    check "no tmpfs attributes ($api): that root is on the disk, the other a tmpfs" \
        [ "$(root_fs "$BOB_BASEDIR/0")|$(root_fs "$BOB_BASEDIR/1")" = "|tmpfs bob-root" ]
    check "no tmpfs attributes ($api): run works" bob sandbox run 0 -- test -f /copy/file
    bob sandbox destroy -a >/dev/null 2>&1
    check "no tmpfs attributes ($api): destroy leaves nothing" [ -z "$(mounts_under "$BOB_BASEDIR")$(ls -A "$BOB_BASEDIR")" ]
done

# Bad options: config check says so; create fails, leaving nothing.
write_cfg '"size=lots"'
bob config check 2>"$T/err"
check "config check refuses a bad option" [ $? != 0 ]
check "config check names the key" grep -q "sandboxes.tmpfs_root" "$T/err"
# Without the new mount API (BOB_FAULT=newapi), by a mount in a namespace of its own.
BOB_FAULT=newapi:1 bob config check 2>"$T/err"
check "config check without the new API refuses a bad option" [ $? != 0 ]
check "config check without the new API names the key" grep -q "sandboxes.tmpfs_root" "$T/err"
write_cfg '"size=32m,mode=0700"'
check "config check without the new API accepts good options" env BOB_FAULT=newapi:1 "$BOB" -c "$CFG" config check
# In a chroot, where / is no mount (no namespace of its own to be had):
# cannot tell, so no verdict, never a false "invalid".
C=$T/chroot
mkdir -p "$C/usr" "$C/etc" "$C/proc" && mount --bind /usr "$C/usr" && mount --bind /etc "$C/etc"
mount -t proc proc "$C/proc" # for the sanitizers of a test build
ln -s usr/lib "$C/lib" && ln -s usr/lib64 "$C/lib64" && ln -s usr/bin "$C/bin"
cp "$BOB" "$C/bob" && cp "$CFG" "$C/c.lua"
check "config check in a chroot without the new API: no false verdict" env BOB_FAULT=newapi:1 chroot "$C" /bob -c /c.lua config check
umount "$C/usr" "$C/etc" "$C/proc"
write_cfg '"size=lots"'
bob sandbox create -n 2 >/dev/null 2>"$T/err"
check "create with a bad option fails" [ $? = 1 ]
check "create names the tmpfs" grep -q "cannot mount tmpfs" "$T/err"
check "create with a bad option leaves nothing" [ -z "$(mounts_under "$BOB_BASEDIR")$(ls -A "$BOB_BASEDIR")" ]
write_cfg '"size=4k,nr_inodes=6"'
bob sandbox create >/dev/null 2>"$T/err"
check "a root too small for the copy fails the create" [ $? = 1 ]
check "a root too small leaves nothing" [ -z "$(mounts_under "$BOB_BASEDIR")$(ls -A "$BOB_BASEDIR")" ]

# Injected failures and SIGKILL at each step: destroy -a (twice at most) cleans.
write_cfg '"size=32m"'
for f in mount:1 mount:5 copy:1; do
    BOB_FAULT=$f bob sandbox create -n 2 >/dev/null 2>"$T/err"
    check "create, $f: exit 1" [ $? = 1 ]
    check "create, $f: no mount left after the rollback" [ -z "$(mounts_under "$BOB_BASEDIR")" ]
    destroy_cleans "create, $f"
done
for s in create.root:1 create.root:2 create.action:1 create.action:10 create.mark:2; do
    BOB_FAULT="kill@$s" bob sandbox create -n 2 >/dev/null 2>&1
    check "SIGKILL at $s: bob died of it" [ $? = 137 ]
    destroy_cleans "SIGKILL at $s"
done
# SIGKILL while the root tmpfs is made, marked and filled, with either API:
# with mount(2) it is made beside its point and moved there complete, so
# no unmarked or empty tmpfs is ever left at <basedir>/<id>. One destroy
# cleans, and the next create takes id 0 again with a single root.
for api in new classic; do
    env=""
    [ $api = new ] || env="BOB_NO_NEWMOUNT=1"
    for s in create.rootmark:1 create.rootfill:1 create.rootmove:1; do
        [ $api = new ] && [ $s = create.rootmove:1 ] && continue # mount(2) only
        env $env BOB_FAULT="kill@$s" "$BOB" -c "$CFG" sandbox create >/dev/null 2>&1
        check "SIGKILL at $s ($api): bob died of it" [ $? = 137 ]
        check "SIGKILL at $s ($api): no tmpfs at <basedir>/0" [ -z "$(root_fs "$BOB_BASEDIR/0")" ]
        env $env "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>"$T/err"
        check "SIGKILL at $s ($api): one destroy -a cleans" [ $? = 0 ] || diag "$(cat "$T/err")"
        check "SIGKILL at $s ($api): nothing left" [ -z "$(mounts_under "$BOB_BASEDIR")$(ls -A "$BOB_BASEDIR")" ]
        out=$(env $env "$BOB" -c "$CFG" sandbox create 2>/dev/null)
        check "SIGKILL at $s ($api): the next create takes id 0" [ "$out" = "$BOB_BASEDIR/0" ]
        check "SIGKILL at $s ($api): with one root tmpfs" \
            [ "$(awk -v d="$BOB_BASEDIR/0" '$5 == d' /proc/self/mountinfo | wc -l)" = 1 ]
        destroy_cleans "SIGKILL at $s ($api)"
    done
done
for s in destroy.unmark:1 destroy.sweep:1 destroy.remove:1 destroy.remove:2; do
    bob sandbox create -n 2 >/dev/null 2>&1
    BOB_FAULT="kill@$s" bob sandbox destroy -a >/dev/null 2>&1
    check "SIGKILL at $s: bob died of it" [ $? = 137 ]
    destroy_cleans "SIGKILL at $s"
done
bob sandbox create -n 2 >/dev/null 2>&1
BOB_FAULT=umount:1 bob sandbox destroy -a >/dev/null 2>"$T/err"
check "destroy, umount:1: exit 1" [ $? = 1 ]
destroy_cleans "destroy, umount:1"
_finish
