--[[
  pkgsrc.lua: the stages of a pkgsrc package's job.

  When a configuration has pkgsrc.pkgpaths but no `jobs`, `bob build` (and
  `bob scan`) scan the pkgpaths with `bmake pbulk-index` in sandboxes,
  following ALL_DEPENDS, and resolve the scan as pbulk does (src/pkgsrc/).
  Every package to build then becomes a job, made by jobs() below from what
  the scan said about it: its pkgpath, PKGNAME, MULTI_VERSION variables,
  BOOTSTRAP_PKG, USERGROUP_PHASE and the package names its dependencies
  resolved to. Each stage runs as `/bin/sh -ceu <run>` inside the sandbox
  with the bob_* variables of the sandbox environment: $bob_make,
  $bob_pkgsrc, and $bob_pkg_dbdir, $bob_packages, $bob_pkgtools, which bob
  knows only with a bootstrap kit (without one, the stages that need them
  ask make: PKG_DBDIR, PACKAGES, PKG_TOOLS_BIN). Every make call is

      "$bob_make" -C "$bob_pkgsrc/<pkgpath>" <targets> <MULTI_VERSION> BATCH=1 DEPENDS_TARGET=/nonexistent

  The stages, in order:

    pre-clean   make clean; a failure is ignored.
    depends     `pkg_add -K $bob_pkg_dbdir <package names>` with
                PKG_PATH=$bob_packages/All: the exact packages the
                dependencies resolved to (bootstrap, tool, build and
                run-time ones). Nothing to do without dependencies.
    checksum    make checksum (fetches the distfiles when needed).
    usergroup   with a USERGROUP_PHASE: make create-usergroup clean, as
                root (build_user cannot create users).
    configure   make configure      } run as pkgsrc.build_user when it is
    build       make all            } set (src/sandbox/build.c applies it
    install     make stage-install  } by stage name)
    package     make stage-package-create, then, unless BOOTSTRAP_PKG,
                pkg_add -K $bob_pkg_dbdir <STAGE_PKGFILE>.
    deinstall   unless BOOTSTRAP_PKG: pkg_delete -K $bob_pkg_dbdir <PKGNAME>.
    copy        copies STAGE_PKGFILE to $bob_packages/All (a temporary
                name, then a rename, so that a concurrent pkg_add never
                sees half a file).
    clean       make clean; a failure is ignored.

  PACKAGES: the copy runs inside the sandbox, so PACKAGES (the value of
  $bob_packages inside the sandbox) must be a WRITABLE bind mount of the
  host's package directory at the same path (the bundled configs bind
  pkgsrc read-write at the same path, and PACKAGES defaults to
  <pkgsrc>/packages): later jobs install their dependencies from it, and
  bob reads it on the host to decide what is up to date.

  What differs from bob:
    - create-usergroup runs in a stage of its own before configure, for
      every USERGROUP_PHASE (bob runs it just before the phase named);
    - the package file is copied from inside the sandbox (see PACKAGES);
    - PKG_DBDIR, PACKAGES, PKG_TOOLS_BIN and STAGE_PKGFILE are asked of make
      by the depends, package, deinstall and copy stages (one show-vars
      each; the bob_* values of a bootstrap kit win);
    - after a failure there is no final `make clean`, no copy of
      WRKDIR/.work.log or of save_wrkdir_patterns, and no WRKDIR size;
    - no WRKOBJDIR or MAKE_JOBS from `dynamic` (set MAKE_JOBS in
      sandboxes.environment.build.vars);
    - the scan: its sandboxes run their pre- and post-build once per share
      of pkgpaths (bob: once); it is kept in the build state and a pkgpath
      is scanned again when its directory's files or the tree's mk/ change
      (bob keeps it until `bob clean`); without pkgpaths there is nothing
      to build (bob scans the whole tree);
    - MULTI_VERSION variants that are built together are named
      "<pkgpath>/<values>" (bob names packages by PKGNAME);
    - no pkg_summary is written at the end.
]]

local M = {}

local type, ipairs, error, tostring = type, ipairs, error, tostring
local concat = table.concat
local gsub, format, find = string.gsub, string.format, string.find

-- s as one shell word.
local function quote(s)
    if find(s, "^[%w%._%+%-/=,:@]+$") then
        return s
    end
    return "'" .. gsub(s, "'", "'\\''") .. "'"
end

-- Joins shell lines into one script.
local function script(lines)
    return concat(lines, "\n")
end

local IGNORED = " || echo 'bob: make clean failed (ignored)'"

