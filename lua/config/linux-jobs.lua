--[[
  bob configuration for Linux, written by `bob init` on a host without a
  pkgsrc tree (/usr/pkgsrc): it builds the `jobs` below as it is.

  This file is Lua 5.4: the sections are global tables.  `bob config check`
  validates it, `bob config show` prints what bob makes of it, and
  `bob build` builds the jobs.  `man bob` lists every key.
]]

-- General options.
options = {
    -- Number of sandboxes, and so of jobs built at once (bob build -j N).
    build_threads = 2,
    -- Log level: error, warn, info, debug or trace (debug: what bob does, on stderr).
    log_level = "info",
    -- Keep the logs of successful jobs too (failed ones are always kept).
    -- keep_logs = true,
    -- Without a terminal: a status line every this many seconds (0: none).
    -- status_interval = 60,
}

-- Where sandboxes are created and how they are set up.
sandboxes = {
    basedir = os.getenv("BOB_BASEDIR") or "/var/tmp/bob/sandboxes",
    -- Each sandbox's root is a tmpfs of its own (a quarter of the memory at
    -- most); give it a size, or false for plain directories on the disk.
    -- tmpfs_root = "size=4g",

    --[[
      The actions that set up each sandbox, applied in order when it is
      created and undone in reverse order when it is destroyed.
    ]]
    setup = {
        -- The host system, read-only. /bin, /lib, /lib64 and /sbin are links
        -- into /usr on a merged-/usr host: relative links recreate them.
        { action = "mount", fs = "bind", dir = "/usr", opts = "ro" },
        { action = "symlink", src = "usr/bin", dest = "/bin" },
        { action = "symlink", src = "usr/sbin", dest = "/sbin" },
        { action = "symlink", src = "usr/lib", dest = "/lib" },
        { action = "symlink", src = "usr/lib64", dest = "/lib64",
          only = { exists = "/usr/lib64" } },

        -- A private /dev (never the host's), proc and scratch space.
        { action = "mount", fs = "dev", dir = "/dev" },
        { action = "mount", fs = "proc", dir = "/proc" },
        { action = "mount", fs = "tmp", dir = "/tmp", opts = "size=1G,mode=1777" },
        { action = "mount", fs = "tmp", dir = "/var/tmp", opts = "size=1G,mode=1777" },

        -- A copy of /etc, so that builds may change it.
        { action = "copy", dir = "/etc" },
    },

    --[[
      The environment of sandboxed processes: "build" for jobs and
      `bob sandbox run`, "dev" for `bob sandbox shell`.
    ]]
    environment = {
        build = {
            clear = true,
            inherit = { "TERM", "HOME" },
            vars = { PATH = "/usr/sbin:/usr/bin:/sbin:/bin" },
        },
        dev = {
            clear = true,
            inherit = { "TERM", "HOME" },
            vars = { PATH = "/usr/sbin:/usr/bin:/sbin:/bin", PS1 = "'bob$ '" },
        },
    },
}

--[[
  The jobs of `bob build`: each runs its stages (/bin/sh -ceu <run>) in a
  sandbox, after the jobs it depends on; bob_job, bob_stage and
  bob_sandbox_id tell a stage who it is.
]]
jobs = {
    { name = "hello", run = "echo hello from $bob_job in sandbox $bob_sandbox_id" },
    { name = "world", depends = { "hello" }, env = { GREETING = "hi" },
      stages = {
          { name = "configure", run = "echo $bob_stage: $GREETING" },
          { name = "build", run = "uname -a" },
      } },
}

--[[
  pkgsrc: with a pkgsrc tree and no `jobs`, bob scans and builds packages.
  Set basedir, make and pkgpaths, and bind the tree into the sandboxes:
  { action = "mount", fs = "bind", dir = "/usr/pkgsrc" } in setup above.

pkgsrc = {
    basedir = "/usr/pkgsrc",
    make = "/usr/pkg/bin/bmake",
    pkgpaths = { "mail/mutt" },
    -- A bootstrap kit unpacked (overlaid) into each sandbox for each job.
    -- bootstrap = "/data/packages/bootstrap.tar.gz",
    -- Build as an unprivileged user (configure, build and install stages).
    -- build_user = "builder",
}
]]
