-- The bob demo: a bulk build of real upstream source tarballs, one job per
-- tarball, each in a sandbox. Fetch the tarballs first with contrib/demo/fetch
-- (see contrib/demo/README.md), then:
--
--   bob -c contrib/demo/config.lua config check
--   bob -c contrib/demo/config.lua build
--
-- Environment variables it reads (all optional):
--   BOB_DEMO_SRC    the directory of *.orig.tar.* tarballs
--                   (default $BOB_DEMO_CACHE/src, i.e. /var/cache/bob-demo/src)
--   BOB_DEMO_CACHE  fetch's cache directory (default /var/cache/bob-demo)
--   BOB_BASEDIR     where the sandboxes go (default /var/tmp/bob-demo/sandboxes)
--   BOB_DEMO_LOGDIR the build logs (default /var/tmp/bob-demo/logs)
--
-- Each job unpacks its tarball from /src (the tarball directory, bound
-- read-only) into /build, a tmpfs that the hooks mount fresh for every job
-- and unmount after it, then configures and builds with make -j2.

local cache = os.getenv("BOB_DEMO_CACHE") or "/var/cache/bob-demo"
local srcdir = os.getenv("BOB_DEMO_SRC") or (cache .. "/src")
local basedir = os.getenv("BOB_BASEDIR") or "/var/tmp/bob-demo/sandboxes"
local logdir = os.getenv("BOB_DEMO_LOGDIR") or "/var/tmp/bob-demo/logs"

-- Quotes a string for /bin/sh.
local function sh_quote(s)
    return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs a shell command at load time and returns its output lines.
local function lines_of(cmd)
    local out = {}
    local p = assert(io.popen(cmd))
    for line in p:lines() do
        out[#out + 1] = line
    end
    p:close()
    return out
end

-- The directory the tarball unpacks into: the first path component of its
-- first member (tar reads only as far as the first member, then gets SIGPIPE).
local function top_dir(path)
    local first = lines_of("tar tf " .. sh_quote(path) .. " 2>/dev/null | head -n 1")[1]
    if not first then
        error(path .. ": cannot list the tarball (is it complete? are xz-utils and bzip2 installed?)", 0)
    end
    local top = first:gsub("^%./", ""):match("^([^/]+)")
    if not top or top == ".." then
        error(path .. ": unexpected first member '" .. first .. "'", 0)
    end
    return top
end

-- How each package is configured and built, when not the GNU way
-- (./configure && make). lua5.4's upstream tarball has no configure script:
-- "make linux" builds src/lua, src/luac and src/liblua.a (no readline).
local recipes = {
    ["lua5.4"] = { build = "make -j2 linux" },
    default = { configure = "./configure", build = "make -j2" },
}

-- One job per <package>_<version>.orig.tar.<ext> in srcdir, in name order.
local tarballs = lines_of("ls -1 " .. sh_quote(srcdir) .. " 2>/dev/null")
jobs = {}
for _, file in ipairs(tarballs) do
    local pkg = file:match("^([^_/]+)_[^/]+%.orig%.tar%.%w+$")
    if pkg then
        local dir = "/build/" .. top_dir(srcdir .. "/" .. file)
        local recipe = recipes[pkg] or recipes.default
        local stages = {
            { name = "unpack", run = "mkdir -p /build && cd /build && tar xf " .. sh_quote("/src/" .. file) },
        }
        if recipe.configure then
            stages[#stages + 1] = { name = "configure", run = "cd " .. sh_quote(dir) .. " && " .. recipe.configure }
        end
        stages[#stages + 1] = { name = "build", run = "cd " .. sh_quote(dir) .. " && " .. recipe.build }
        jobs[#jobs + 1] = { name = pkg, stages = stages }
    end
end
if #jobs == 0 then
    error("no *.orig.tar.* tarballs in " .. srcdir .. ": run contrib/demo/fetch first (or set BOB_DEMO_SRC)", 0)
end

options = {
    build_threads = 2,
    logdir = logdir,
}

sandboxes = {
    basedir = basedir,

    setup = {
        -- The host's system, read-only. /bin, /lib, /lib64 and /sbin are links
        -- into /usr on a merged-/usr host, so relative links recreate them.
        { action = "mount", fs = "bind", dir = "/usr", opts = "ro" },
        { action = "symlink", src = "usr/bin", dest = "/bin" },
        { action = "symlink", src = "usr/sbin", dest = "/sbin" },
        { action = "symlink", src = "usr/lib", dest = "/lib" },
        { action = "symlink", src = "usr/lib64", dest = "/lib64",
          only = { exists = "/usr/lib64" } },

        -- A private /dev (never the host's devtmpfs), proc and a /tmp.
        { action = "mount", fs = "dev", dir = "/dev" },
        { action = "mount", fs = "proc", dir = "/proc" },
        { action = "mount", fs = "tmp", dir = "/tmp", opts = "size=1G,mode=1777" },

        -- The tarballs, read-only.
        { action = "mount", fs = "bind", src = srcdir, dest = "/src", opts = "ro" },

        -- A copy of /etc, so that builds may change it; HOME for the builds.
        { action = "copy", dir = "/etc" },
        { action = "cmd", chroot = true, create = "mkdir -p -m 0700 /root" },
    },

    -- Applied before each job and undone after it: every job unpacks and
    -- builds in a fresh, empty tmpfs.
    hooks = {
        { action = "mount", fs = "tmp", dir = "/build", opts = "size=2G,mode=0755" },
    },

    environment = {
        build = {
            clear = true,
            vars = {
                PATH = "/usr/sbin:/usr/bin:/sbin:/bin",
                HOME = "/root",
                SHELL = "/bin/sh",
            },
        },
        dev = {
            clear = true,
            inherit = { "TERM" },
            vars = {
                PATH = "/usr/sbin:/usr/bin:/sbin:/bin",
                HOME = "/root",
                PS1 = "'bob-demo$ '",
            },
        },
    },
}
