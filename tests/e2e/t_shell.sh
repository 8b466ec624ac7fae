#!/bin/bash
# bob sandbox shell: a dev sandbox with pre-build (bootstrap kit, pkgsrc
# query, hooks), the shell-init wrapper, a shell on a pty, post-build
# (hooks undone in reverse, PREFIX removed inside the sandbox only) and
# destroy, however the shell ends. Also hostile kits and failing hooks.
. "$(dirname "$0")/lib.sh"
plant_host_files
CFG=$T/config.lua
mkdir -p "$T/log" "$T/pkgsrc/pkgtools/pkg_install"
PREFIX=$HOST/data # the guest PREFIX is the path of host files: they must survive
# A stand-in for bmake: answers show-vars like pkgsrc does.
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
    VARBASE) echo /var ;;
    *) echo "value-of-\$v" ;;
  esac
done
EOS
chmod +x "$T/pkgsrc/make"

# The kit: a setuid file owned by 1234:5678, a hard link to it, a symlink.
mkdir -p "$T/kit$PREFIX/bin" "$T/kit$PREFIX/lib"
echo tool >"$T/kit$PREFIX/bin/tool"
chown 1234:5678 "$T/kit$PREFIX/bin/tool" # before chmod: chown clears setuid
chmod 4755 "$T/kit$PREFIX/bin/tool"
ln "$T/kit$PREFIX/bin/tool" "$T/kit$PREFIX/bin/hardlink"
ln -s ../bin/tool "$T/kit$PREFIX/lib/link"
(cd "$T/kit" && tar czf "$T/kit.tgz" --numeric-owner "${PREFIX#/}")

write_cfg() { # BOOTSTRAP HOOKS
cat >"$CFG" <<LUA
pkgsrc = { basedir = "/pkgsrc", make = "/pkgsrc/make", bootstrap = "$1" }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "bind", src = "$T/pkgsrc", dest = "/pkgsrc", opts = "ro" },
    { action = "mount", fs = "bind", src = "$T/log", dest = "/log" },
  },
  hooks = { $2 },
  environment = { dev = { clear = true, vars = { PS1 = "'bob> '", MARK = '"\$bob_prefix/x"' } } },
}
LUA
}
HOOKS='{ action = "cmd", chroot = true, create = "echo h1-create >> /log/trace", destroy = "echo h1-destroy >> /log/trace" },
       { action = "cmd", create = "echo h2-create $bob_prefix >> $bob_sandbox_path/log/trace", destroy = "echo h2-destroy >> $bob_sandbox_path/log/trace" },'
write_cfg "$T/kit.tgz" "$HOOKS"

# Driven through a pty: the script runs commands and exits.
cat >"$T/cmds" <<EOS
echo "id=\$bob_sandbox_id prefix=\$bob_prefix mark=\$MARK" > /log/env
stat -c '%a %u %g %h %i' $PREFIX/bin/tool $PREFIX/bin/hardlink > /log/kit
readlink $PREFIX/lib/link >> /log/kit
test -e /.bob-shell-init && echo init-left > /log/init || echo init-removed > /log/init
exit
EOS
timeout 60 script -qec "'$BOB' -c '$CFG' sandbox shell < '$T/cmds'" "$T/typescript" </dev/null >/dev/null
rc=$?
check "shell through a pty exits 0" [ $rc = 0 ]
[ $rc = 0 ] || diag "$(tail -5 "$T/typescript")"
check "shell-init exports bob_sandbox_id and bob_prefix, dev vars verbatim" \
    [ "$(cat "$T/log/env" 2>/dev/null)" = "id=0 prefix=$PREFIX mark=$PREFIX/x" ]
check "shell-init removed itself" [ "$(cat "$T/log/init" 2>/dev/null)" = init-removed ]
touch "$T/log/kit"
read -r m1 u1 g1 n1 i1 < <(sed -n 1p "$T/log/kit")
read -r _ _ _ _ i2 < <(sed -n 2p "$T/log/kit")
check "kit: setuid mode and owner kept" [ "${m1:-} ${u1:-} ${g1:-}" = "4755 1234 5678" ]
check "kit: the hard link is the same file" [ "${n1:-}" = 2 -a "${i1:-x}" = "${i2:-y}" ]
check "kit: the symlink kept" [ "$(sed -n 3p "$T/log/kit")" = ../bin/tool ]
check "hooks: created in order, undone in reverse" \
    [ "$(cat "$T/log/trace" | tr '\n' ' ')" = "h1-create h2-create $PREFIX h2-destroy h1-destroy " ]
