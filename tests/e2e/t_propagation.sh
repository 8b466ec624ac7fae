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

# With either mount API: a private mount at basedir hidden by a shared one
# mounted later above it (basedir's mount is the one its path leads to,
# not the longest mount point), and two first creates at once under a
# shared mount (one isolates basedir, the other finds it done; two binds
# stacked there made sandboxes that no destroy could remove).
for api in new classic; do
    env=""
    [ $api = new ] || env="BOB_NO_NEWMOUNT=1"
    H=$T/h-$api
    mkdir -p "$H/top/sb" "$H/peer"
    mount --bind "$H/top/sb" "$H/top/sb"
    mount --bind "$H/top" "$H/top"
    mount --make-shared "$H/top"
    mount --bind "$H/top" "$H/peer"
    export BOB_BASEDIR=$H/top/sb
    env $env "$BOB" -c "$CFG" sandbox create -n 2 >/dev/null 2>"$T/err"
    check "hidden private mount ($api): create" [ $? = 0 ] || diag "$(cat "$T/err")"
    check "hidden private mount ($api): nothing appears in the peer" [ -z "$(mounts_under "$H/peer/sb/0")$(mounts_under "$H/peer/sb/1")" ]
    env $env "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>"$T/err"
    check "hidden private mount ($api): destroy leaves nothing" \
        [ -z "$(mounts_under "$H/top/sb/0")$(mounts_under "$H/top/sb/1")$(ls -A "$H/top/sb" 2>/dev/null)" ]
    for pass in 1 2 3; do for m in $(mounts_under "$H" | sort -r); do umount "$m" 2>/dev/null; done; done

    R=$T/r-$api
    mkdir -p "$R"
    mount --bind "$R" "$R"
    mount --make-shared "$R"
    export BOB_BASEDIR=$R/sb
    bad=""
    for i in 1 2 3 4 5 6 7 8; do
        env $env "$BOB" -c "$CFG" sandbox create >/dev/null 2>&1 &
        env $env "$BOB" -c "$CFG" sandbox create >/dev/null 2>&1 &
        wait
        env $env "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>"$T/err" || bad="$bad $i:destroy"
        [ -z "$(mounts_under "$R/sb/0")$(mounts_under "$R/sb/1")$(ls -A "$R/sb" 2>/dev/null)" ] || { bad="$bad $i:left"; break; }
        while umount "$R/sb" 2>/dev/null; do :; done
        rm -rf "$R/sb"
    done
    check "two first creates at once ($api), 8 times: each destroy leaves nothing" [ -z "$bad" ] || diag "$bad: $(cat "$T/err")"
    # The lock for that is bob's own: basedir locked by anyone (here nobody, or a
    # build whose logdir is basedir) does not hold a create up.
    mkdir -p "$R/sb" && chmod 755 "$T" "$R" "$R/sb"
    setpriv --reuid=65534 --regid=65534 --clear-groups flock -x -o "$R/sb" sleep 30 &
    holder=$!
    sleep 0.3
    timeout 10 env $env "$BOB" -c "$CFG" sandbox create >/dev/null 2>&1
    check "basedir locked by another user ($api): create goes on" [ $? = 0 ]
    pkill -P $holder sleep 2>/dev/null
    kill $holder 2>/dev/null
    wait $holder 2>/dev/null
    env $env "$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>&1
    while umount "$R/sb" 2>/dev/null; do :; done
    rm -rf "$R/sb"
    cp "$CFG" "$T/logdir-is-basedir.lua"
    printf 'options = { logdir = "%s", dbdir = "%s", tui = false }\njobs = { { name = "a", run = "true" } }\n' \
        "$R/sb" "$T/db-$api" >>"$T/logdir-is-basedir.lua"
    timeout 60 env $env "$BOB" -c "$T/logdir-is-basedir.lua" build >/dev/null 2>"$T/err"
    check "logdir = basedir under a shared mount ($api): the build runs" [ $? = 0 ] || diag "$(tail -3 "$T/err")"
    while umount "$R/sb" 2>/dev/null; do :; done
    rm -rf "$R/sb"
    for pass in 1 2 3; do for m in $(mounts_under "$R" | sort -r); do umount "$m" 2>/dev/null; done; done
    umount "$R" 2>/dev/null
done
