#!/bin/bash
# Hostile job output: stages that write NUL bytes, invalid UTF-8, terminal
# escape sequences (CSI, OSC, DCS, C1), BEL, backspace, CR and a 1 MiB line
# without a newline, to stdout, to stderr, before failing, and 8 MiB of NULs.
# Each stage log holds exactly those bytes after its "=> <command>" line
# (checksums against the same output made outside the sandbox); the
# `--events -` lines and the `--format json` summary stay valid JSON; the
# plain progress output (stderr, not a terminal) holds no ESC byte.
. "$(dirname "$0")/lib.sh"
CFG=$T/config.lua
mkdir -p "$T/shared"

# The payload: the same script makes it inside the sandbox and outside.
cat >"$T/shared/gen.sh" <<'EOS'
printf 'start\n'
printf 'nul:\000\000:end\000\n'
printf 'bad utf-8: \377\376 \300\200 \355\240\200 \303( \370\210\200\200\200 \364\220\200\200\n'
printf 'csi: \033[2J\033[H\033[31mred\033[0m \033[?1049h \033[6n\n'
printf 'osc: \033]0;title\007 \033]52;c;aGVsbG8=\033\\ dcs: \033P1$r\033\\\n'
printf 'c1: \302\233 31m \233 \302\235 0;t \007 bell \010\010 bs \rcr\r\n'
printf 'lone esc: \033\n'
head -c 1048576 /dev/zero | tr '\0' 'x'
EOS
cat >"$CFG" <<LUA
options = { build_threads = 2, logdir = "$T/logs", keep_logs = true }
sandboxes = {
  basedir = "$BOB_BASEDIR",
  setup = {
$SYSTEM_LUA
    { action = "mount", fs = "dev", dir = "/dev" },
    { action = "mount", fs = "proc", dir = "/proc" },
    { action = "mount", fs = "tmp", dir = "/tmp" },
    { action = "mount", fs = "bind", src = "$T/shared", dest = "/shared", opts = "ro" },
  },
}
jobs = {
  { name = "out", stages = { { name = "emit", run = "sh /shared/gen.sh" } } },
  { name = "err", stages = { { name = "emit", run = "sh /shared/gen.sh >&2" } } },
  { name = "fail", stages = { { name = "emit", run = "sh /shared/gen.sh; exit 3" } } },
  { name = "fail2", stages = { { name = "emit", run = "sh /shared/gen.sh; printf tail; exit 3" } } },
  { name = "flood", run = "head -c 8388608 /dev/zero; sh /shared/gen.sh" },
}
LUA

# expected RUN [CMD...]: the log a stage running RUN should leave: "=> RUN\n" then CMD's output.
expected() {
    local run=$1
    shift
    printf '=> %s\n' "$run"
    "$@"
}
sum() { sha256sum | cut -d' ' -f1; }

"$BOB" -c "$CFG" build --format json --events - >"$T/stdout" 2>"$T/stderr"
rc=$?
check "one job failed: exit 3" [ $rc = 3 ]
[ $rc = 3 ] || diag "$(tail -c 2000 "$T/stderr" | cat -v)"

L=$T/logs
want=$(expected "sh /shared/gen.sh" sh "$T/shared/gen.sh" | sum)
check "stdout log: exactly the bytes written" [ "$(sum <"$L/out/emit.log")" = "$want" ]
want=$(expected "sh /shared/gen.sh >&2" sh "$T/shared/gen.sh" | sum)
check "stderr log: exactly the bytes written" [ "$(sum <"$L/err/emit.log")" = "$want" ]
expected "sh /shared/gen.sh; exit 3" sh "$T/shared/gen.sh" >"$T/fail.want"
size=$(stat -c %s "$T/fail.want")
check "failed stage log: starts with exactly the bytes written" cmp -n "$size" "$T/fail.want" "$L/fail/emit.log"
# The output ends in a line of exactly 1 MiB, 16 times the capture's line
# cut (CAPTURE_LINE_MAX): the status still goes on a line of its own.
check "failed stage log: then the status on a line of its own" \
    bash -c "tail -c +$((size + 1)) '$L/fail/emit.log' | cmp -s - <(printf '\n=> exit code 3\n')"