check "the sandbox is gone" [ -z "$(ls -A "$BOB_BASEDIR")" ]
check "PREFIX removed inside the sandbox, the host path with that name intact" host_files_intact

# bob itself signalled while the shell runs: post-build and destroy anyway.
rm -f "$T/log/trace"
mkfifo "$T/fifo"
( "$BOB" -c "$CFG" sandbox shell <"$T/fifo" >/dev/null 2>"$T/err"; echo $? >"$T/rc" ) &
exec 9>"$T/fifo"
echo 'echo started > /log/started; sleep 600' >&9
for i in $(seq 100); do [ -e "$T/log/started" ] && break; sleep 0.1; done
pkill -TERM -f "sandbox shell" 
exec 9>&-
wait
check "SIGTERM during the shell: exit 130" [ "$(cat "$T/rc")" = 130 ]
check "post-build ran" grep -q h1-destroy "$T/log/trace"
check "the sandbox is gone" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# A failing create hook: no shell, pre-build failed, post-build still runs.
rm -f "$T/log/trace"
write_cfg "$T/kit.tgz" '{ action = "cmd", chroot = true, create = "echo h1-create >> /log/trace", destroy = "echo h1-destroy >> /log/trace" },
       { action = "cmd", chroot = true, create = "echo hook-broke >&2; exit 5" },'
echo 'echo entered > /log/entered; exit' | "$BOB" -c "$CFG" sandbox shell >/dev/null 2>"$T/err"
check "a failing hook fails the shell (exit 1)" [ $? = 1 ]
check "the message says pre-build failed, with the hook's status" grep -q "pre-build failed.*exit code 5" "$T/err"
check "the shell never started" [ ! -e "$T/log/entered" ]
check "post-build undid the first hook" grep -q h1-destroy "$T/log/trace"
check "the sandbox is gone" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# Hostile kits write nothing outside the sandbox and fail clearly.
hostile() { # NAME: builds $T/$NAME.tgz with python's tarfile
    python3 - "$T/$1.tgz" "$1" "$T" <<'PY'
import io, sys, tarfile
out, kind, t = sys.argv[1], sys.argv[2], sys.argv[3]
with tarfile.open(out, "w:gz") as tf:
    def add_file(name, data=b"evil\n"):
        ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
    if kind == "dotdot":
        add_file("../../../escaped-dotdot")
    elif kind == "absolute":
        add_file(t + "/escaped-absolute")
    elif kind == "symlink":
        ti = tarfile.TarInfo("sneaky"); ti.type = tarfile.SYMTYPE; ti.linkname = t
        tf.addfile(ti)
        add_file("sneaky/escaped-symlink")
PY
}
for kind in dotdot absolute symlink; do
    hostile $kind
    write_cfg "$T/$kind.tgz" ""
    echo 'echo entered > /log/entered; exit' | "$BOB" -c "$CFG" sandbox shell >/dev/null 2>"$T/err"
    rc=$?
    check "hostile kit ($kind): refused (exit 1)" [ $rc = 1 ]
    check "hostile kit ($kind): the message names the kit" grep -q "pre-build failed.*$kind.tgz" "$T/err"
    [ $rc = 1 ] || diag "$(cat "$T/err")"
    check "hostile kit ($kind): nothing written outside" [ -z "$(find "$T" /tmp -maxdepth 1 -name "escaped-*" 2>/dev/null)" ]
    check "hostile kit ($kind): sandbox gone" [ -z "$(ls -A "$BOB_BASEDIR")" ]
    rm -f "$T/log/entered"
done