--[[
  Lines that set $bob_pkg_dbdir, $bob_packages and $bob_pkgtools from make
  when the sandbox environment lacks one (no bootstrap kit), then "$@" to
  the values of the other variables in names (blank-separated, each a
  single non-empty word).
]]
local function ask(mk, names, count)
    local all = "PKG_DBDIR PACKAGES PKG_TOOLS_BIN" .. (names ~= "" and " " .. names or "")
    return script({
        "vars=$(" .. mk("show-vars VARNAMES='" .. all .. "'") .. ")",
        "set -- $vars",
        "[ $# -ge " .. (3 + count) .. ' ] || { echo "bob: cannot get ' .. all
            .. ' from pkgsrc: $vars" >&2; exit 1; }',
        "bob_pkg_dbdir=${bob_pkg_dbdir:-$1} bob_packages=${bob_packages:-$2} bob_pkgtools=${bob_pkgtools:-$3}",
        "shift 3",
    })
end

--[[
  stages(pkg): the stages of the job for pkg = { pkgpath = "cat/pkg",
  pkgname = "foo-1.0", depends = { "bar-2.0", ... }, multi_version =
  { "VAR=value", ... }, bootstrap = true|false, usergroup_phase = "..."|nil }.
]]
function M.stages(pkg)
    if type(pkg) ~= "table" or type(pkg.pkgpath) ~= "string" or type(pkg.pkgname) ~= "string" then
        error("pkgsrc.stages: a package needs a pkgpath and a pkgname", 2)
    end
    local extra = ""
    for _, v in ipairs(pkg.multi_version or {}) do
        extra = extra .. " " .. quote(v)
    end
    local dir = '"$bob_pkgsrc/' .. pkg.pkgpath .. '"'
    local function mk(targets)
        return '"$bob_make" -C ' .. dir .. " " .. targets .. extra
            .. " BATCH=1 DEPENDS_TARGET=/nonexistent"
    end
    local deps = {}
    for i, d in ipairs(pkg.depends or {}) do
        deps[i] = quote(d)
    end
    local depends
    if #deps == 0 then
        depends = 'echo "bob: no dependencies"'
    else
        depends = script({
            "set -f",
            ask(mk, "", 0),
            'PKG_PATH="$bob_packages/All" "$bob_pkgtools/pkg_add" -K "$bob_pkg_dbdir" '
                .. concat(deps, " "),
        })
    end
    local usergroup
    if pkg.usergroup_phase and pkg.usergroup_phase ~= "" then
        usergroup = mk("create-usergroup clean")
    else
        usergroup = 'echo "bob: no USERGROUP_PHASE: nothing to do"'
    end
    local package, deinstall
    if pkg.bootstrap then
        package = script({ mk("stage-package-create"),
            'echo "bob: BOOTSTRAP_PKG=yes: not installed"' })
        deinstall = 'echo "bob: BOOTSTRAP_PKG=yes: not deinstalled"'
    else
        package = script({
            "set -f",
            mk("stage-package-create"),
            ask(mk, "STAGE_PKGFILE", 1),
            '"$bob_pkgtools/pkg_add" -K "$bob_pkg_dbdir" "$1"',
        })
        deinstall = script({
            "set -f",
            ask(mk, "", 0),
            '"$bob_pkgtools/pkg_delete" -K "$bob_pkg_dbdir" ' .. quote(pkg.pkgname),
        })
    end
    -- bob copies on the host; here PACKAGES must be a writable bind mount.
    local copy = script({
        "set -f",
        ask(mk, "STAGE_PKGFILE", 1),
        'pkgfile=$1 dest=$bob_packages/All file=${1##*/}',
        'mkdir -p "$dest" && cp "$pkgfile" "$dest/.$file.$$" && mv -f "$dest/.$file.$$" "$dest/$file" || {',
        '    rm -f "$dest/.$file.$$"',
        '    echo "bob: cannot copy $pkgfile to $dest: PACKAGES must be a writable bind mount in the sandbox" >&2',
        "    exit 1",
        "}",
        'echo "bob: copied $file to $dest"',
    })
    return {
        { name = "pre-clean", run = mk("clean") .. IGNORED },
        { name = "depends", run = depends },
        { name = "checksum", run = mk("checksum") },
        { name = "usergroup", run = usergroup },
        { name = "configure", run = mk("configure") },
        { name = "build", run = mk("all") },
        { name = "install", run = mk("stage-install") },
        { name = "package", run = package },
        { name = "deinstall", run = deinstall },
        { name = "copy", run = copy },
        { name = "clean", run = mk("clean") .. IGNORED },
    }
end

--[[
  jobs(pkgs): the jobs list for the packages to build, each a table as for
  stages() plus name (the job name) and job_depends (the job names of the
  dependencies that are built too).
]]
function M.jobs(pkgs)
    if type(pkgs) ~= "table" then
        error("pkgsrc.jobs: expected a list of packages, got " .. type(pkgs), 2)
    end
    local jobs = {}
    for i, p in ipairs(pkgs) do
        if type(p.name) ~= "string" then
            error(format("pkgsrc.jobs: package %d has no name (%s)", i, tostring(p.pkgname)), 2)
        end
        jobs[i] = { name = p.name, depends = p.job_depends or {}, stages = M.stages(p) }
    end
    return jobs
end

return M
