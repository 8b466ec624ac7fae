-- A configuration in the format of bob before 0.99.0: refused.
options = { build_threads = 2 }
environment = { clear = true, inherit = { "TERM" }, set = { PATH = "/bin" } }
pkgsrc = { basedir = "/usr/pkgsrc", make = "/usr/pkg/bin/bmake", logdir = "/tmp/logs" }
sandboxes = { basedir = "/data/chroot", build = {} }
