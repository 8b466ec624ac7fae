#!/bin/bash
# On a host whose mounts are shared (systemd makes / shared), nothing that
# bob mounts in a sandbox may appear in a peer mount: basedir is made a
# private mount of its own first.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/shared" "$T/peer"
mount --bind "$T/shared" "$T/shared"
mount --make-shared "$T/shared"
mount --bind "$T/shared" "$T/peer" # a peer: it gets every mount made below $T/shared
check "the peer receives mounts (sanity)" bash -c "mkdir '$T/shared/probe' && mount -t tmpfs none '$T/shared/probe' && mountpoint -q '$T/peer/probe' && umount '$T/shared/probe'"
export BOB_BASEDIR=$T/shared/sandboxes
CFG=$T/config.lua
example_config "$CFG"
SB=$("$BOB" -c "$CFG" sandbox create -n 2 2>"$T/err")
check "create under a shared mount" [ $? = 0 ]
check "the sandbox mounts are there" mountpoint -q "$T/shared/sandboxes/0/usr"
check "none of them appears in the peer" [ -z "$(mounts_under "$T/peer/sandboxes/0")" ]
check "basedir is a private mount" bash -c "awk '\$5==\"$T/shared/sandboxes\"' /proc/self/mountinfo | grep -vq shared:"
"$BOB" -c "$CFG" sandbox destroy -a 2>"$T/err"
check "destroy" [ $? = 0 ]
check "no sandbox mount left" [ -z "$(mounts_under "$T/shared/sandboxes/0")" ]
# basedir stays a private mount (for the next run): the test removes it.
for m in $(mounts_under "$T" | sort -r); do umount "$m"; done
