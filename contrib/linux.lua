-- A sandbox configuration that works out of the box on a Debian (merged /usr)
-- host: the system is bound read-only, /dev is private, /tmp and /var/tmp are
-- tmpfs, and /etc is a copy. Check it with: bob -c contrib/linux.lua config check
--
-- Environment variables it reads (all optional):
--   BOB_BASEDIR     where the sandboxes go (default /var/tmp/bob/sandboxes)
--   BOB_BUILD_USER  an unprivileged user that builds run as; its home
--                   directory is made inside each sandbox (only.set)

options = {
    build_threads = 2,
    logdir = (os.getenv("BOB_BASEDIR") or "/var/tmp/bob/sandboxes") .. "-logs",
}

pkgsrc = {
    basedir = "/usr/pkgsrc",
    make = "/usr/bin/make",
    build_user = os.getenv("BOB_BUILD_USER"),
}

sandboxes = {
    basedir = os.getenv("BOB_BASEDIR") or "/var/tmp/bob/sandboxes",
    -- Each sandbox's root is a tmpfs of its own (a quarter of the memory at
    -- most); give it a size, or false for plain directories on the disk.
    -- tmpfs_root = "size=4g",

    setup = {
        -- The system, read-only. /bin, /lib, /lib64 and /sbin are links into
        -- /usr on a merged-/usr host, so relative links recreate them.
        { action = "mount", fs = "bind", dir = "/usr", opts = "ro" },
        { action = "symlink", src = "usr/bin", dest = "/bin" },
        { action = "symlink", src = "usr/sbin", dest = "/sbin" },
        { action = "symlink", src = "usr/lib", dest = "/lib" },
        { action = "symlink", src = "usr/lib64", dest = "/lib64",
          only = { exists = "/usr/lib64" } },

        -- A private /dev (never the host's devtmpfs), proc, and scratch space.
        { action = "mount", fs = "dev", dir = "/dev" },
        { action = "mount", fs = "proc", dir = "/proc" },
        { action = "mount", fs = "tmp", dir = "/tmp", opts = "size=1G,mode=1777" },
        { action = "mount", fs = "tmp", dir = "/var/tmp", opts = "size=1G,mode=1777" },

        -- A copy of /etc, so that builds may change it.
        { action = "copy", dir = "/etc" },

        -- Directories that tools expect.
        { action = "cmd", chroot = true, create = "mkdir -p -m 0700 /root && mkdir -p /home" },

        -- The build user's home, made from the host side, only when a build
        -- user is configured.
        { action = "cmd", only = { set = "pkgsrc.build_user" },
          create = [[
            mkdir -p "${bob_sandbox_path}${bob_build_user_home}"
            chown "${bob_build_user}" "${bob_sandbox_path}${bob_build_user_home}"
          ]] },
    },

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
