-- A fuzzing seed (fuzz/run copies it into the corpus): jobs generated from
-- pkgsrc.pkgpaths by the embedded lua/pkgsrc.lua, with a cycle-free list.
pkgsrc = {
    basedir = "/usr/pkgsrc",
    make = "/usr/pkg/bin/bmake",
    bootstrap = "/data/bootstrap.tar.gz",
    build_user = "nobody",
    build_user_home = "/nonexistent",
    pkgpaths = { "devel/gmake", "lang/lua54", "www/curl" },
    cachevars = { "NATIVE_OPSYS" },
    save_wrkdir_patterns = { "config.log", "*.core" },
}
sandboxes = { basedir = "/var/tmp/bob-fuzz/pkgsrc" }
