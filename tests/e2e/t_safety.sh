#!/bin/bash
# Host files reachable through a writable bind mount survive destroy, also
# when the unmount fails because a process holds the mount (destroy refuses
# and names the holder), and build-made symlinks to / are never followed.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
cat >"$CFG" <<LUA
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "bind", src = "$HOST/data", dest = "/work" },
    { action = "copy", src = "$HOST/data", dest = "/copy" },
  },
}
LUA
bob() { "$BOB" -c "$CFG" "$@"; }

SB=$(bob sandbox create 2>/dev/null)
check "create" [ "$SB" = "$BOB_BASEDIR/0" ]
check "host files visible through the bind" [ "$(cat "$SB/work/file")" = precious ]

# A host process (not in the sandbox, so destroy does not kill it) keeps
# the bind mount busy.
(cd "$SB/work/sub" && exec sleep 600) &
holder=$!
sleep 0.2
start=$(date +%s%N)
bob sandbox destroy -a 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "destroy with a busy mount fails (exit 1)" [ $rc = 1 ]
check "the error names the mount and the holder" grep -q "$SB/work.*busy.*pid $holder sleep" "$T/err"
diag "$(head -3 "$T/err")" "destroy gave up after ${ms} ms"
check "unmount was retried with backoff for about 5 s" [ "$ms" -ge 3000 ]
check "host files intact after the failed destroy" host_files_intact
check "the sandbox is still listed, as incomplete" bash -c "'$BOB' -c '$CFG' sandbox list | grep -qx '$SB (incomplete)'"
kill "$holder"; wait "$holder" 2>/dev/null
bob sandbox destroy -a 2>"$T/err"
check "destroy finishes once the holder is gone" [ $? = 0 ]
check "sandbox gone" [ ! -e "$SB" ]
check "host files intact" host_files_intact

# Symlinks to / made by a build: inside the sandbox's own directory, in a
# copied tree, and in place of a copy destination. None is followed.
SB=$(bob sandbox create 2>/dev/null)
ln -s / "$SB/escape"
ln -s "$HOST/data" "$SB/copy/evil"
mkdir -p "$SB/deep/a/b"
ln -s "$HOST" "$SB/deep/a/b/host"
bob sandbox destroy -a 2>"$T/err"
check "destroy with symlinks to / and to host dirs" [ $? = 0 ]
check "host files intact after symlink escapes" host_files_intact
check "sandbox gone" [ ! -e "$SB" ]

SB=$(bob sandbox create 2>/dev/null)
rm -rf "$SB/copy"
ln -s "$HOST/data" "$SB/copy"
bob sandbox destroy -a 2>"$T/err"
check "destroy where a build replaced a copy by a link to the host" [ $? = 0 ]
check "host files intact" host_files_intact
check "host dir still a dir" [ -d "$HOST/data" ] 

# A host file on the sandbox's own mount is the sandbox's: removed. A
# device node left by a build is removed too.
SB=$(bob sandbox create 2>/dev/null)
echo leftover >"$SB/leftover"
mknod "$SB/node" c 1 3
bob sandbox destroy -a 2>/dev/null
check "files a build left on the sandbox's own mount are removed" [ ! -e "$SB" ]

# A mount made inside a copy's destination while destroy -a runs, after the
# other sandboxes have looked for foreign mounts (sandbox 1 needs a second
# kill round: a process runs in it): found and unmounted before the copy is
# undone; the destroy succeeds and the mounted host files survive.
mkdir -p "$T/canary" && echo c >"$T/canary/f"
bob sandbox create -n 2 >/dev/null 2>&1
chroot "$BOB_BASEDIR/1" /bin/sleep 100 >/dev/null 2>&1 &
sleep 0.3
(
    for i in $(seq 200000); do
        grep -q " $BOB_BASEDIR/0/usr " /proc/self/mountinfo || break
    done
    mount --bind "$T/canary" "$BOB_BASEDIR/1/copy/sub"
) &
watcher=$!
bob sandbox destroy -a >/dev/null 2>"$T/err"
rc=$?
wait $watcher
check "a foreign mount made during destroy -a: the destroy succeeds" [ $rc = 0 ] || diag "$(cat "$T/err")"
check "a foreign mount made during destroy -a: its files survive" [ "$(cat "$T/canary/f")" = c ]
check "a foreign mount made during destroy -a: nothing left" [ -z "$(mounts_under "$BOB_BASEDIR")$(ls -A "$BOB_BASEDIR")" ]
for m in $(mounts_under "$BOB_BASEDIR" | sort -r); do umount -l "$m"; done
