-- A fuzzing seed (fuzz/run copies it into the corpus): the parts of the
-- schema that the bundled configs do not use, the jobs extension first.
options = { build_threads = 3, logdir = "logs", keep_logs = true, tui = false }

sandboxes = {
    basedir = "/var/tmp/bob-fuzz/sandboxes",
    environment = {
        build = { clear = true, inherit = { "PATH", "TERM" }, vars = { LC_ALL = "C", N = 2 } },
        dev = { clear = false, vars = { PS1 = "bob$ " }, shell = "/bin/sh -i" },
    },
    setup = {
        { action = "mount", fs = "bind", dir = "/usr", opts = "ro" },
        { action = "symlink", src = "usr/bin", dest = "/bin" },
        { action = "symlink", src = "../usr/lib", dest = "lib" },
        { action = "mount", fs = "tmp", dest = "/bin/../tmp", opts = "size=64m" },
        { action = "copy", dir = "/etc/hostname" },
        { action = "mount", fs = "proc", dir = "/proc", only = { environment = "dev" } },
        { action = "cmd", chroot = true, create = "mkdir -p /build", destroy = "rm -rf /build",
          only = { set = "options.logdir", exists = "/usr" } },
        { action = "cmd", create = function()
            return scriptenv("echo $X", { X = "y", FLAG = true, N = 3 })
        end },
    },
    hooks = {
        { action = "mount", fs = "tmp", dir = "/build" },
        { action = "mount", fs = "dev", dir = "/dev", only = { set = "pkgsrc.nothing" } },
    },
}

local jobs_ = {
    { name = "zlib", env = { CFLAGS = "-O2", V = 1 }, stages = {
        { name = "configure", run = "cd /build && ./configure" },
        { name = "build", run = "make -C /build" },
    } },
    { name = "lua/5.4", depends = { "zlib" }, run = "make linux" },
}
for i = 1, 3 do
    jobs_[#jobs_ + 1] = { name = "gen-" .. i, depends = { "zlib", "lua/5.4" }, run = dedent([[
        echo ]] .. i .. [[

        true]]) }
end
jobs = jobs_
