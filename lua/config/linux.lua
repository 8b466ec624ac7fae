--[[
  bob configuration for Linux.

  This file is Lua 5.4: the sections are global tables.  `bob config check`
  validates it and `bob config show` prints what bob makes of it.  Review
  at least sandboxes.basedir and the pkgsrc paths before the first build.
]]

-- General options.
options = {
    -- Number of build sandboxes and parallel jobs.
    build_threads = 4,
    -- Number of parallel scan processes.
    scan_threads = 4,
    -- Log level: error, warn, info, debug or trace.
    log_level = "info",
    -- Keep the logs of successful jobs too (failed ones are always kept).
    -- keep_logs = true,
}

-- Where pkgsrc is and what to build.
pkgsrc = {
    basedir = "/usr/pkgsrc",
    make = "/usr/pkg/bin/bmake",

    -- The packages to build, or read them from a file (one per line):
    -- pkgpaths = read_pkgpaths("/path/to/pkgpaths.txt"),
    pkgpaths = {
        "mail/mutt",
    },

    -- A bootstrap kit (gzip tarball) unpacked into each sandbox before a build.
    -- bootstrap = "/data/packages/bootstrap.tar.gz",

    --[[
      It is strongly recommended to build as an unprivileged user.  When
      build_user is set, an action below creates its home directory in each
      sandbox; build_user_home defaults to the user's home from getpwnam(3).

    build_user = "builder",
    build_user_home = "/home/builder",
    ]]

    --[[
      On build failure, save files matching these patterns from WRKDIR.

    save_wrkdir_patterns = {
        "**/CMakeError.log",
        "**/CMakeOutput.log",
        "**/config.log",
        "**/meson-log.txt",
    },
    ]]
}

-- Where sandboxes are created and how they are set up.
sandboxes = {
    basedir = "/data/chroot",
    -- Each sandbox's root is a tmpfs of its own (a quarter of the memory at
    -- most); give it a size, or false for plain directories on the disk.
    -- tmpfs_root = "size=4g",

    --[[
      The environment of sandboxed processes.  "build" is used by builds and
      `bob sandbox run`, "dev" by the interactive `bob sandbox shell`.  Keep
      "build" strict: variables from your own environment can change builds.
    ]]
    environment = {
        build = {
            clear = true,
            inherit = { "TERM", "HOME" },
            vars = {
                PATH = "/sbin:/bin:/usr/sbin:/usr/bin",
            },
        },
        dev = {
            clear = true,
            inherit = { "TERM", "HOME" },
            vars = {
                BINPKG_SITES = "${bob_packages}",
                DEPENDS_TARGET = "bin-install",
                PATH = "${bob_prefix}/sbin:${bob_prefix}/bin:/sbin:/bin:/usr/sbin:/usr/bin",
                PS1 = [["sandbox:${bob_sandbox_id} "'${PWD}# ']],
            },
        },
    },

    --[[
      The actions that set up each sandbox, applied in order when it is
      created and undone in reverse order when it is destroyed.
    ]]
    setup = {
        -- A private /dev (the host's /dev is never exposed), proc and fresh
        -- temporary directories.
        { action = "mount", fs = "dev", dir = "/dev" },
        { action = "mount", fs = "proc", dir = "/proc" },
        { action = "mount", fs = "tmp", dir = "/tmp", opts = "size=1G,mode=1777" },
        { action = "mount", fs = "tmp", dir = "/var/tmp", opts = "size=1G,mode=1777" },

        -- The host system, read-only.
        { action = "mount", fs = "bind", dir = "/usr/bin", opts = "ro" },
        { action = "mount", fs = "bind", dir = "/usr/sbin", opts = "ro" },
        { action = "mount", fs = "bind", dir = "/usr/lib", opts = "ro" },
        { action = "mount", fs = "bind", dir = "/usr/lib64", opts = "ro",
          only = { exists = "/usr/lib64" } },
        { action = "mount", fs = "bind", dir = "/usr/libexec", opts = "ro",
          only = { exists = "/usr/libexec" } },
        { action = "mount", fs = "bind", dir = "/usr/include", opts = "ro" },
        { action = "mount", fs = "bind", dir = "/usr/share", opts = "ro" },

        -- Relative link targets, so that they stay inside the sandbox.
        { action = "symlink", src = "usr/bin", dest = "/bin" },
        { action = "symlink", src = "usr/lib", dest = "/lib" },
        { action = "symlink", src = "usr/lib64", dest = "/lib64",
          only = { exists = "/usr/lib64" } },
        { action = "symlink", src = "usr/sbin", dest = "/sbin" },

        -- A private copy of /etc.
        { action = "copy", dir = "/etc" },

        -- The home directory of the build user, when one is configured.  It is
        -- made from outside the chroot so that it can also be removed after a
        -- reboot, when the mounts are gone.  Scripts run with `sh -eu`.
        { action = "cmd", only = { set = "pkgsrc.build_user" },
          create = [[
                mkdir -p "${bob_sandbox_path}${bob_build_user_home}"
                chown "${bob_build_user}" "${bob_sandbox_path}${bob_build_user_home}"
          ]],
          destroy = [[rm -rf "${bob_sandbox_path}${bob_build_user_home}"]] },

        -- pkgsrc itself.  Mounting it read-only is recommended once DISTDIR,
        -- PACKAGES and WRKOBJDIR point elsewhere.
        { action = "mount", fs = "bind", dir = pkgsrc.basedir,
          only = { exists = pkgsrc.basedir } },
    },

    --[[
      Actions applied around every job (create before, destroy after).

    hooks = {
        { action = "cmd",
          create = "cp /etc/passwd ${bob_sandbox_path}/etc/passwd",
          destroy = "rm -rf ${bob_sandbox_path}/tmp/*" },
    },
    ]]
}

--[[
  Instead of pkgsrc packages, a build can run jobs of your own: each job runs
  its stages (/bin/sh -ceu <run>) in a sandbox, after the jobs it depends on.

jobs = {
    { name = "hello", run = "echo hello" },
    { name = "world", depends = { "hello" }, env = { GREETING = "hi" },
      stages = {
          { name = "configure", run = "echo configure" },
          { name = "build", run = "echo $GREETING" },
      } },
}
]]
