--[[
  pkgsrc.lua: the pkgsrc job generator.

  When a configuration has pkgsrc.pkgpaths but no `jobs`, the loader calls
  jobs(pkgsrc) below and parses the result exactly like a `jobs` list written
  by hand: one job per pkgpath (named after it, e.g. "devel/gmake"), whose
  stages are bob's per-package sequence as shell commands.  Each stage runs
  as `/bin/sh -ceu <run>` inside the sandbox; the commands use the bob_*
  variables of the sandbox environment: $bob_make, $bob_pkgsrc, and
  $bob_pkg_dbdir, $bob_packages, $bob_pkgtools, which bob knows only with a
  bootstrap kit; without one, the stages that need them take them from the
  show-vars they run anyway (PKG_DBDIR, PACKAGES, PKG_TOOLS_BIN).  Every
  make call is

      "$bob_make" -C "$bob_pkgsrc/<pkgpath>" <targets> BATCH=1 DEPENDS_TARGET=/nonexistent

  The stages, in order:

    pre-clean   make clean; a failure is ignored.
    depends     installs the binary packages of the dependencies: make
                show-vars of _ALL_DEPENDS (the list pbulk-index reports as
                ALL_DEPENDS: bootstrap, tool, build and run-time
                dependencies, as "pattern:dir"), then one
                `pkg_add -K $bob_pkg_dbdir <patterns>` with
                PKG_PATH=$bob_packages/All (pkg_add also brings in their
                own run-time dependencies).  Nothing to do when the list is
                empty.
    checksum    make checksum (fetches the distfiles when needed).
    usergroup   when USERGROUP_PHASE is set: make create-usergroup clean,
                as root (build_user cannot create users).
    configure   make configure      } run as pkgsrc.build_user when it is
    build       make all            } set (src/sandbox/build.c applies it
    install     make stage-install  } by stage name)
    package     make stage-package-create, then, unless BOOTSTRAP_PKG=yes,
                pkg_add -K $bob_pkg_dbdir <STAGE_PKGFILE>.
    deinstall   unless BOOTSTRAP_PKG=yes: pkg_delete -K $bob_pkg_dbdir
                <PKGNAME>.
    copy        copies STAGE_PKGFILE to $bob_packages/All (a temporary name,
                then a rename, so that a concurrent pkg_add never sees half a
                file).
    clean       make clean; a failure is ignored.

  PACKAGES: bob copies the package file to PACKAGES/All on the host side.
  Here the copy runs inside the sandbox, so PACKAGES (the value of
  $bob_packages inside the sandbox) must be a WRITABLE bind mount of the
  host's package directory (the bundled configs bind pkgsrc read-write at
  the same path, and PACKAGES defaults to <pkgsrc>/packages), and every
  sandbox must see the same directory: later jobs install their dependencies
  from it.

  Dependencies between jobs: bob learns them from a scan (`bmake
  pbulk-index` of every package).  There is no scan here; instead the
  generator reads the pkgsrc tree on the host at pkgsrc.basedir (the same
  path as inside the sandbox, as in the bundled configs) and makes a job
  depend on another listed pkgpath when its Makefile refers to it:
    - `.include "../../cat/pkg/buildlink3.mk"`, directly or through other
      included files (options.mk, Makefile.common, other packages' *.mk
      and the buildlink3.mk files of packages that are not listed);
    - "pattern:../../cat/pkg" in DEPENDS, BUILD_DEPENDS, TOOL_DEPENDS or
      BOOTSTRAP_DEPENDS.
  This is a textual approximation: conditionals are not evaluated (an
  include under `.if` counts), paths built from variables, USE_TOOLS and
  the infrastructure in mk/ are not seen.  The edges only order and skip
  jobs: a missed one makes the depends stage fail (the package is not in
  PACKAGES yet), an extra one delays a job or skips it when the other
  fails.  When the tree is not readable on the host there are no edges and
  the pkgpaths run in the order given (with build_threads = 1).  An edge
  that would close a cycle is dropped with a warning.  Each file is read
  once; a walk that takes more than about 4 s (the loader allows a config
  10 s) is abandoned with a warning, and then there are no edges at all.
  For a list of the whole tree (20000 pkgpaths) the walk and the jobs take
  2 to 3 s of CPU.

  What differs from bob:
    - no scan: no MULTI_VERSION variables (each package builds with its
      default versions), no PKG_SKIP_REASON/PKG_FAIL_REASON checks, no
      up-to-date check (every listed package is rebuilt), and dependencies
      that are not listed are not added to the build: their binary packages
      must already be in PACKAGES/All;
    - the dependency patterns are given to pkg_add as they are (pkg_add
      picks the best match in PKG_PATH) instead of the package names a
      scan resolves;
    - create-usergroup runs in its own stage before configure for every
      USERGROUP_PHASE (bob runs it just before the phase named);
    - the package file is copied from inside the sandbox (see PACKAGES);
    - the dependency list, USERGROUP_PHASE, STAGE_PKGFILE, PKGNAME and
      BOOTSTRAP_PKG are asked of make by the stages that need them (one
      show-vars in each of depends, usergroup, package, deinstall and copy)
      instead of coming from the scan: five more make runs per package;
    - after a failure there is no final `make clean`, no copy of
      WRKDIR/.work.log or of save_wrkdir_patterns, and no WRKDIR size
      (du -sk): the job's stages end at the failed one;
    - no WRKOBJDIR or MAKE_JOBS from `dynamic` (set MAKE_JOBS in
      sandboxes.environment.build.vars).
]]

