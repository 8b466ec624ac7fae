#!/bin/bash
# Create, list and destroy with the bundled example config: one, then
# several; ids, paths, (incomplete); the mount table exactly as before.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
example_config "$CFG"
bob() { "$BOB" -c "$CFG" "$@"; }

before=$(cat /proc/self/mountinfo)

out=$(bob sandbox create 2>"$T/err")
check "create 1 exits 0" [ $? = 0 ]
check "create prints the sandbox path" [ "$out" = "$BOB_BASEDIR/0" ]
check "progress goes to stderr" grep -q "Creating sandbox" "$T/err"
check ".bob/completed marks it" [ -d "$BOB_BASEDIR/0/.bob/completed" ]
check "list shows it" [ "$(bob sandbox list)" = "$BOB_BASEDIR/0" ]

SB=$BOB_BASEDIR/0
check "ro bind of /usr is there" [ -x "$SB/usr/bin/sh" ]
check "bin link is relative" [ "$(readlink "$SB/bin")" = "usr/bin" ]
check "a shell runs in the chroot" chroot "$SB" /bin/sh -c 'echo hi >/tmp/x && cat /tmp/x' >/dev/null
check "/usr is read-only inside" bash -c "! chroot '$SB' /bin/touch /usr/bob-e2e 2>/dev/null"
check "/usr is still writable on the host" bash -c "touch /usr/local/.bob-e2e && rm /usr/local/.bob-e2e"
check "/etc is a copy" bash -c "[ -f '$SB/etc/passwd' ] && ! mountpoint -q '$SB/etc'"
check "/proc is a proc" bash -c "chroot '$SB' /bin/sh -c 'test -r /proc/self/status'"
check "/tmp is a tmpfs" bash -c "awk '\$5==\"$SB/tmp\"' /proc/self/mountinfo | grep -q tmpfs"
check "/tmp has mode 1777" [ "$(stat -c %a "$SB/tmp")" = 1777 ]
check "/dev/null works inside" chroot "$SB" /bin/sh -c 'echo x >/dev/null && head -c 4 /dev/zero | wc -c | grep -q 4'
check "/dev is not the host's devtmpfs" bash -c "! awk '\$5==\"$SB/dev\"' /proc/self/mountinfo | grep -q devtmpfs"
chroot "$SB" /bin/sh -c 'touch /dev/bob-e2e-node' 2>/dev/null
check "a file made in the sandbox /dev is not in the host /dev" [ ! -e /dev/bob-e2e-node ]
check "no mount of the sandbox is shared" bash -c "! grep ' $SB' /proc/self/mountinfo | grep -q shared:"

out=$(bob sandbox create -n 3 2>/dev/null)
check "create -n 3 prints 3 paths in ascending order" [ "$out" = "$(printf '%s\n' "$BOB_BASEDIR/1" "$BOB_BASEDIR/2" "$BOB_BASEDIR/3")" ]
check "list shows 4" [ "$(bob sandbox list | wc -l)" = 4 ]

rm -rf "$BOB_BASEDIR/2/.bob/completed"
check "a sandbox without completed is listed (incomplete)" bash -c "bob() { '$BOB' -c '$CFG' \"\$@\"; }; bob sandbox list | grep -qx '$BOB_BASEDIR/2 (incomplete)'"

bob sandbox destroy 1 2>/dev/null
check "destroy by id exits 0" [ $? = 0 ]
check "destroy by id removes only it" [ "$(bob sandbox list | tr '\n' ' ')" = "$BOB_BASEDIR/0 $BOB_BASEDIR/2 (incomplete) $BOB_BASEDIR/3 " ]
bob sandbox destroy 99 2>"$T/err"
check "destroy of an unknown id: exit 1, said" bash -c "[ $? = 1 ] && grep -q 'sandbox 99: no such sandbox' '$T/err'"
check "destroy of an unknown id leaves the others" [ "$(bob sandbox list | tr '\n' ' ')" = "$BOB_BASEDIR/0 $BOB_BASEDIR/2 (incomplete) $BOB_BASEDIR/3 " ]
bob sandbox destroy -a 2>/dev/null
check "destroy -a exits 0" [ $? = 0 ]
check "list is empty" [ -z "$(bob sandbox list)" ]
check "basedir holds nothing" [ -z "$(ls -A "$BOB_BASEDIR")" ]
bob sandbox destroy -a 2>/dev/null
check "destroy -a again is harmless" [ $? = 0 ]

# With the bundled example, create -n 4 then destroy -a leaves the mount
# table exactly as it was.
bob sandbox create -n 4 >/dev/null 2>&1
check "create -n 4" [ $? = 0 ]
bob sandbox destroy -a >/dev/null 2>&1
check "destroy -a after create -n 4" [ $? = 0 ]
after=$(cat /proc/self/mountinfo)
check "mountinfo exactly as before" [ "$before" = "$after" ]

# What a destroy killed between removing .bob and the directory leaves: an
# empty numbered directory without a marker. destroy -a removes it; a
# numbered directory with files and no marker is not bob's and stays.
mkdir -p "$BOB_BASEDIR/7" "$BOB_BASEDIR/8"
echo mine >"$BOB_BASEDIR/8/file"
bob sandbox destroy -a 2>/dev/null
check "destroy -a removes an empty unmarked sandbox directory" [ ! -e "$BOB_BASEDIR/7" ]
check "destroy -a leaves a directory that is not bob's, with its files" \
    [ "$(cat "$BOB_BASEDIR/8/file")" = mine ]
rm -rf "$BOB_BASEDIR/8"
