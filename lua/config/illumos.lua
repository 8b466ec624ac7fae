--[[
  bob configuration for illumos (and Solaris).

  This file is Lua 5.4: the sections are global tables.  `bob config check`
  validates it and `bob config show` prints what bob makes of it.
]]

-- General options.
options = {
    build_threads = 4,
    scan_threads = 4,
    -- Log level: error, warn, info, debug or trace.
    log_level = "info",
}

-- Where pkgsrc is and what to build.
pkgsrc = {
    basedir = "/usr/pkgsrc",
    make = "/opt/pkg/bin/bmake",
    -- or pkgpaths = read_pkgpaths("/path/to/file"),
    pkgpaths = {
        "mail/mutt",
    },

    --[[
      It is strongly recommended to build as an unprivileged user; an action
      below then creates its home directory in each sandbox.

    build_user = "builder",
    ]]
}

-- Where sandboxes are created and how they are set up.
sandboxes = {
    basedir = "/data/chroot",

    environment = {
        build = {
            clear = true,
            inherit = { "TERM", "HOME" },
            vars = {
                PATH = "/sbin:/usr/bin:/usr/sbin",
            },
        },
        dev = {
            clear = true,
            inherit = { "TERM", "HOME" },
            vars = {
                BINPKG_SITES = "${bob_packages}",
                DEPENDS_TARGET = "bin-install",
                PATH = "${bob_prefix}/sbin:${bob_prefix}/bin:/sbin:/usr/bin:/usr/sbin",
                PS1 = [["sandbox:${bob_sandbox_id} "'${PWD}# ']],
            },
        },
    },

    setup = {
        -- /devices is missing in non-global zones.
        { action = "mount", fs = "lofs", dir = "/devices", opts = "-o ro",
          only = { exists = "/devices" } },
        { action = "mount", fs = "lofs", dir = "/dev", opts = "-o ro" },
        -- Mounted on top of the read-only /dev.
        { action = "mount", fs = "fd", dir = "/dev/fd" },
        { action = "mount", fs = "proc", dir = "/proc" },

        { action = "mount", fs = "tmp", dir = "/tmp", opts = "-o size=1g" },
        { action = "mount", fs = "tmp", dir = "/var", opts = "-o size=1g" },

        { action = "mount", fs = "lofs", dir = "/lib", opts = "-o ro" },
        { action = "mount", fs = "lofs", dir = "/sbin", opts = "-o ro" },
        { action = "mount", fs = "lofs", dir = "/usr", opts = "-o ro" },
        { action = "symlink", src = "usr/bin", dest = "/bin" },

        { action = "copy", dir = "/etc" },

        { action = "cmd", chroot = true,
          create = "mkdir -m 1777 /var/tmp; chmod 1777 /tmp" },

        -- The build user's home directory, when one is configured.
        { action = "cmd", only = { set = "pkgsrc.build_user" },
          create = [[
                mkdir -p ${bob_sandbox_path}${bob_build_user_home}
                chown ${bob_build_user} ${bob_sandbox_path}${bob_build_user_home}
          ]],
          destroy = "rm -rf ${bob_sandbox_path}${bob_build_user_home}" },

        { action = "mount", fs = "lofs", dir = pkgsrc.basedir },
    },
}
