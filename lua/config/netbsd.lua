--[[
  bob configuration for NetBSD.

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
    make = "/usr/bin/make",
    -- or pkgpaths = read_pkgpaths("/path/to/file"),
    pkgpaths = {
        "mail/mutt",
        "sysutils/coreutils",
    },

    --[[
      It is strongly recommended to build as an unprivileged user; an action
      below then creates its home directory in each sandbox.

    build_user = "builder",
    build_user_home = "/home/builder",
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

    setup = {
        -- Device nodes.  It is too early to run commands inside the chroot,
        -- so this runs outside it, in the sandbox directory.
        { action = "cmd",
          create = "mkdir dev && cp /dev/MAKEDEV /dev/MAKEDEV.local dev/"
                .. " && cd dev && ./MAKEDEV all",
          destroy = "rm -rf dev" },

        { action = "mount", fs = "proc", dir = "/proc" },

        { action = "mount", fs = "tmp", dir = "/tmp", opts = "-s 1G" },
        { action = "mount", fs = "tmp", dir = "/var", opts = "-s 1G" },

        { action = "mount", fs = "null", dir = "/bin", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/sbin", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/libexec", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/lib", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/usr/X11R7", opts = "-o ro",
          only = { exists = "/usr/X11R7" } },
        { action = "mount", fs = "null", dir = "/usr/bin", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/usr/games", opts = "-o ro",
          only = { exists = "/usr/games" } },
        { action = "mount", fs = "null", dir = "/usr/include", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/usr/lib", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/usr/libdata", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/usr/libexec", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/usr/share", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/usr/sbin", opts = "-o ro" },
        { action = "mount", fs = "null", dir = "/var/mail", opts = "-o ro" },

        { action = "copy", dir = "/etc" },

        -- Now commands can run inside the chroot.
        { action = "cmd", chroot = true,
          create = "mkdir -m 1777 /var/tmp; chmod 1777 /tmp" },

        -- The build user's home directory, when one is configured.
        { action = "cmd", only = { set = "pkgsrc.build_user" },
          create = [[
                mkdir -p ${bob_sandbox_path}${bob_build_user_home}
                chown ${bob_build_user} ${bob_sandbox_path}${bob_build_user_home}
          ]],
          destroy = "rm -rf ${bob_sandbox_path}${bob_build_user_home}" },

        -- pkgsrc itself.  Mounting it read-only is recommended once DISTDIR,
        -- PACKAGES and WRKOBJDIR point elsewhere.
        { action = "mount", fs = "null", dir = pkgsrc.basedir },
    },
}
