--[[
  bob configuration for macOS.

  Sandboxes need MacFUSE and bindfs for the read-only mounts of the system.
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
    basedir = "/Volumes/data/pkgsrc",
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
    basedir = "/Volumes/data/chroot",
    -- The bindfs used for "bind" mounts.
    bindfs = "/opt/pkg/bin/bindfs",

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
        { action = "mount", fs = "dev", dir = "/dev" },

        { action = "mount", fs = "tmp", dir = "/tmp", opts = "-e -s 384m" },
        { action = "mount", fs = "tmp", dir = "/var", opts = "-e -s 512m" },

        { action = "mount", fs = "bind", dir = "/Library", opts = "-r" },
        { action = "mount", fs = "bind", dir = "/System", opts = "-r" },
        { action = "mount", fs = "bind", dir = "/bin", opts = "-r" },
        { action = "mount", fs = "bind", src = "/private/etc", dest = "/etc", opts = "-r" },
        { action = "mount", fs = "bind", dir = "/sbin", opts = "-r" },
        { action = "mount", fs = "bind", dir = "/usr", opts = "-r" },
        -- Read-write, for sendmail(1) in package scripts.
        { action = "mount", fs = "bind", dir = "/private/var/spool/postfix",
          only = { exists = "/private/var/spool/postfix" } },

        -- Name resolution inside the sandbox.
        { action = "macos-mdns-listener" },

        { action = "copy", dir = "/var/db/timezone" },

        { action = "cmd", chroot = true,
          create = "mkdir -m 1777 /var/tmp; chmod 1777 /tmp" },

        -- The build user's home directory, when one is configured.
        { action = "cmd", only = { set = "pkgsrc.build_user" },
          create = [[
                mkdir -p ${bob_sandbox_path}${bob_build_user_home}
                chown ${bob_build_user} ${bob_sandbox_path}${bob_build_user_home}
          ]],
          destroy = "rm -rf ${bob_sandbox_path}${bob_build_user_home}" },

        { action = "mount", fs = "bind", dir = pkgsrc.basedir },
    },
}
