# tmux helpers for the terminal tests (t_*_tty.sh), sourced by them: one
# tmux server of their own, a session "t" running a plain bash in DIR.
#
#   tmux_start DIR WIDTH HEIGHT   starts it (exit 77, skip, without tmux)
#   pane, pane_has RE             the screen, and a line of it matching RE
#   wait_for SECONDS CMD...       until CMD succeeds (then CMD once more)
#   wait_pane SECONDS RE, flag_is FLAG VALUE, wait_flag SECONDS FLAG VALUE
#   type_line TEXT                types TEXT and Enter
#   stty_check                    asks the shell for the modes the next
#                                 program sees: "isig icanon echo" when restored
#                                 (STTY_CMD prints them, stty_seen checks them)
#   restored                      main screen and cursor visible
#   tcheck DESC CMD...            lib.sh's check, with the screen on failure
# The caller kills the server at exit: tm kill-server.

if ! command -v tmux >/dev/null 2>&1; then
    echo "1..0 # SKIP tmux is not installed"
    exit 77
fi
unset TMUX
TMUX_SOCK=bobtty$$
tm() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }

tmux_start() {
    tm new-session -d -x "$2" -y "$3" -s t -c "$1" "env PS1='$ ' HISTFILE=/dev/null bash --norc --noprofile" || {
        echo "1..0 # SKIP tmux cannot start a session"
        exit 77
    }
    tm set-option -g status off >/dev/null
    wait_pane 5 '^\$ ?$' >/dev/null
}

pane() { tm capture-pane -p -t t; }
pane_has() { pane | grep -qE -- "$1"; }
wait_for() {
    local i tenths=$(($1 * 10))
    shift
    for i in $(seq $tenths); do
        "$@" 2>/dev/null && return 0
        sleep 0.1
    done
    "$@"
}
wait_pane() { wait_for "$1" pane_has "$2"; }
flag_is() { [ "$(tm display -p -t t "#{$1}")" = "$2" ]; }
wait_flag() { wait_for "$1" flag_is "$2" "$3"; }
type_line() { tm send-keys -t t -l "$1" && tm send-keys -t t Enter; }

# An interactive bash keeps the modes a job left when it exited normally (it
# restores its own only after a job was killed by a signal), so this sees
# what the program before left.
STTY_CMD="stty -a | tr ' ;' '\n\n' | grep -xE -e '-?(isig|icanon|echo)' | tr '\n' ' '; echo STTY-\$((1+1))"
stty_seen() { wait_pane 5 'STTY-2$' && pane_has '^isig icanon echo STTY-2$'; }
stty_check() {
    type_line "$STTY_CMD"
    stty_seen
}
restored() { flag_is alternate_on 0 && flag_is cursor_flag 1; }
tcheck() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; pane | sed 's/^/#   |/'; fi
}