[ -f "$L/fail/emit.log" ] && diag "failed log ends with: $(tail -c 40 "$L/fail/emit.log" | cat -v | tr '\n' '|')"
expected "sh /shared/gen.sh; printf tail; exit 3" sh "$T/shared/gen.sh" >"$T/fail2.want"
printf 'tail\n=> exit code 3\n' >>"$T/fail2.want"
check "failed stage log ending mid-line: the bytes, then the status on a line of its own" \
    cmp "$T/fail2.want" "$L/fail2/emit.log"
want=$(expected "head -c 8388608 /dev/zero; sh /shared/gen.sh" \
    bash -c "head -c 8388608 /dev/zero; sh '$T/shared/gen.sh'" | sum)
check "8 MiB of NUL bytes, then the payload: logged exactly" [ "$(sum <"$L/flood/build.log")" = "$want" ]
diag "log sizes: $(stat -c '%n %s' "$L"/*/*.log | sed "s|$L/||" | tr '\n' ' ')"

# stdout: the event lines and the summary, every line one JSON object.
check "stdout: every line is valid JSON" python3 -c "
import json, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
assert lines[-1] == b'', 'no newline at the end'
for l in lines[:-1]:
    json.loads(l)
" "$T/stdout"
py() { python3 -c "import json,sys; L=[json.loads(l) for l in open('$T/stdout','rb').read().splitlines()]; $1"; }
check "stdout: the events say out, err and flood succeeded, fail failed" \
    py "f={x['job']:x['status'] for x in L if x.get('event')=='job_finished'}; assert f=={'out':'succeeded','err':'succeeded','flood':'succeeded','fail':'failed','fail2':'failed'}, f"
check "stdout: the last line is the summary" \
    py "s=L[-1]; assert 'event' not in s and sorted(s['succeeded'])==['err','flood','out'] and sorted(s['failed'])==['fail','fail2'], s"
check "stdout: the failure names its stage, log and reason" \
    py "f=[x for x in L[-1]['failures'] if x['job']=='fail'][0]; assert f['job']=='fail' and f['stage']=='emit' and f['log'].endswith('/fail/emit.log') and 'exit code 3' in f['reason'], f"
check "stdout: no control byte outside JSON escapes" bash -c "! LC_ALL=C grep -q \$'[\\x01-\\x08\\x0b-\\x1f\\x7f]' '$T/stdout'"

# stderr: the plain progress lines, without any escape sequence.
check "stderr: the plain progress names the jobs" \
    bash -c "grep -q 'Built out' '$T/stderr' && grep -q 'Failed fail' '$T/stderr'"
check "stderr: no ESC byte" bash -c "! grep -q \$'\\x1b' '$T/stderr'"
check "stderr: no NUL byte" bash -c "! grep -qaP '\\x00' '$T/stderr'"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]

# The text summary and --events FILE: the same with a text summary on stdout.
rm -rf "$T/logs"
"$BOB" -c "$CFG" build --events "$T/events" out fail >"$T/stdout" 2>"$T/stderr"
check "text summary run: exit 3" [ $? = 3 ]
check "events file: every line is valid JSON" python3 -c "
import json, sys
for l in open(sys.argv[1], 'rb').read().splitlines():
    json.loads(l)
" "$T/events"
check "text summary and progress: no ESC byte" bash -c "! grep -q \$'\\x1b' '$T/stdout' '$T/stderr'"
check "text summary names the failed log" grep -qE "Failed fail in emit \(.*\): $T/logs/fail/emit.log$" "$T/stdout"
check "sandboxes destroyed" [ -z "$(ls -A "$BOB_BASEDIR")" ]
