--[[
  bob configuration for an operating system without a bundled sandbox setup.

  There is no sandboxes section: commands run directly on this host.  Be
  careful: after each package build bob removes the package prefix and the
  package databases, and without sandboxes those are the HOST's own.  Add a
  sandboxes section (see the Linux or NetBSD defaults) before building.
]]

-- General options.
options = {
    build_threads = 1,
    scan_threads = 1,
    -- Log level: error, warn, info, debug or trace.
    log_level = "info",
}

-- Where pkgsrc is and what to build.
pkgsrc = {
    basedir = "/usr/pkgsrc",
    make = "/usr/pkg/bin/bmake",
    -- or pkgpaths = read_pkgpaths("/path/to/file"),
    pkgpaths = {
        "mail/mutt",
    },
    -- build_user = "builder",
}
