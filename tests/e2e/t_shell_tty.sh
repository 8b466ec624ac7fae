#!/bin/bash
# bob sandbox shell on a real terminal (tmux): the shell runs in its own
# session on a pty of the sandbox's own devpts, relayed to the terminal.
# `tty` names it, the window size is the terminal's and follows a resize,
# Ctrl+C stops the command in the shell (not bob), and after `exit` the
# sandbox is gone and the terminal's settings are exactly as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"
trap 'tm kill-server >/dev/null 2>&1; _finish' EXIT

CFG=$T/config.lua
cat >"$CFG" <<LUA
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
  },
  environment = { dev = { clear = true, vars = { PS1 = "'bob> '" } } },
}
LUA

tmux_start "$T" 110 30

type_line "stty -g >'$T/stty.before'; '$BOB' -c '$CFG' sandbox shell; echo SHELL-EXIT=\$?; stty -g >'$T/stty.after'"
tcheck "the shell starts" wait_pane 10 '^bob>'
type_line 'tty; stty size'
tcheck "tty names a pty of the sandbox's devpts" wait_pane 5 '^/dev/pts/[0-9]+$'
tcheck "the window size is the terminal's" wait_pane 5 '^30 110$'
tm resize-window -t t -x 90 -y 25 >/dev/null 2>&1
sleep 0.3
type_line 'stty size'
tcheck "a resize reaches the shell" wait_pane 5 '^25 90$'
type_line 'sleep 100'
sleep 0.5
tm send-keys -t t C-c
type_line 'echo AFTER-$((2+2))'
tcheck "Ctrl+C stops the command in the shell; bob goes on" wait_pane 5 '^AFTER-4$'
# A paste of 20,000 bytes at once (more than the relay and the pty take in
# one go), then Enter and Ctrl+D: every byte arrives, in order.
type_line 'cat > /paste'
python3 -c "print('\n'.join('%03d' % i + 'x' * 96 for i in range(200)))" >"$T/paste"
tm load-buffer "$T/paste"
tm paste-buffer -t t
tm send-keys -t t Enter C-d
type_line 'wc -c < /paste; md5sum < /paste'
tcheck "a long paste arrives whole" wait_pane 10 '^20001$'
tcheck "... and in order" pane_has "^$( (cat "$T/paste"; echo) | md5sum | cut -d' ' -f1)"
type_line 'exit'
tcheck "the shell ends and bob exits 0" wait_pane 15 '^SHELL-EXIT=0$'
wait_for 5 test -s "$T/stty.after"
check "the terminal's settings are exactly as before" cmp -s "$T/stty.before" "$T/stty.after"
check "the sandbox is gone" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]

# bob itself signalled while the shell runs on the pty: the shell is
# killed, the sandbox destroyed, exit 130, the terminal as before.
rm -f "$T/stty.after"
tm send-keys -t t C-l
type_line "'$BOB' -c '$CFG' sandbox shell; echo SHELL-EXIT=\$?; stty -g >'$T/stty.after'"
tcheck "the second shell starts" wait_pane 10 '^bob>'
type_line 'sleep 600'
sleep 0.5
pkill -TERM -f "sandbox shell"
tcheck "SIGTERM to bob: exit 130" wait_pane 15 '^SHELL-EXIT=130$'
wait_for 5 test -s "$T/stty.after"
check "after SIGTERM the terminal's settings are as before" cmp -s "$T/stty.before" "$T/stty.after"
check "after SIGTERM the sandbox is gone" [ -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)" ]