local M = {}

local type, ipairs, tostring, error = type, ipairs, tostring, error
local concat = table.concat
local open = io.open
local find, match, gmatch, gsub, format, sub, byte =
    string.find, string.match, string.gmatch, string.gsub, string.format, string.sub, string.byte
local time = os.time

-- One pkgpath component: the characters job names allow.
local COMPONENT = "[%w%._%+%-]+"

-- Why s is not a usable pkgpath, or nil.
local function pkgpath_error(s)
    if s == "" then
        return "empty"
    end
    local cat, pkg = match(s, "^(" .. COMPONENT .. ")/(" .. COMPONENT .. ")$")
    if not cat then
        if find(s, "^[^/]+/[^/]+$") then
            return "only letters, digits, '.', '_', '+' and '-' are allowed"
        end
        return "must be of the form category/package"
    end
    if cat == "." or cat == ".." or pkg == "." or pkg == ".." then
        return "'.' and '..' are not package paths"
    end
    return nil
end

--[[
  The stage scripts are templates made once, in which @PKGPATH@ stands for
  the pkgpath (whose characters are all safe in a shell word): a job costs
  one table.concat per stage, which matters for lists of the whole tree.
]]

-- The make command for targets in the package directory, with bob's flags
-- (pkg_make_args).
local function make(targets)
    return '"$bob_make" -C "$bob_pkgsrc/@PKGPATH@" ' .. targets
        .. " BATCH=1 DEPENDS_TARGET=/nonexistent"
end

--[[
  Shell lines that ask make for the variables in names (blank-separated, in
  one show-vars) and set "$@" to the answer, split into words: the first
  `required` of them must be single non-empty words, the last may be a list
  or empty.  Without a bootstrap kit bob does not know PKG_DBDIR, PACKAGES
  and PKG_TOOLS_BIN, so the stages that need them ask for them here too.
]]
local function ask(names, required)
    return "vars=$(" .. make("show-vars VARNAMES='" .. names .. "'") .. ")\n"
        .. "set -- $vars\n"
        .. "[ $# -ge " .. required .. ' ] || { echo "bob: cannot get ' .. names
        .. ' from pkgsrc: $vars" >&2; exit 1; }'
end

-- Joins shell lines into one script.
local function script(lines)
    return concat(lines, "\n")
end

local IGNORED = " || echo 'bob: make clean failed (ignored)'"

