--[[
  A full bob 0.99.0-style Linux configuration: every action kind, every
  filesystem type, only predicates, script functions, hooks and both
  environment contexts.  tests/unit/test_config.c loads it and checks
  what it contains.
]]

-- The directory of this file, from the package.path entry bob prepends.
local confdir = package.path:match("^([^;]*)/%?%.lua;")
local helpers = require("full_helpers")

local pkgsrc_dir = "/usr/pkgsrc"

options = {
    build_threads = 4,
    scan_threads = 2,
    dbdir = "db",
    logdir = "/var/log/bob",
    log_level = "debug",
    strict_scan = true,
    tui = false,
    keep_logs = true,
}

pkgsrc = {
    basedir = pkgsrc_dir,
    make = "/usr/pkg/bin/bmake",
    bootstrap = "/data/packages/bootstrap.tar.gz",
    build_user = "builder",
    build_user_home = "/home/builder",
    pkgpaths = read_pkgpaths(confdir .. "/full_pkgpaths.txt"),
    cachevars = { "NATIVE_OPSYS", "NATIVE_OPSYS_VERSION", "NATIVE_OS_VERSION", "HOST_MACHINE_ARCH" },
    save_wrkdir_patterns = read_pkglist(confdir .. "/full_patterns.txt"),
}

sandboxes = {
    basedir = "/data/chroot/",
    bindfs = "/usr/bin/bindfs",

    environment = {
        build = {
            clear = true,
            inherit = { "TERM", "HOME" },
            vars = {
                PATH = "/sbin:/bin:/usr/sbin:/usr/bin",
                MAKE_JOBS = 4,
            },
        },
        dev = {
            clear = false,
            inherit = { "TERM", "HOME", "DISPLAY" },
            vars = {
                BINPKG_SITES = "${bob_packages}",
                DEPENDS_TARGET = "bin-install",
                PATH = "${bob_prefix}/sbin:${bob_prefix}/bin:/sbin:/bin:/usr/sbin:/usr/bin",
                PS1 = [["sandbox:${bob_sandbox_id} "'${PWD}# ']],
            },
            shell = "/bin/bash",
        },
    },

    setup = {
        { action = "mount", fs = "dev", dir = "/dev" },
        { action = "mount", fs = "fd", dir = "/dev/fd" },
        { action = "mount", fs = "proc", dir = "/proc" },
        { action = "mount", fs = "tmp", dir = "/tmp", opts = "size=1G,mode=1777" },
        { action = "mount", fs = "tmp", dest = "var/tmp", opts = "size=512M" },
        { action = "mount", fs = "nfs", src = "fileserver:/export/distfiles", dest = "/distfiles",
          opts = "vers=4,ro" },

        { action = "mount", fs = "bind", dir = "/usr/bin", opts = "ro" },
        { action = "mount", fs = "bind", dir = "/usr/sbin", opts = "ro" },
        { action = "mount", fs = "bind", dir = "/usr/lib", opts = "ro" },
        { action = "mount", fs = "lofs", dir = "/usr/include", opts = "ro" },
        { action = "mount", fs = "loop", dir = "/usr/share", opts = "ro" },
        { action = "mount", fs = "null", src = "/opt/tools", dest = "/opt/tools",
          only = { exists = "/opt/tools" } },

        { action = "symlink", src = "usr/bin", dest = "/bin" },
        { action = "symlink", src = "usr/lib", dest = "/lib" },
        { action = "symlink", src = "usr/sbin", dest = "/sbin" },
        -- Through the /lib link: really /usr/lib/locale-cache, inside the sandbox.
        { action = "mount", fs = "tmp", dest = "/lib/locale-cache" },

        { action = "copy", dir = "/etc" },
        { action = "copy", src = "/root/.vimrc",
          dest = "/root/.vimrc", only = { environment = "dev" } },

        { action = "cmd", chroot = true,
          create = "mkdir -m 1777 /var/tmp; chmod 1777 /tmp" },
        { action = "cmd", chroot = false, only = { set = "pkgsrc.build_user" },
          create = dedent([[
              mkdir -p ${bob_sandbox_path}${bob_build_user_home}
              chown ${bob_build_user} ${bob_sandbox_path}${bob_build_user_home}
          ]]),
          destroy = "rm -rf ${bob_sandbox_path}${bob_build_user_home}" },
        { action = "cmd", chroot = true,
          create = function()
              return scriptenv("echo $GREETING > /etc/motd", {
                  GREETING = helpers.greeting,
                  COUNT = 3,
                  DEBUG = true,
              })
          end,
          destroy = function()
              return scriptenv("rm -f /etc/motd")
          end },
        { action = "cmd", only = { set = "pkgsrc.not_set" }, create = "never" },

        { action = "macos-mdns-listener", only = { exists = "/System/Library" } },

        { action = "mount", fs = "bind", dir = pkgsrc.basedir,
          only = { exists = pkgsrc.basedir, environment = "build" } },
    },

    hooks = {
        { action = "cmd",
          create = "cp /etc/passwd ${bob_sandbox_path}/etc/passwd",
          destroy = "rm -rf ${bob_sandbox_path}/tmp/*" },
        { action = "mount", fs = "tmp", dir = "/work", opts = "size=4G",
          only = { environment = "build" } },
    },
}
