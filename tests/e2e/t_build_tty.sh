#!/bin/bash
# bob build's live display on a real terminal (tmux): the rows appear, 'v'
# shows the running jobs' output, the terminal is restored after the end
# and after Ctrl+C twice, and nothing is left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"
trap 'tm kill-server >/dev/null 2>&1; _finish' EXIT

CFG=$T/config.lua
cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs" }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
  },
}
local talk = 'i=0; while [ \$i -lt \${N:-15} ]; do echo "line \$i of \$JOB"; i=\$((i+1)); sleep 0.2; done'
jobs = {
  { name = "alpha", env = { JOB = "alpha" }, stages = { { name = "configure", run = talk } } },
  { name = "beta", env = { JOB = "beta" }, run = talk },
  { name = "gamma", depends = { "alpha" }, env = { JOB = "gamma" }, run = talk },
}
LUA

tmux_start "$T" 110 30

type_line "'$BOB' -c '$CFG' build; echo BUILD-EXIT=\$?"
tcheck "a row per sandbox appears" wait_pane 10 '^  \[ [0-9]+: +[0-9.]+s \] alpha \(configure\)'
tcheck "the status row appears" pane_has '^    Building \[[ =>]*\] [0-9]/3 '
tm send-keys -t t v
tcheck "'v' switches to the panel view" wait_for 3 flag_is alternate_on 1
tcheck "the panel view shows the jobs' output" wait_pane 5 'line [0-9]+ of (alpha|beta)'
tm send-keys -t t v
tcheck "'v' again returns" wait_for 3 flag_is alternate_on 0
tcheck "the build ends with status 0" wait_pane 30 '^BUILD-EXIT=0$'
tcheck "finished jobs are listed above" pane_has '^ +Built gamma \('
tcheck "the summary is printed" pane_has '^3 jobs in .*: 3 succeeded, 0 failed, 0 skipped$'
tcheck "after the end: cursor visible, main screen" restored
tcheck "after the end: icanon, echo and isig on" stty_check

type_line "clear"
wait_pane 5 '^\$ ?$' >/dev/null
type_line "N=100 '$BOB' -c '$CFG' build --all; echo BUILD-EXIT=\$?"
wait_pane 10 '^  \[ [0-9]+: +[0-9.]+s \] (alpha|beta) ' >/dev/null
tm send-keys -t t C-c
tcheck "Ctrl+C: the stopping note" wait_pane 5 'stopping, \^C again to stop now'
sleep 0.3
tm send-keys -t t C-c
tcheck "a second Ctrl+C: exit 130" wait_pane 15 '^BUILD-EXIT=130$'
tcheck "after Ctrl+C: cursor visible, main screen" restored
tcheck "after Ctrl+C: icanon, echo and isig on" stty_check
tcheck "no process left in the sandboxes" [ -z "$(procs_under "$BOB_BASEDIR")" ]
tcheck "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# With the durations of the first build: counts and an ETA in the status
# row; Built in green on a terminal, no colour at all with NO_COLOR.
no_lines_back() { ! pane | grep -q 'lines back'; }
green_in_pane() { tm capture-pane -e -p -t t | grep -q $'\e\\[32m'; }
type_line "clear"
wait_pane 5 '^\$ ?$' >/dev/null
type_line "'$BOB' -c '$CFG' build --all; echo BUILD-EXIT=\$?"
tcheck "with history: the status row counts the running jobs and has an ETA" \
    wait_pane 10 '^    Building \[[ =>]*\] [0-9]/3 [0-9.]+s  .*[0-9] running, ETA [0-9]'
tcheck "with history: the build ends with status 0" wait_pane 30 '^BUILD-EXIT=0$'
tcheck "on a terminal: Built is green" green_in_pane
type_line "clear"
wait_pane 5 '^\$ ?$' >/dev/null
type_line "NO_COLOR=1 N=2 '$BOB' -c '$CFG' build --all; echo BUILD-EXIT=\$?"
tcheck "NO_COLOR: the build ends with status 0" wait_pane 30 '^BUILD-EXIT=0$'
tcheck "NO_COLOR: Built is there" pane_has '^ +Built gamma \('

tcheck "NO_COLOR: no colour anywhere" eval '! green_in_pane'
tcheck "sandboxes destroyed after them" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# A job that redraws one line with \r (a download's progress): the 'v'
# view follows it to its latest state.
cat >"$T/cr.lua" <<LUA
options = { build_threads = 1, logdir = "$T/logs" }
sandboxes = { basedir = "$BOB_BASEDIR", setup = {
$SYSTEM_LUA
} }
jobs = { { name = "fetch", run = 'i=0; while [ \$i -lt 80 ]; do printf "\\rdownloading %d%%" \$i; i=\$((i+1)); sleep 0.1; done; echo' } }
LUA
type_line "clear"
wait_pane 5 '^\$ ?$' >/dev/null
type_line "'$BOB' -c '$T/cr.lua' build; echo BUILD-EXIT=\$?"
wait_pane 10 '^  \[ [0-9]+: +[0-9.]+s \] fetch' >/dev/null
tm send-keys -t t v
tcheck "CR progress: the panel shows its latest state, past the first 512 bytes" \
    wait_pane 15 'downloading (6|7)[0-9]%'
no_early_state() { ! pane | grep -q 'downloading 1%'; }
tcheck "CR progress: one line, not the earlier states" no_early_state
tm send-keys -t t v
tcheck "CR progress: the build ends with status 0" wait_pane 20 '^BUILD-EXIT=0$'

# 'q' asks to stop as Ctrl+C does: once stops, twice kills.
type_line "clear"
wait_pane 5 '^\$ ?$' >/dev/null
type_line "N=100 '$BOB' -c '$CFG' build --all; echo BUILD-EXIT=\$?"
tcheck "q: the hint names it" wait_pane 10 "\(press 'v' to toggle panel view, 'q' to stop\)"
# The view: Tab selects a panel (double border), PgUp scrolls it back.
tm send-keys -t t v
tcheck "view: its own key hint" wait_pane 5 'Tab/arrows: panel, PgUp/PgDn: scroll, v: back'
tcheck "view: enough output to scroll" wait_pane 15 'line 3[0-9] of (alpha|beta)'
tm send-keys -t t Tab
tcheck "view: Tab selects a panel" wait_pane 5 '^\+= \['
tm send-keys -t t PPage
tcheck "view: PgUp scrolls it back" wait_pane 5 '^\+= \[.*lines back'
tm send-keys -t t NPage
tcheck "view: PgDn back to the newest" wait_for 5 no_lines_back
tm send-keys -t t v
tcheck "view: v leaves it" wait_for 3 flag_is alternate_on 0
tm send-keys -t t q
tcheck "q: the stopping note" wait_pane 5 'stopping, \^C again to stop now'
sleep 0.3
tm send-keys -t t q
tcheck "q twice: exit 130" wait_pane 15 '^BUILD-EXIT=130$'
tcheck "after q: cursor visible, main screen" restored
tcheck "after q: sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]