-- The stages (see the top of this file): { name, template }.
local TEMPLATES = {
    { "pre-clean", make("clean") .. IGNORED },
    { "depends", script({
        "set -f",
        ask("PKG_DBDIR PACKAGES PKG_TOOLS_BIN _ALL_DEPENDS", 3),
        "bob_pkg_dbdir=${bob_pkg_dbdir:-$1} bob_packages=${bob_packages:-$2} bob_pkgtools=${bob_pkgtools:-$3}",
        "shift 3",
        'if [ $# -eq 0 ]; then echo "bob: no dependencies"; exit 0; fi',
        "patterns=",
        'for dep; do patterns="$patterns ${dep%%:*}"; done',
        'PKG_PATH="$bob_packages/All" "$bob_pkgtools/pkg_add" -K "$bob_pkg_dbdir" $patterns',
    }) },
    { "checksum", make("checksum") },
    { "usergroup", script({
        "phase=$(" .. make("show-var VARNAME=USERGROUP_PHASE") .. ")",
        'if [ -z "$phase" ]; then echo "bob: no USERGROUP_PHASE: nothing to do"; exit 0; fi',
        make("create-usergroup clean"),
    }) },
    { "configure", make("configure") },
    { "build", make("all") },
    { "install", make("stage-install") },
    { "package", script({
        "set -f",
        make("stage-package-create"),
        ask("PKG_DBDIR PKG_TOOLS_BIN STAGE_PKGFILE BOOTSTRAP_PKG", 3),
        "bob_pkg_dbdir=${bob_pkg_dbdir:-$1} bob_pkgtools=${bob_pkgtools:-$2} pkgfile=$3",
        'case ${4:-} in [Yy][Ee][Ss]) echo "bob: BOOTSTRAP_PKG=yes: not installed"; exit 0 ;; esac',
        '"$bob_pkgtools/pkg_add" -K "$bob_pkg_dbdir" "$pkgfile"',
    }) },
    { "deinstall", script({
        "set -f",
        ask("PKG_DBDIR PKG_TOOLS_BIN PKGNAME BOOTSTRAP_PKG", 3),
        "bob_pkg_dbdir=${bob_pkg_dbdir:-$1} bob_pkgtools=${bob_pkgtools:-$2} pkgname=$3",
        'case ${4:-} in [Yy][Ee][Ss]) echo "bob: BOOTSTRAP_PKG=yes: not deinstalled"; exit 0 ;; esac',
        '"$bob_pkgtools/pkg_delete" -K "$bob_pkg_dbdir" "$pkgname"',
    }) },
    -- bob copies on the host; here PACKAGES must be a writable bind mount.
    { "copy", script({
        "set -f",
        ask("PACKAGES STAGE_PKGFILE", 2),
        "bob_packages=${bob_packages:-$1} pkgfile=$2",
        'dest=$bob_packages/All file=${pkgfile##*/}',
        'mkdir -p "$dest" && cp "$pkgfile" "$dest/.$file.$$" && mv -f "$dest/.$file.$$" "$dest/$file" || {',
        '    rm -f "$dest/.$file.$$"',
        '    echo "bob: cannot copy $pkgfile to $dest: PACKAGES must be a writable bind mount in the sandbox" >&2',
        "    exit 1",
        "}",
        'echo "bob: copied $file to $dest"',
    }) },
    { "clean", make("clean") .. IGNORED },
}

