#!/bin/bash
# The live progress display on a real terminal: tests/progress_demo (a
# scripted fake build) runs inside tmux. Rows and the status row appear,
# 'v' shows the panel view with output and 'v' again returns, a resize
# redraws cleanly, finished lines stay above, and after the end, after
# Ctrl+C twice and after Ctrl+C in the panel view the terminal is restored
# (icanon, echo and isig on, cursor visible, main screen). Without a
# terminal the output has no escape sequence. Needs no root; TAP output.

. "$(dirname "$0")/tmux.sh"
DEMO=${BOB_BINARY_DIR:-build}/tests/progress_demo
if [ ! -x "$DEMO" ]; then
    echo "1..0 # SKIP $DEMO is not built"
    exit 77
fi

TMP=$(mktemp -d)
cleanup() {
    tm kill-server >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT

n=0
failed=0
# check DESCRIPTION COMMAND...: one TAP line; the screen as comments on failure.
check() {
    local desc=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        failed=1
        tm capture-pane -p -t t 2>/dev/null | sed 's/^/#   |/'
        echo "#   alternate_on cursor_flag: $(tm display -p -t t '#{alternate_on} #{cursor_flag}' 2>/dev/null)"
    fi
}

# Exactly one status row and one row of slot 1: no stale rows from bad cursor moves.
one_region() {
    [ "$(pane | grep -cE '^ +Building \[')" = 1 ] && [ "$(pane | grep -cE '^  \[ 1: ')" = 1 ]
}
no_row_wider() { ! pane | grep -qE "^.{$1}"; }
region_gone() { ! pane | grep -qE '^  \[ [0-9]: |^ +Building \['; }
status_at_bottom() { [ "$(pane | tail -n 1 | cut -c1-14)" = "    Building [" ]; }
no_escape() { ! grep -q $'\x1b' "$1"; }
plain_lines() {
    grep -qx '\[0/7\] Building zlib-1\.3\.1' "$TMP/err" &&
        grep -qxE '\[[0-9]/7\]   Failed bc-1\.07\.1 \(build, [0-9.]+s\)' "$TMP/err" &&
        grep -qxE '\[[0-9]/7\]  Skipped dc-tools-2\.0 \(depends on bc-1\.07\.1\)' "$TMP/err" &&
        grep -qx 'demo: built 4, failed 1, skipped 2' "$TMP/out"
}

ROW1='^  \[ 1: +[0-9.]+s \] zlib-1\.3\.1 \((configure|build|install)\)$'
STATUS='^    Building \[[ =>]+\] [0-9]/7 [0-9.]+s  ([0-9][a-z0-9 ,]*  )?\(press .v. to toggle panel view, .q. to stop\)$'

tmux_start "$TMP" 100 30

# 1. A normal run: rows, the panel view, back, a resize, the end.
type_line "$DEMO 1.5; echo DEMO-EXIT=\$?"
check "the slot rows appear" wait_pane 5 "$ROW1"
check "the status row appears with the key hint" pane_has "$STATUS"
check "a warning is printed above the region" pane_has '^Warning: this is a fake build of 7 jobs$'
check "the cursor is hidden while the region is up" flag_is cursor_flag 0
tm send-keys -t t v
check "'v' switches to the alternate screen" wait_flag 3 alternate_on 1
check "'v' shows a panel per running job" wait_pane 3 '^\+- \[1\] zlib-1\.3\.1 \([a-z]+\) [0-9.]+s -+\+$'
check "the panels show fake output lines" wait_for 3 \
    pane_has '^\|(fake output line [0-9]+ of|[a-z]+: checking for feature [0-9]+\.\.\. +yes)'
check "the panel view has the status row at the bottom" status_at_bottom
tm send-keys -t t v
check "'v' again returns to the main screen" wait_flag 3 alternate_on 0
check "the rows are back" wait_pane 3 "$ROW1"
tm resize-window -t t -x 60 -y 30
check "after narrowing to 60 columns no line is 60 wide" wait_for 3 no_row_wider 60
check "after narrowing there is still exactly one region" one_region
tm resize-window -t t -x 100 -y 30
check "the demo ends by itself with status 0" wait_pane 30 '^DEMO-EXIT=0$'
check "finished lines stay above: Built" pane_has '^       Built zlib-1\.3\.1 \([0-9.]+s\)$'
check "finished lines stay above: Failed" pane_has '^      Failed bc-1\.07\.1 \(build, [0-9.]+s\)$'
check "finished lines stay above: Skipped" \
    pane_has '^     Skipped dc-tools-2\.0 \(depends on bc-1\.07\.1\)$'
check "the region is erased at the end" region_gone
check "after the end: cursor visible, main screen" restored
check "after the end: icanon, echo and isig are on" stty_check

# 2. Ctrl+C once (stopping note), then again (shutdown).
type_line "clear"
wait_pane 5 '^\$ ?$' >/dev/null
type_line "$DEMO 3; echo DEMO-EXIT=\$?"
wait_pane 5 "$ROW1" >/dev/null
tm send-keys -t t C-c
check "Ctrl+C reaches the run state: the stopping note" \
    wait_pane 3 '^    Building \[.*\(stopping, \^C again to stop now\)$'
sleep 0.3
tm send-keys -t t C-c
check "a second Ctrl+C stops now: exit 130" wait_pane 10 '^DEMO-EXIT=130$'
check "the running jobs are reported interrupted" \
    pane_has '^      Failed zlib-1\.3\.1 \(interrupted, [0-9.]+s\)$'
check "after Ctrl+C: cursor visible, main screen" restored
check "after Ctrl+C: icanon, echo and isig are on" stty_check

# 3. Ctrl+C twice while the panel view is up.
type_line "clear"
wait_pane 5 '^\$ ?$' >/dev/null
type_line "$DEMO 3; echo DEMO-EXIT=\$?"
wait_pane 5 "$ROW1" >/dev/null
tm send-keys -t t v
wait_flag 3 alternate_on 1
tm send-keys -t t C-c
sleep 0.3
tm send-keys -t t C-c
check "Ctrl+C in the panel view stops the demo" wait_pane 10 '^DEMO-EXIT=130$'
check "after Ctrl+C in the panel view: cursor visible, main screen" restored
check "after Ctrl+C in the panel view: icanon, echo and isig are on" stty_check

# 4. Bad ends: abort(), an invalid write in the panel view, exit() from a
# callback. The modes are read by the same non-interactive shell that ran
# the demo, before the interactive one could restore anything.
cat >"$TMP/bad.sh" <<EOF
ulimit -c 0
"\$1" 1 "\$2"
echo "DEMO-EXIT=\$?"
$STTY_CMD
EOF
for how in abort segv exit; do
    type_line "clear"
    wait_pane 5 '^\$ ?$' >/dev/null
    type_line "sh $TMP/bad.sh $DEMO $how"
    wait_pane 5 "$ROW1" >/dev/null
    if [ $how = segv ]; then
        tm send-keys -t t v
        wait_flag 3 alternate_on 1
    fi
    check "$how: the demo ends with a failure status" wait_pane 10 '^DEMO-EXIT=[1-9][0-9]*$'
    check "$how: cursor visible, main screen" restored
    check "$how: icanon, echo and isig are on" stty_seen
done

# 5. Without a terminal: plain lines, no escape byte.
"$DEMO" 0.2 </dev/null >"$TMP/out" 2>"$TMP/err"
check "plain mode: the demo ends with status 0" [ $? = 0 ]
check "plain mode: no escape byte" no_escape "$TMP/err"
check "plain mode: start and finish lines" plain_lines

echo "1..$n"
exit $failed
