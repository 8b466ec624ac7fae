#!/bin/bash
# The manual page, the bash completion and `cmake --install`:
# - doc/bob.1 renders with man(1) without a warning, and names every command
#   of `bob --help`, every option of every `bob COMMAND --help`, and every
#   configuration key the loader knows (the key lists of src/config/*.c);
# - cmake --install puts bob, bob.1 and the completion under a prefix, and
#   the installed bob and man page work;
# - the completion function, driven with COMP_WORDS, completes commands,
#   subcommands, options, job names from the -c config and sandbox ids.
. "$(dirname "$0")/lib.sh"

MAN="$BOB_SOURCE_DIR/doc/bob.1"
COMPLETION="$BOB_SOURCE_DIR/contrib/bash-completion/bob"

# --- the manual page ------------------------------------------------------
warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN" 2>&1 >"$T/man.txt")
if [ -z "$warn" ] && [ -s "$T/man.txt" ]; then
    ok "man -l renders bob.1 without warnings"
else
    not_ok "man -l renders bob.1 without warnings"
    diag "$warn"
fi
# A planted fault must be reported, or the check above proves nothing.
{ cat "$MAN"; echo ".XQ undefined macro"; } >"$T/bad.1"
warn=$(man --warnings -l "$T/bad.1" 2>&1 >/dev/null)
check "man --warnings reports a fault in a page" test -n "$warn"

# man_has WORD: WORD appears in the page's source as a whole word (grep -w),
# with roff's escaped hyphens (\-) read as hyphens.
sed 's/\\-/-/g' "$MAN" >"$T/man.src"
man_has() {
    grep -qwF -e "$1" "$T/man.src"
}

missing=""
commands=$("$BOB" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' | sort -u)
[ -n "$commands" ] || missing="(no command found in bob --help)"
for c in $commands; do man_has "$c" || missing="$missing $c"; done
check "bob.1 names every command of bob --help${missing:+ (missing:$missing)}" test -z "$missing"

missing=""
nopts=0
for c in $("$BOB" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 }
        on && /^  [a-z]/ { if ($1 == "config" || $1 == "sandbox") print $1 "/" $2; else print $1 }' | sort -u); do
    # shellcheck disable=SC2046
    for o in $("$BOB" ${c/\// } --help 2>&1 | grep -oE '(^|[ [,])--?[a-zA-Z][a-z-]*' | sed 's/^[ [,]//' | sort -u); do
        nopts=$((nopts + 1))
        man_has "$o" || missing="$missing $c:$o"
    done
done
for o in $("$BOB" --help | grep -oE '(^|[ [,])--?[a-zA-Z][a-z-]*' | sed 's/^[ [,]//' | sort -u); do
    nopts=$((nopts + 1))
    man_has "$o" || missing="$missing $o"
done
diag "$nopts options checked"
check "bob.1 names every option of every command${missing:+ (missing:$missing)}" \
    test -z "$missing" -a "$nopts" -gt 20

# Every key in the loader's lists of accepted keys and values
# (static const char *const keys[] = {...}, known[], mount[], levels[]...;
# not the lists of legacy keys it rejects, nor Lua's reserved words).
keys=$(cat "$BOB_SOURCE_DIR"/src/config/*.c | tr '\n' ' ' |
    grep -oE 'static const char \*const [a-z_]+\[\] = \{[^}]*\}' |
    grep -vE 'const (legacy|top|sandboxes|environment|pkgsrc|publish|names|reserved)\[' |
    grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
missing=""
for k in $keys; do man_has "$k" || missing="$missing $k"; done
diag "$(echo "$keys" | wc -w) configuration keys checked"
check "bob.1 names every configuration key${missing:+ (missing:$missing)}" \
    test -z "$missing" -a "$(echo "$keys" | wc -w)" -gt 40

# --- cmake --install ------------------------------------------------------
if cmake --install "$BOB_BINARY_DIR" --prefix "$T/inst" >"$T/install.log" 2>&1; then
    ok "cmake --install into a prefix"
else
    not_ok "cmake --install into a prefix"
    diag "$(cat "$T/install.log")"
fi
check "installed: bin/bob runs" "$T/inst/bin/bob" --version
check "installed: share/man/man1/bob.1 is the page" cmp "$MAN" "$T/inst/share/man/man1/bob.1"
check "installed: man finds the page under the prefix" \
    sh -c "MANPATH='$T/inst/share/man' man -w bob | grep -qx '$T/inst/share/man/man1/bob.1'"
check "installed: the bash completion" \
    cmp "$COMPLETION" "$T/inst/share/bash-completion/completions/bob"

# --- the completion -------------------------------------------------------
mkdir -p "$T/bin"
ln -s "$BOB" "$T/bin/bob"
cat >"$T/c.lua" <<LUA
sandboxes = { basedir = "$BOB_BASEDIR", setup = { $SYSTEM_LUA } }
jobs = {
  { name = "zlib", run = "true" },
  { name = "hello-world", depends = { "zlib" },
    stages = { { name = "configure", run = "true" }, { name = "make", run = "true" } } },
}
LUA
"$BOB" -c "$T/c.lua" sandbox create -n 2 >/dev/null 2>&1

# complete WORD...: runs _bob on the words (the last one is being typed)
# and prints the candidates, sorted, on one line.
complete_words() {
    PATH="$T/bin:$PATH" bash -c '
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _bob
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$COMPLETION" "$@"
}
expect() {
    local want=$1 got
    shift
    got=$(complete_words "$@")
    if [ "$got" = "$want" ]; then
        ok "complete '$*' -> $want"
    else
        not_ok "complete '$*' -> $want"
        diag "got: '$got'"
    fi
}
expect "build " bob bui
expect "sandbox scan status " bob s
expect "check show " bob config ""
expect "create " bob sandbox cr
expect "--dry-run " bob build --dr
expect "--count " bob sandbox create --co
expect "hello-world zlib " bob -c "$T/c.lua" build ""
expect "hello-world " bob --config="$T/c.lua" log he
expect "0 1 " bob -c "$T/c.lua" sandbox destroy ""
expect "0 1 " bob -c "$T/c.lua" sandbox run ""
expect "0 1 " bob -c "$T/c.lua" sandbox shell ""
expect "csv " bob status -f c
expect "json lua " bob config show --format ""
expect "--verbose --version " bob --ver

"$BOB" -c "$T/c.lua" sandbox destroy -a >/dev/null 2>&1
check "the sandboxes are gone" test -z "$(ls -A "$BOB_BASEDIR" 2>/dev/null)"