-- Each template split at @PKGPATH@: concat(parts, pkgpath) is the script.
for _, t in ipairs(TEMPLATES) do
    local parts, pos = {}, 1
    while true do
        local s, e = find(t[2], "@PKGPATH@", pos, true)
        parts[#parts + 1] = sub(t[2], pos, s and s - 1)
        if not s then
            break
        end
        pos = e + 1
    end
    t.parts = parts
end

-- The stages of the job for pkgpath, in order (see the top of this file).
function M.stages(pkgpath)
    local err = type(pkgpath) ~= "string" and "must be a string" or pkgpath_error(pkgpath)
    if err then
        error(format("invalid pkgpath '%s': %s", tostring(pkgpath), err), 2)
    end
    local stages = {}
    for i, t in ipairs(TEMPLATES) do
        stages[i] = { name = t[1], run = concat(t.parts, pkgpath) }
    end
    return stages
end

-- ---- dependencies from the pkgsrc tree on the host ----------------------

-- The variables whose values list "pattern:../../cat/pkg" dependencies.
local DEPVARS = {
    DEPENDS = true,
    BUILD_DEPENDS = true,
    TOOL_DEPENDS = true,
    BOOTSTRAP_DEPENDS = true,
}

-- The text of a file (its first MiB: makefiles are small), or nil when it
-- cannot be read.
local function read_text(path)
    local f = open(path, "r")
    if not f then
        return nil
    end
    local text = f:read(1048576)
    f:close()
    return text
end

local EMPTY = {}
local PKG_FILE = "^(" .. COMPONENT .. "/" .. COMPONENT .. ")/([^/]+)$"
local DEP_DIR = ":%.%./%.%./(" .. COMPONENT .. "/" .. COMPONENT .. ")"
local BL3_OF = "^%.%./%.%./(" .. COMPONENT .. "/" .. COMPONENT .. ")/buildlink3%.mk$"
local NL, TAB, SP, DOT = byte("\n"), byte("\t"), byte(" "), byte(".")

-- Index of the first character before i that is not a blank (0 at the start).
local function skip_blanks_back(text, i)
    local c = byte(text, i)
    while c == SP or c == TAB do
        i = i - 1
        c = byte(text, i)
    end
    return i
end

-- Whether i is 0 or a newline: the previous character of a line's start.
local function line_start(text, i)
    return i == 0 or byte(text, i) == NL
end

--[[
  Calls on_include(path) for each `.include "path"` line of text (also
  .sinclude, .-include, .dinclude, and ". include") and on_depends(value)
  for each assignment to a variable whose name ends in DEPENDS.  Plain
  searches for the two words, then a look at the line around them: most
  lines are neither, and this runs over thousands of files.
]]
local function scan(text, on_include, on_depends)
    if find(text, "\\\n", 1, true) then
        text = gsub(text, "\\\n", " ")
    end
    local pos = 1
    while true do
        local s = find(text, "include", pos, true)
        if not s then
            break
        end
        pos = s + 7
        local i = s - 1
        local c = byte(text, i)
        if c == 115 or c == 100 or c == 45 then -- s, d, -
            i = i - 1
        end
        i = skip_blanks_back(text, i)
        if byte(text, i) == DOT and line_start(text, skip_blanks_back(text, i - 1)) then
            local path = match(text, '^[ \t]+"([^"\n]+)"', pos)
            if path then
                on_include(path)
            end
        end
    end
    pos = 1
    while true do
        local s, e = find(text, "DEPENDS", pos, true)
        if not s then
            break
        end
        pos = e + 1
        local i = s - 1
        local c = byte(text, i)
        while c and ((c >= 65 and c <= 90) or c == 95) do -- A-Z, _
            i = i - 1
            c = byte(text, i)
        end
        if line_start(text, skip_blanks_back(text, i)) then
            local value = match(text, "^[ \t]*[%+%?:!]?=([^\n]*)", pos)
            if value then
                on_depends(sub(text, i + 1, e), value)
            end
        end
    end
end

-- Resolves an included path against dir (tree-relative); nil when it leaves the tree.
local function resolve(dir, path)
    if sub(path, 1, 17) == "${.CURDIR}/../../" then
        dir, path = "", sub(path, 18)
    elseif sub(path, 1, 13) == "${PKGSRCDIR}/" then
        dir, path = "", sub(path, 14)
    end
    if find(path, "$", 1, true) or sub(path, 1, 1) == "/" then
        return nil
    end
    -- The usual case: "../../cat/pkg/file" from a package directory.
    if sub(path, 1, 6) == "../../" and find(dir, "^[^/]+/[^/]+$") and not find(path, "/.", 6, true) then
        return sub(path, 7)
    end
    local parts = {}
    for c in gmatch(dir, "[^/]+") do
        parts[#parts + 1] = c
    end
    for c in gmatch(path, "[^/]+") do
        if c == ".." then
            if #parts == 0 then
                return nil
            end
            parts[#parts] = nil
        elseif c ~= "." then
            parts[#parts + 1] = c
        end
    end
    return concat(parts, "/")
end

--[[
  The listed pkgpaths that file (tree-relative) refers to: a buildlink3.mk
  of a listed package is an edge and is not followed further (that
  package's own job carries its dependencies); any other included file
  outside mk/ is followed.  Memoized; an include cycle is cut.  Gives up
  (st.expired) when the walk runs past st.deadline.
]]
local function file_refs(st, file)
    local memo = st.memo[file]
    if memo then
        return memo
    end
    if st.visiting[file] or st.expired then
        return EMPTY
    end
    st.nread = st.nread + 1
    if st.nread % 256 == 0 and time() > st.deadline then
        st.expired = true
        return EMPTY
    end
    st.visiting[file] = true
    local out, seen = {}, {}
    local function add(p)
        if not seen[p] then
            seen[p] = true
            out[#out + 1] = p
        end
    end
    local text = read_text(st.basedir .. "/" .. file)
    if text then
        local dir = match(file, "^(.*)/[^/]*$") or ""
        local in_pkgdir = find(dir, "^[^/]+/[^/]+$") ~= nil
        scan(text, function(inc)
            -- The usual case first: a listed package's buildlink3.mk.
            local pkg = in_pkgdir and match(inc, BL3_OF)
            if pkg and st.listed[pkg] then
                add(pkg)
                return
            end
            local target = resolve(dir, inc)
            if target and sub(target, 1, 3) ~= "mk/" then
                local pkg, base = match(target, PKG_FILE)
                if pkg and base == "buildlink3.mk" and st.listed[pkg] then
                    add(pkg)
                else
                    for _, p in ipairs(file_refs(st, target)) do
                        add(p)
                    end
                end
            end
        end, function(var, value)
            if DEPVARS[var] then
                value = gsub(value, "#.*$", "")
                for pkg in gmatch(value, DEP_DIR) do
                    if st.listed[pkg] then
                        add(pkg)
                    end
                end
            end
        end)
    end
    st.visiting[file] = nil
    st.memo[file] = out
    return out
end

--[[
  Drops the edges that close a cycle (the back edges of a depth-first walk
  in list order), so that the rest is acyclic; returns their descriptions.
]]
local function break_cycles(order, deps)
    local color, dropped = {}, {}
    for _, root in ipairs(order) do
        if not color[root] then
            color[root] = 1
            local stack = { { root, 1 } }
            while #stack > 0 do
                local top = stack[#stack]
                local u, i = top[1], top[2]
                local d = deps[u]
                if i <= #d then
                    top[2] = i + 1
                    local v = d[i]
                    if color[v] == 1 then
                        dropped[#dropped + 1] = { u, v }
                        d[i] = false
                    elseif not color[v] then
                        color[v] = 1
                        stack[#stack + 1] = { v, 1 }
                    end
                else
                    color[u] = 2
                    stack[#stack] = nil
                end
            end
        end
    end
    local warnings = {}
    for _, e in ipairs(dropped) do
        local u, v = e[1], e[2]
        local kept = {}
        for _, x in ipairs(deps[u]) do
            if x then
                kept[#kept + 1] = x
            end
        end
        deps[u] = kept
        warnings[#warnings + 1] = format(
            "pkgsrc.pkgpaths: '%s' does not wait for '%s': in the pkgsrc tree they refer to each other",
            u, v)
    end
    return warnings
end

-- Seconds the walk of the tree may take before it is abandoned (the config
-- loader stops any configuration after 10 s).
local TREE_SECONDS = 4

--[[
  dependencies(basedir, pkgpaths): for each pkgpath, the other listed
  pkgpaths it refers to in the tree at basedir (see the top of this file),
  acyclic; and a list of warnings: edges dropped to break cycles, or a walk
  abandoned after about TREE_SECONDS (then there are no edges at all, rather
  than a part of them).
]]
function M.dependencies(basedir, pkgpaths)
    local st = {
        basedir = basedir, listed = {}, memo = {}, visiting = {},
        nread = 0, deadline = time() + TREE_SECONDS + 1, expired = false,
    }
    for _, p in ipairs(pkgpaths) do
        st.listed[p] = true
    end
    local deps = {}
    for _, p in ipairs(pkgpaths) do
        local list = {}
        for _, q in ipairs(file_refs(st, p .. "/Makefile")) do
            if q ~= p then
                list[#list + 1] = q
            end
        end
        deps[p] = list
    end
    if st.expired then
        for _, p in ipairs(pkgpaths) do
            deps[p] = {}
        end
        return deps, { format("pkgsrc.basedir: reading the pkgsrc tree at %s took more than %d s "
            .. "(%d files): the pkgpaths have no dependencies between them", basedir,
            TREE_SECONDS, st.nread) }
    end
    return deps, break_cycles(pkgpaths, deps)
end

--[[
  jobs(pkgsrc): the jobs list for pkgsrc = { basedir = ..., make = ...,
  pkgpaths = { ... }, build_user = ..., ... }, one job per pkgpath (a
  repeated pkgpath counts once), and a list of warnings.  Errors name the
  place: "pkgsrc.pkgpaths[3]: invalid pkgpath ...".  build_user changes
  nothing here: the sandbox runs configure, build and install as that user.
]]
function M.jobs(pkgsrc)
    if type(pkgsrc) ~= "table" then
        error("pkgsrc: must be a table, got " .. type(pkgsrc), 0)
    end
    local basedir, pkgpaths = pkgsrc.basedir, pkgsrc.pkgpaths
    if type(basedir) ~= "string" or basedir == "" then
        error("pkgsrc.basedir: must be a non-empty string", 0)
    end
    if type(pkgpaths) ~= "table" then
        error("pkgsrc.pkgpaths: must be a table, got " .. type(pkgpaths), 0)
    end
    local order, seen = {}, {}
    for i, p in ipairs(pkgpaths) do
        if type(p) ~= "string" then
            error(format("pkgsrc.pkgpaths[%d]: must be a string, got %s", i, type(p)), 0)
        end
        local err = pkgpath_error(p)
        if err then
            error(format("pkgsrc.pkgpaths[%d]: invalid pkgpath '%s': %s", i, p, err), 0)
        end
        if not seen[p] then
            seen[p] = true
            order[#order + 1] = p
        end
    end
    local deps, warnings = M.dependencies(basedir, order)
    local jobs = {}
    for i, p in ipairs(order) do
        jobs[i] = { name = p, depends = deps[p], stages = M.stages(p) }
    end
    return jobs, warnings
end

return M