# The shell's exit status becomes bob's.
write_cfg "$T/kit.tgz" ""
echo 'exit 4' | "$BOB" -c "$CFG" sandbox shell >/dev/null 2>&1
check "shell: its exit status 4 is bob's" [ $? = 4 ]
check "shell: the sandbox is gone" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# bob sandbox shell ID: an existing sandbox, entered as it is (no pre-build:
# the kit is not unpacked) and left there.
"$BOB" -c "$CFG" sandbox create >/dev/null 2>&1
echo 'echo "id=$bob_sandbox_id" > /log/entered-id; echo mine > /left-here; exit 3' |
    "$BOB" -c "$CFG" sandbox shell 0 >/dev/null 2>"$T/err"
rc=$?
check "shell 0: stdin without a terminal runs, exit status 3 is bob's" [ $rc = 3 ]
[ $rc = 3 ] || diag "$(cat "$T/err")"
check "shell 0: the shell ran in sandbox 0" [ "$(cat "$T/log/entered-id" 2>/dev/null)" = id=0 ]
check "shell 0: the sandbox stays, with what the shell left in it" \
    [ "$(cat "$BOB_BASEDIR/0/left-here" 2>/dev/null)" = mine ]
check "shell 0: still listed" grep -q "$BOB_BASEDIR/0" <("$BOB" -c "$CFG" sandbox list 2>/dev/null)
# Held while the shell runs: another bob cannot destroy it.
rm -f "$T/fifo" "$T/log/started"
mkfifo "$T/fifo"
( "$BOB" -c "$CFG" sandbox shell 0 <"$T/fifo" >/dev/null 2>&1; echo $? >"$T/rc" ) &
exec 9>"$T/fifo"
echo 'echo started > /log/started' >&9
for i in $(seq 100); do [ -e "$T/log/started" ] && break; sleep 0.1; done
"$BOB" -c "$CFG" sandbox destroy 0 >/dev/null 2>"$T/err"
check "shell 0: a destroy meanwhile is refused (exit 1)" [ $? = 1 ]
check "shell 0: it says the sandbox is in use" grep -q "in use" "$T/err"
echo 'exit 0' >&9
exec 9>&-
wait
check "shell 0: the shell then ends (exit 0)" [ "$(cat "$T/rc")" = 0 ]
# Ended from outside while its command runs, then the sandbox is used
# again at once: the kill of the sandbox's command cgroup must not leave
# it behind (a cgroup once killed kills what is cloned into it later).
for round in 1 2; do
    rm -f "$T/fifo" "$T/log/sleeping"
    mkfifo "$T/fifo"
    "$BOB" -c "$CFG" sandbox shell 0 <"$T/fifo" >/dev/null 2>&1 &
    bobpid=$!
    exec 9>"$T/fifo"
    echo 'touch /log/sleeping; sleep 31.5' >&9
    for i in $(seq 100); do [ -e "$T/log/sleeping" ] && break; sleep 0.1; done
    kill -TERM "$bobpid"
    wait "$bobpid"
    exec 9>&-
    "$BOB" -c "$CFG" sandbox run 0 -- /bin/sh -c 'echo ran' >"$T/out" 2>"$T/err"
    rc=$?
    check "shell 0 ended by SIGTERM (round $round): the next run works (exit 0)" \
        [ $rc = 0 ] && [ "$(cat "$T/out")" = ran ]
    [ $rc = 0 ] || diag "$(cat "$T/err")"
    check "shell 0 ended by SIGTERM (round $round): its command is gone" \
        bash -c "! pgrep -f 'sleep 31[.]5' >/dev/null"
done
echo 'exit 0' | "$BOB" -c "$CFG" sandbox shell 7 >/dev/null 2>"$T/err"
check "shell 7: an unknown sandbox is named (exit 1)" bash -c "[ $? = 1 ] && grep -q 'sandbox 7 does not exist' '$T/err'"
"$BOB" -c "$CFG" sandbox shell abc </dev/null >/dev/null 2>"$T/err"
check "shell abc: not a sandbox id (exit 2)" bash -c "[ $? = 2 ] && grep -q 'abc: not a sandbox id' '$T/err'"
"$BOB" -c "$CFG" sandbox destroy -a >/dev/null 2>&1
check "destroy -a after: nothing left" [ -z "$(ls -A "$BOB_BASEDIR")" ]
