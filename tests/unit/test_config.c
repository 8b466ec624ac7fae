/* Unit tests of the configuration loader (src/config). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_pkgsrc.h"
#include "config/embed.h"

static char tmpdir[PATH_MAX];
static char cfgpath[PATH_MAX + 32];

#define SB_HEAD "sandboxes = { basedir = '/data/chroot', setup = {\n"
#define SB_TAIL "\n} }\n"

/* ---- helpers -------------------------------------------------------------- */

/* Writes text to path, failing the test on error. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole file into a malloc'd string. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Writes lua as tmpdir/config.lua and loads it with the given limits. */
static int load_limited(const char *lua, const struct config_limits *lim, struct config *cfg,
                        struct err *e)
{
    write_file(cfgpath, lua);
    return config_load_limited(cfgpath, lim, cfg, e);
}

/* Writes lua as tmpdir/config.lua and loads it. */
static int load_str(const char *lua, struct config *cfg, struct err *e)
{
    write_file(cfgpath, lua);
    return config_load(cfgpath, cfg, e);
}

/* Loads lua, which must succeed. */
static void load_ok(const char *lua, struct config *cfg)
{
    struct err e;
    if (load_str(lua, cfg, &e) != 0)
        fail_msg("unexpected error: %s", e.msg);
}

/* Loads lua, which must fail with a message that starts with the path and contains each needle. */
static void load_fails(const char *lua, ...)
{
    struct config cfg;
    struct err e;
    va_list ap;
    const char *needle;

    if (load_str(lua, &cfg, &e) == 0) {
        config_free(&cfg);
        fail_msg("config loaded but should fail:\n%s", lua);
    }
    /* A failed load leaves the config empty. */
    assert_null(cfg.path);
    assert_int_equal(cfg.setup.n, 0);
    if (strncmp(e.msg, cfgpath, strlen(cfgpath)) != 0)
        fail_msg("message does not start with the config path: %s", e.msg);
    va_start(ap, lua);
    while ((needle = va_arg(ap, const char *)))
        if (!strstr(e.msg, needle))
            fail_msg("message lacks '%s': %s", needle, e.msg);
    va_end(ap);
}

/* The value of "K=V" entry key in a sorted env list, or NULL. */
static const char *env_get(const struct strv *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], key, kl) == 0 && env->v[i][kl] == '=')
            return env->v[i] + kl + 1;
    return NULL;
}

/* Removes one entry for nftw. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Makes the temporary directory and a known environment. */
static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bob-test-config.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(cfgpath, sizeof(cfgpath), "%s/config.lua", tmpdir);
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    setenv("HOME", "/home/tester", 1);
    return 0;
}

/* Removes the temporary directory. */
static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- options ------------------------------------------------------------------ */

/* An empty config: every default. */
static void test_defaults(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("options = {} -- nothing else\n", &cfg);
    assert_string_equal(cfg.path, cfgpath);
    assert_string_equal(cfg.dir, tmpdir);
    assert_int_equal(cfg.build_threads, 1);
    assert_int_equal(cfg.scan_threads, 1);
    assert_string_equal(cfg.dbdir, "/xdg/data/bob");
    assert_string_equal(cfg.logdir, "/xdg/data/bob/logs");
    assert_string_equal(cfg.log_level, "info");
    assert_false(cfg.strict_scan);
    assert_true(cfg.tui);
    assert_false(cfg.keep_logs);
    assert_false(cfg.has_pkgsrc);
    assert_false(cfg.has_sandboxes);
    assert_int_equal(cfg.njobs, 0);
    assert_int_equal(cfg.warnings.n, 0);
    assert_int_equal(cfg.cachevars.n, 0);
    config_free(&cfg);
}

/* The default dbdir without XDG_DATA_HOME (or with a relative one). */
static void test_default_dbdir_home(void **state)
{
    struct config cfg;
    (void)state;
    unsetenv("XDG_DATA_HOME");
    load_ok("options = {}\n", &cfg);
    assert_string_equal(cfg.dbdir, "/home/tester/.local/share/bob");
    assert_string_equal(cfg.logdir, "/home/tester/.local/share/bob/logs");
    config_free(&cfg);
    /* A relative XDG_DATA_HOME is ignored, as the XDG spec says. */
    setenv("XDG_DATA_HOME", "relative/data", 1);
    load_ok("options = {}\n", &cfg);
    assert_string_equal(cfg.dbdir, "/home/tester/.local/share/bob");
    config_free(&cfg);
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
}

/* Every option set; a relative dbdir is relative to the config directory. */
static void test_options_all(void **state)
{
    struct config cfg;
    char want[PATH_MAX + 64];
    (void)state;
    load_ok("options = { build_threads = 8, scan_threads = 1024, dbdir = 'state/./db/',\n"
            "  logdir = 'rel/logs', log_level = 'trace', strict_scan = true, tui = false,\n"
            "  keep_logs = true }\n",
            &cfg);
    assert_int_equal(cfg.build_threads, 8);
    assert_int_equal(cfg.scan_threads, 1024);
    snprintf(want, sizeof(want), "%s/state/db", tmpdir);
    assert_string_equal(cfg.dbdir, want);
    assert_string_equal(cfg.logdir, "rel/logs"); /* as given, like bob */
    assert_string_equal(cfg.log_level, "trace");
    assert_true(cfg.strict_scan);
    assert_false(cfg.tui);
    assert_true(cfg.keep_logs);
    config_free(&cfg);

    load_ok("options = { dbdir = '/abs/db', build_threads = 2.0 }", &cfg);
    assert_string_equal(cfg.dbdir, "/abs/db");
    assert_string_equal(cfg.logdir, "/abs/db/logs");
    assert_int_equal(cfg.build_threads, 2);
    config_free(&cfg);
}

/* Bad option values name the option. */
static void test_options_errors(void **state)
{
    (void)state;
    load_fails("options = 'fast'", "options: must be a table, got string", NULL);
    load_fails("options = { build_threads = 0 }",
               "options.build_threads: must be an integer from 1 to 1024, got 0", NULL);
    load_fails("options = { build_threads = -3 }", "options.build_threads", "got -3", NULL);
    load_fails("options = { build_threads = 1025 }", "options.build_threads", "1025", NULL);
    load_fails("options = { build_threads = 2^40 }", "options.build_threads", NULL);
    load_fails("options = { build_threads = math.maxinteger }", "options.build_threads", NULL);
    load_fails("options = { scan_threads = 1.5 }", "options.scan_threads", "1.5", NULL);
    load_fails("options = { scan_threads = 'eight' }", "options.scan_threads", "got string", NULL);
    load_fails("options = { tui = 'no' }", "options.tui: must be a boolean", "got string", NULL);
    load_fails("options = { strict_scan = 0 }", "options.strict_scan: must be a boolean", NULL);
    load_fails("options = { keep_logs = 'yes' }", "options.keep_logs", NULL);
    load_fails("options = { log_level = 'loud' }", "options.log_level: unknown log level 'loud'",
               NULL);
    load_fails("options = { dbdir = {} }", "options.dbdir: must be a string, got table", NULL);
    load_fails("options = { dbdir = '' }", "options.dbdir: must not be empty", NULL);
    load_fails("options = { logdir = 'a\\0b' }", "options.logdir: must not contain a NUL", NULL);
}

/* Unknown keys in sections are warnings with bob's labels, sorted. */
static void test_unknown_key_warnings(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("options = { verbose = true, build_threads = 2 }\n"
            "pkgsrc = { basedir = '/p', make = '/m', tar = '/bin/tar' }\n"
            "sandboxes = { basedir = '/c', actionz = {}, environment = {\n"
            "  bulid = {}, build = { shell = '/bin/sh', foo = 1 }, dev = { bar = 2 } } }\n"
            "toplevel_helper = 1\n",
            &cfg);
    assert_int_equal(cfg.warnings.n, 8);
    /* The top-level names first, with the file and line they were set on. */
    {
        char want[PATH_MAX * 2 + 256];
        snprintf(want, sizeof(want),
                 "%s:5: unknown top-level name 'toplevel_helper' (not a setting of bob; make it "
                 "local if it is a helper)",
                 cfgpath);
        assert_string_equal(cfg.warnings.v[0], want);
    }
    assert_string_equal(cfg.warnings.v[1], "unknown config key 'options.verbose'");
    assert_string_equal(cfg.warnings.v[2], "unknown config key 'pkgsrc.tar'");
    assert_string_equal(cfg.warnings.v[3], "unknown config key 'sandboxes.actionz'");
    assert_string_equal(cfg.warnings.v[4], "unknown config key 'environment.bulid'");
    assert_string_equal(cfg.warnings.v[5], "unknown config key 'environment.build.foo'");
    assert_string_equal(cfg.warnings.v[6], "unknown config key 'environment.build.shell'");
    assert_string_equal(cfg.warnings.v[7], "unknown config key 'environment.dev.bar'");
    assert_int_equal(cfg.build_threads, 2);
    config_free(&cfg);
    /* Close to a name of bob's: the name it is likely to be; a helper function: nothing. */
    load_ok("sandboxes = { basedir = '/c' }\nfunction helper() end\noptoins = {}\njob = {}\n",
            &cfg);
    assert_int_equal(cfg.warnings.n, 2);
    strv_sort(&cfg.warnings);
    assert_non_null(
        strstr(cfg.warnings.v[1], ":4: unknown top-level name 'job': did you mean 'jobs'?"));
    assert_non_null(
        strstr(cfg.warnings.v[0], ":3: unknown top-level name 'optoins': did you mean 'options'?"));
    config_free(&cfg);
}

/* A config that sets nothing of bob's is an error, which shows the likely slip. */
static void test_empty_config(void **state)
{
    (void)state;
    load_fails("", "sets none of options, sandboxes, jobs and pkgsrc", NULL);
    load_fails("-- only a comment\nlocal x = 1\n", "nothing for bob to do", NULL);
    load_fails("sandbox = { basedir = '/c' }\n", "nothing for bob to do",
               ":1: unknown top-level name 'sandbox': did you mean 'sandboxes'?", NULL);
}

/* A job's run is a shell command: a number is refused; a logdir under a file is refused. */
static void test_strict_types(void **state)
{
    char *file = xasprintf("%s/afile", tmpdir), *lua;
    (void)state;
    load_fails("jobs = { { name = 'a', run = 5 } }\n",
               "jobs[1].run: must be a string (a shell command), got number", NULL);
    load_fails("jobs = { { name = 'a', stages = { { name = 'build', run = 5 } } } }\n",
               "jobs[1].stages[1].run: must be a string (a shell command), got number", NULL);
    write_file(file, "x");
    lua = xasprintf("options = { logdir = '%s/logs' }\n", file);
    load_fails(lua, "options.logdir:", "cannot be made:", "is not a directory", NULL);
    free(lua);
    lua = xasprintf("options = { dbdir = '%s/db/x' }\n", file);
    load_fails(lua, "options.dbdir:", "is not a directory", NULL);
    free(lua);
    free(file);
}

/* dynamic, publish and summary are accepted and reported. */
static void test_unsupported_sections(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("options = {}\ndynamic = { jobs = 32 }\npublish = { rsync = 'rsync' }\nsummary = {}\n",
            &cfg);
    assert_int_equal(cfg.warnings.n, 3);
    assert_string_equal(cfg.warnings.v[0], "dynamic: not supported, ignored");
    assert_string_equal(cfg.warnings.v[1], "publish: not supported, ignored");
    assert_string_equal(cfg.warnings.v[2], "summary: not supported, ignored");
    config_free(&cfg);
}

/* ---- pkgsrc ---------------------------------------------------------------------- */

/* Every pkgsrc field; build_user_home from the password database. */
static void test_pkgsrc_full(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("pkgsrc = { basedir = '/usr/pkgsrc', make = '/usr/pkg/bin/bmake',\n"
            "  bootstrap = '/b/bootstrap.tar.gz', build_user = 'root',\n"
            "  cachevars = { 'A', 'B_2' }, pkgpaths = { 'mail/mutt', 'devel/cmake' },\n"
            "  save_wrkdir_patterns = { '**/config.log' } }\n",
            &cfg);
    assert_true(cfg.has_pkgsrc);
    assert_string_equal(cfg.pkgsrc_basedir, "/usr/pkgsrc");
    assert_string_equal(cfg.make, "/usr/pkg/bin/bmake");
    assert_string_equal(cfg.bootstrap, "/b/bootstrap.tar.gz");
    assert_string_equal(cfg.build_user, "root");
    assert_string_equal(cfg.build_user_home, "/root"); /* from getpwnam */
    assert_int_equal(cfg.cachevars.n, 2);
    assert_string_equal(cfg.cachevars.v[1], "B_2");
    assert_int_equal(cfg.pkgpaths.n, 2);
    assert_string_equal(cfg.pkgpaths.v[0], "mail/mutt");
    assert_string_equal(cfg.pkgpaths.v[1], "devel/cmake");
    assert_int_equal(cfg.save_wrkdir_patterns.n, 1);
    assert_int_equal(cfg.njobs, 0); /* pkgpaths without jobs: the jobs come from a scan */
    config_free(&cfg);
}

/* pkgsrc defaults: cachevars, optional fields. */
static void test_pkgsrc_defaults(void **state)
{
    struct config cfg;
    (void)state;
    /* Numbers are accepted where strings are expected (bob). */
    load_ok("pkgsrc = { basedir = 42, make = '/m', build_user_home = '/ignored' }", &cfg);
    assert_string_equal(cfg.pkgsrc_basedir, "42");
    assert_null(cfg.bootstrap);
    assert_null(cfg.build_user);
    assert_null(cfg.build_user_home); /* read only when build_user is set */
    assert_int_equal(cfg.pkgpaths.n, 0);
    assert_int_equal(cfg.save_wrkdir_patterns.n, 0);
    assert_int_equal(cfg.cachevars.n, 3);
    assert_string_equal(cfg.cachevars.v[0], "NATIVE_OPSYS");
    assert_string_equal(cfg.cachevars.v[1], "NATIVE_OPSYS_VERSION");
    assert_string_equal(cfg.cachevars.v[2], "NATIVE_OS_VERSION");
    config_free(&cfg);

    /* An explicit empty list is no cachevars at all; an explicit home is kept. */
    load_ok("pkgsrc = { basedir = '/p', make = '/m', cachevars = {}, build_user = 'nosuchuser',\n"
            "  build_user_home = '/home/builder' }",
            &cfg);
    assert_int_equal(cfg.cachevars.n, 0);
    assert_string_equal(cfg.build_user_home, "/home/builder");
    config_free(&cfg);
}

/* Bad pkgsrc values name the field (and the list index). */
static void test_pkgsrc_errors(void **state)
{
    (void)state;
    load_fails("pkgsrc = true", "pkgsrc: must be a table, got boolean", NULL);
    load_fails("pkgsrc = { make = '/m' }", "pkgsrc.basedir: missing required field 'basedir'",
               NULL);
    load_fails("pkgsrc = { basedir = '/p' }", "pkgsrc.make: missing required field 'make'", NULL);
    load_fails("pkgsrc = { basedir = {}, make = '/m' }",
               "pkgsrc.basedir: must be a string, got table", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '' }", "pkgsrc.make: must not be empty", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', build_user = 'no-such-user-bob' }",
               "pkgsrc.build_user: user 'no-such-user-bob' not found in password database", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', cachevars = { a = 'X' } }",
               "pkgsrc.cachevars: must be a list, not a keyed table", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', cachevars = { 'A', 2 } }",
               "pkgsrc.cachevars[2]: must be a string, got number", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', cachevars = 'A' }",
               "pkgsrc.cachevars: must be a table, got string", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', cachevars = { 'A B' } }",
               "pkgsrc.cachevars[1]: 'A B' is not a valid variable name", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'mail/mutt', 'mail' } }",
               "pkgsrc.pkgpaths[2]: invalid pkgpath 'mail'", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b/c' } }",
               "pkgsrc.pkgpaths[1]: invalid pkgpath 'a/b/c'", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { '../x' } }",
               "pkgsrc.pkgpaths[1]: invalid pkgpath '../x'", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 42 } }",
               "pkgsrc.pkgpaths[1]: must be a string", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = 'mail/mutt' }",
               "pkgsrc.pkgpaths: must be a table", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', save_wrkdir_patterns = { {} } }",
               "pkgsrc.save_wrkdir_patterns[1]: must be a string, got table", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b', nil, 'c/d' } }",
               "pkgsrc.pkgpaths", NULL);
}

/* ---- sandboxes ------------------------------------------------------------------- */

/* sandboxes.basedir normalized; bindfs default. */
static void test_sandboxes_basic(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("sandboxes = { basedir = '//data//chroot/./' }", &cfg);
    assert_true(cfg.has_sandboxes);
    assert_string_equal(cfg.basedir, "/data/chroot");
    assert_string_equal(cfg.bindfs, "bindfs");
    assert_int_equal(cfg.setup.n, 0);
    assert_int_equal(cfg.hooks.n, 0);
    assert_false(cfg.env_build.present);
    assert_false(cfg.env_dev.present);
    config_free(&cfg);

    load_ok("sandboxes = { basedir = '/c', bindfs = '/opt/bin/bindfs', setup = {}, hooks = {} }",
            &cfg);
    assert_string_equal(cfg.bindfs, "/opt/bin/bindfs");
    config_free(&cfg);
}

/* basedir must be absolute, not "/", without ".."; list shapes. */
static void test_sandboxes_errors(void **state)
{
    (void)state;
    load_fails("sandboxes = '/data'", "sandboxes: must be a table, got string", NULL);
    load_fails("sandboxes = {}", "sandboxes.basedir: missing required field 'basedir'", NULL);
    load_fails("sandboxes = { basedir = 'data/chroot' }",
               "sandboxes.basedir: must be an absolute path, got 'data/chroot'", NULL);
    load_fails("sandboxes = { basedir = '/' }", "sandboxes.basedir: must not be '/'", NULL);
    load_fails("sandboxes = { basedir = '//./' }", "sandboxes.basedir: must not be '/'", NULL);
    load_fails("sandboxes = { basedir = '/data/../chroot' }",
               "sandboxes.basedir: must not contain '..' components", NULL);
    load_fails("sandboxes = { basedir = '/c', setup = 'x' }",
               "sandboxes.setup: must be a table, got string", NULL);
    load_fails("sandboxes = { basedir = '/c', hooks = 5 }",
               "sandboxes.hooks: must be a table, got number", NULL);
    load_fails("sandboxes = { basedir = '/c', setup = { first = { action = 'copy', dir = "
               "'/etc' } } }",
               "sandboxes.setup: must be a list, not a keyed table", NULL);
    load_fails("sandboxes = { basedir = '/c', setup = { 'copy' } }",
               "sandboxes.setup[1]: must be a table, got string", NULL);
    load_fails("sandboxes = { basedir = '/c', bindfs = false }",
               "sandboxes.bindfs: must be a string, got boolean", NULL);
}

/* environment.build/dev: clear default, inherit, vars sorted by key, shell. */
static void test_environment(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("sandboxes = { basedir = '/c', environment = {\n"
            "  build = { inherit = { 'TERM', 'HOME' }, vars = { PATH = '/bin', B = 2, A1 = 'x',"
            " A = 'y' } },\n"
            "  dev = { clear = false, vars = { PS1 = '$ ' }, shell = '/bin/bash' } } }\n",
            &cfg);
    assert_true(cfg.env_build.present);
    assert_true(cfg.env_build.clear); /* default when the table exists */
    assert_int_equal(cfg.env_build.inherit.n, 2);
    assert_string_equal(cfg.env_build.inherit.v[0], "TERM");
    assert_int_equal(cfg.env_build.vars.n, 4);
    /* Sorted by key, not by "K=V": A before A1. */
    assert_string_equal(cfg.env_build.vars.v[0], "A=y");
    assert_string_equal(cfg.env_build.vars.v[1], "A1=x");
    assert_string_equal(cfg.env_build.vars.v[2], "B=2");
    assert_string_equal(cfg.env_build.vars.v[3], "PATH=/bin");
    assert_null(cfg.env_build.shell);
    assert_true(cfg.env_dev.present);
    assert_false(cfg.env_dev.clear);
    assert_int_equal(cfg.env_dev.inherit.n, 0);
    assert_string_equal(env_get(&cfg.env_dev.vars, "PS1"), "$ ");
    assert_string_equal(cfg.env_dev.shell, "/bin/bash");
    config_free(&cfg);

    load_ok("sandboxes = { basedir = '/c', environment = { dev = {} } }", &cfg);
    assert_false(cfg.env_build.present);
    assert_true(cfg.env_dev.present);
    assert_true(cfg.env_dev.clear);
    config_free(&cfg);
}

/* Bad environment values name the exact place. */
static void test_environment_errors(void **state)
{
    (void)state;
    load_fails("sandboxes = { basedir = '/c', environment = 'x' }",
               "sandboxes.environment: must be a table, got string", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { build = true } }",
               "sandboxes.environment.build: must be a table, got boolean", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { build = { clear = 'no' } } }",
               "sandboxes.environment.build.clear: must be a boolean", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { build = { inherit = { a = 'TERM' "
               "} } } }",
               "sandboxes.environment.build.inherit: must be a list, not a keyed table", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { dev = { inherit = { 'A-B' } } } }",
               "sandboxes.environment.dev.inherit[1]: 'A-B' is not a valid variable name", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { build = { vars = { PATH = {} } } } }",
               "sandboxes.environment.build.vars.PATH: must be a string, got table", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { build = { vars = { X = true } } } }",
               "sandboxes.environment.build.vars.X: must be a string, got boolean", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { build = { vars = { ['1X'] = 'a' } "
               "} } }",
               "sandboxes.environment.build.vars: key '1X' is not a valid shell identifier", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { build = { vars = 'PATH=/bin' } } }",
               "sandboxes.environment.build.vars: must be a table, got string", NULL);
    load_fails("sandboxes = { basedir = '/c', environment = { dev = { shell = 5 > 4 } } }",
               "sandboxes.environment.dev.shell: must be a string, got boolean", NULL);
}

/* ---- actions --------------------------------------------------------------------- */

/* Every action kind and filesystem type, with dir/src/dest defaults. */
static void test_actions_kinds(void **state)
{
    struct config cfg;
    const struct action *a;
    (void)state;
    load_ok(SB_HEAD
            "{ action = 'mount', fs = 'bind', dir = '/usr/bin', opts = 'ro' },\n"
            "{ action = 'mount', fs = 'lofs', src = '/opt/x' },\n"
            "{ action = 'mount', fs = 'proc', dir = '/proc' },\n"
            "{ action = 'mount', fs = 'tmp', dest = 'var//tmp/', opts = 'size=1G' },\n"
            "{ action = 'mount', fs = 'nfs', src = 'host:/export', dest = '/nfs' },\n"
            "{ action = 'mount', fs = 'dev', dir = '/dev' },\n"
            "{ action = 'mount', fs = 'fd', dest = '/dev/fd' },\n"
            "{ action = 'copy', dir = '/etc/' },\n"
            "{ action = 'copy', src = '/root/.vimrc', dest = '/root/.vimrc' },\n"
            "{ action = 'symlink', src = 'usr/bin', dest = 'bin' },\n"
            "{ action = 'cmd', chroot = true, create = 'mkdir /x', destroy = 'rmdir /x' },\n"
            "{ action = 'cmd', destroy = 'true' },\n"
            "{ action = 'macos-mdns-listener' },\n"
            "{ action = 'mount', fs = 'loop', dir = '/a' },\n"
            "{ action = 'mount', fs = 'null', dir = '/b' },\n" SB_TAIL,
            &cfg);
    assert_int_equal(cfg.setup.n, 15);
    a = &cfg.setup.v[0];
    assert_int_equal(a->kind, ACTION_MOUNT);
    assert_int_equal(a->fs, FS_BIND);
    assert_string_equal(a->fs_name, "bind");
    assert_string_equal(a->src, "/usr/bin");
    assert_string_equal(a->dest, "/usr/bin");
    assert_string_equal(a->opts, "ro");
    assert_string_equal(a->where, "sandboxes.setup[1]");
    assert_int_equal(a->only_env, CTX_ANY);
    assert_null(a->only_exists);
    a = &cfg.setup.v[1];
    assert_int_equal(a->fs, FS_BIND);
    assert_string_equal(a->fs_name, "lofs");
    assert_string_equal(a->dest, "/opt/x"); /* dest defaults to src */
    assert_null(a->opts);
    a = &cfg.setup.v[2];
    assert_int_equal(a->fs, FS_PROC);
    assert_null(a->src); /* dir fills only dest for fs types without a source */
    assert_string_equal(a->dest, "/proc");
    a = &cfg.setup.v[3];
    assert_int_equal(a->fs, FS_TMP);
    assert_string_equal(a->dest, "/var/tmp"); /* relative to the sandbox root, normalized */
    assert_string_equal(a->opts, "size=1G");
    a = &cfg.setup.v[4];
    assert_int_equal(a->fs, FS_NFS);
    assert_string_equal(a->src, "host:/export");
    assert_string_equal(a->dest, "/nfs");
    assert_int_equal(cfg.setup.v[5].fs, FS_DEV);
    assert_int_equal(cfg.setup.v[6].fs, FS_FD);
    a = &cfg.setup.v[7];
    assert_int_equal(a->kind, ACTION_COPY);
    assert_string_equal(a->src, "/etc");
    assert_string_equal(a->dest, "/etc");
    assert_string_equal(cfg.setup.v[8].dest, "/root/.vimrc");
    a = &cfg.setup.v[9];
    assert_int_equal(a->kind, ACTION_SYMLINK);
    assert_string_equal(a->src, "usr/bin"); /* the link target stays as written */
    assert_string_equal(a->dest, "/bin");
    a = &cfg.setup.v[10];
    assert_int_equal(a->kind, ACTION_CMD);
    assert_true(a->chroot);
    assert_string_equal(a->create.run, "mkdir /x");
    assert_string_equal(a->destroy.run, "rmdir /x");
    assert_int_equal(a->create.env.n, 0);
    a = &cfg.setup.v[11];
    assert_false(a->chroot);
    assert_null(a->create.run);
    assert_string_equal(a->destroy.run, "true");
    assert_int_equal(cfg.setup.v[12].kind, ACTION_MDNS);
    assert_int_equal(cfg.setup.v[13].fs, FS_BIND);
    assert_string_equal(cfg.setup.v[13].fs_name, "loop");
    assert_int_equal(cfg.setup.v[14].fs, FS_BIND);
    config_free(&cfg);
}

/* bob's action validation messages, at load time, with the place. */
static void test_actions_semantic_errors(void **state)
{
    (void)state;
    load_fails(SB_HEAD "{ action = 'mnt', dir = '/x' }" SB_TAIL,
               "sandboxes.setup[1].action: unsupported action type 'mnt'", NULL);
    load_fails(SB_HEAD "{ fs = 'bind', dir = '/x' }" SB_TAIL,
               "sandboxes.setup[1].action: missing required field 'action'", NULL);
    load_fails(SB_HEAD
               "{ action = 'copy', dir = '/etc' }, { action = 'cmd', chroot = true }" SB_TAIL,
               "sandboxes.setup[2]: 'cmd' action requires 'create' or 'destroy' command", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = '' }" SB_TAIL,
               "sandboxes.setup[1]: 'cmd' action requires 'create' or 'destroy'", NULL);
    load_fails(SB_HEAD "{ action = 'mount', dir = '/x' }" SB_TAIL,
               "sandboxes.setup[1].fs: 'mount' action requires 'fs' field", NULL);
    load_fails(SB_HEAD "{ action = 'copy', dir = '/etc' }, { action = 'copy', dir = '/etc' },\n"
                       "{ action = 'copy', dir = '/etc' }, { action = 'copy', dir = '/etc' },\n"
                       "{ action = 'copy', dir = '/etc' }, { action = 'copy', dir = '/etc' },\n"
                       "{ action = 'mount', fs = 'bnd', dir = '/x' }" SB_TAIL,
               "sandboxes.setup[7].fs: unsupported filesystem type 'bnd' (expected bind, dev, fd, "
               "nfs, proc or tmp)",
               NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp' }" SB_TAIL,
               "sandboxes.setup[1]: 'mount' action requires 'src' or 'dest' path", NULL);
    load_fails(SB_HEAD "{ action = 'copy' }" SB_TAIL,
               "sandboxes.setup[1]: 'copy' action requires 'src' or 'dest' path", NULL);
    load_fails(SB_HEAD "{ action = 'symlink', dest = '/bin' }" SB_TAIL,
               "sandboxes.setup[1].src: 'symlink' action requires 'src' (link target)", NULL);
    load_fails(SB_HEAD "{ action = 'symlink', src = 'usr/bin' }" SB_TAIL,
               "sandboxes.setup[1].dest: 'symlink' action requires 'dest' (link name)", NULL);
    load_fails(SB_HEAD "{ action = 'symlink', src = '', dest = '/x' }" SB_TAIL,
               "sandboxes.setup[1].src: must not be empty", NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp', dest = '' }" SB_TAIL,
               "sandboxes.setup[1].dest: must not be empty", NULL);
    load_fails("sandboxes = { basedir = '/c', hooks = { { action = 'copy' } } }",
               "sandboxes.hooks[1]: 'copy' action requires", NULL);
}

/* Booleans must be booleans; strings must be strings. */
static void test_actions_strict_types(void **state)
{
    (void)state;
    load_fails(SB_HEAD "{ action = 'cmd', chroot = 'no', create = 'x' }" SB_TAIL,
               "sandboxes.setup[1].chroot: must be a boolean (true or false), got string", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', chroot = 1, create = 'x' }" SB_TAIL,
               "sandboxes.setup[1].chroot: must be a boolean", NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp', dir = '/t', opts = { 'ro' } }" SB_TAIL,
               "sandboxes.setup[1].opts: must be a string, got table", NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = true, dir = '/t' }" SB_TAIL,
               "sandboxes.setup[1].fs: must be a string, got boolean", NULL);
    load_fails(SB_HEAD "{ action = 'copy', dir = {} }" SB_TAIL,
               "sandboxes.setup[1].dir: must be a string, got table", NULL);
}

/* Unknown keys and keys the action kind does not use are errors. */
static void test_actions_unknown_keys(void **state)
{
    (void)state;
    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp', dir = '/t', opt = 'size=1G' }" SB_TAIL,
               "sandboxes.setup[1].opt: unknown key (expected action, fs, dir, src, dest, opts, "
               "create, destroy, chroot or only)",
               NULL);
    load_fails(SB_HEAD "{ 'mount', fs = 'tmp', dir = '/t' }" SB_TAIL,
               "sandboxes.setup[1][1]: unknown key", NULL);
    load_fails(SB_HEAD "{ action = 'copy', dir = '/etc', fs = 'bind' }" SB_TAIL,
               "sandboxes.setup[1].fs: 'fs' is not used by 'copy' actions", NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp', dir = '/t', chroot = true }" SB_TAIL,
               "sandboxes.setup[1].chroot: 'chroot' is not used by 'mount' actions", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = 'x', dir = '/t' }" SB_TAIL,
               "sandboxes.setup[1].dir: 'dir' is not used by 'cmd' actions", NULL);
    load_fails(SB_HEAD "{ action = 'symlink', dir = '/t' }" SB_TAIL,
               "sandboxes.setup[1].dir: 'dir' is not used by 'symlink' actions", NULL);
    load_fails(SB_HEAD "{ action = 'macos-mdns-listener', dest = '/x' }" SB_TAIL,
               "'dest' is not used by 'macos-mdns-listener' actions", NULL);
    load_fails(SB_HEAD "{ action = 'copy', dir = '/etc', only = { exist = '/etc' } }" SB_TAIL,
               "sandboxes.setup[1].only.exist: unknown key (expected environment, set or exists)",
               NULL);
    /* Unknown keys are caught even in actions that only.set drops. */
    load_fails(SB_HEAD "{ action = 'copy', dirr = '/etc', only = { set = 'nothing' } }" SB_TAIL,
               "sandboxes.setup[1].dirr: unknown key", NULL);
}

/* Destinations may not escape the sandbox by ".." or by earlier symlinks. */
static void test_actions_paths(void **state)
{
    struct config cfg;
    (void)state;
    /* Destinations through in-sandbox symlinks are fine. */
    load_ok(SB_HEAD "{ action = 'symlink', src = 'usr/lib', dest = '/lib' },\n"
                    "{ action = 'symlink', src = '../usr/lib64', dest = '/opt/lib64' },\n"
                    "{ action = 'mount', fs = 'tmp', dest = '/lib/cache' },\n"
                    "{ action = 'mount', fs = 'tmp', dest = '/opt/lib64/x' },\n"
                    "{ action = 'mount', fs = 'tmp', dest = '/usr/../opt' },\n"
                    "{ action = 'mount', fs = 'tmp', dest = '/lib/../srv' }" SB_TAIL,
            &cfg);
    assert_int_equal(cfg.setup.n, 6);
    assert_string_equal(cfg.setup.v[2].dest, "/lib/cache");
    assert_string_equal(cfg.setup.v[4].dest, "/opt");
    /* ".." after a symlink means what the kernel makes of it. */
    assert_string_equal(cfg.setup.v[5].dest, "/usr/srv");
    config_free(&cfg);

    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp', dest = '../../etc' }" SB_TAIL,
               "sandboxes.setup[1].dest: path escapes the sandbox: '../../etc' climbs above the "
               "sandbox root",
               NULL);
    load_fails(SB_HEAD "{ action = 'copy', src = '/etc', dest = '/a/../../etc' }" SB_TAIL,
               "sandboxes.setup[1].dest: path escapes the sandbox", NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'proc', dir = '/../proc' }" SB_TAIL,
               "sandboxes.setup[1].dir: path escapes the sandbox", NULL);
    load_fails(SB_HEAD "{ action = 'symlink', src = '/usr/bin', dest = '/bin' },\n"
                       "{ action = 'copy', dir = '/etc' },\n"
                       "{ action = 'mount', fs = 'tmp', dest = '/bin/x' }" SB_TAIL,
               "sandboxes.setup[3].dest: path escapes the sandbox: '/bin/x' goes through the "
               "symlink '/bin' -> '/usr/bin' made by sandboxes.setup[1]",
               NULL);
    /* "/.." is "/" inside a chroot, but bob works on host paths, where it leads out. */
    load_fails(SB_HEAD
               "{ action = 'symlink', src = '../usr/lib64', dest = '/lib64' },\n"
               "{ action = 'copy', src = '/etc/ld.so.conf', dest = '/lib64/ld.conf' }" SB_TAIL,
               "sandboxes.setup[2].dest: path escapes the sandbox: '/lib64/ld.conf' goes "
               "through the symlink '/lib64' -> '../usr/lib64' made by sandboxes.setup[1]",
               NULL);
    load_fails(SB_HEAD "{ action = 'symlink', src = '../../..', dest = '/a/b' },\n"
                       "{ action = 'mount', fs = 'tmp', dest = '/a/b/etc' }" SB_TAIL,
               "sandboxes.setup[2].dest: path escapes the sandbox", "made by sandboxes.setup[1]",
               NULL);
    /* A later link leading out makes an earlier in-sandbox one escape too. */
    load_fails(SB_HEAD "{ action = 'symlink', src = 'b/c', dest = '/a' },\n"
                       "{ action = 'symlink', src = '/', dest = '/b' },\n"
                       "{ action = 'mount', fs = 'tmp', dest = '/a/x' }" SB_TAIL,
               "sandboxes.setup[3].dest: path escapes the sandbox", "sandboxes.setup[2]", NULL);
    /* The mount point itself is a link: followed. */
    load_fails(SB_HEAD "{ action = 'symlink', src = '/tmp', dest = '/t' },\n"
                       "{ action = 'mount', fs = 'tmp', dest = '/t' }" SB_TAIL,
               "sandboxes.setup[2].dest: path escapes the sandbox", NULL);
    /* Hooks run after setup: setup's links count. */
    load_fails("sandboxes = { basedir = '/c', setup = { { action = 'symlink', src = '/x', dest = "
               "'/y' } }, hooks = { { action = 'copy', src = '/etc/passwd', dest = '/y/passwd' } "
               "} }",
               "sandboxes.hooks[1].dest: path escapes the sandbox", NULL);
    load_fails(SB_HEAD "{ action = 'symlink', src = 'a', dest = '/a' },\n"
                       "{ action = 'mount', fs = 'tmp', dest = '/a/x' }" SB_TAIL,
               "sandboxes.setup[2].dest: too many levels of symbolic links", NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp', dest = '/' }" SB_TAIL,
               "sandboxes.setup[1].dest: the sandbox root itself cannot be a destination", NULL);
    load_fails(SB_HEAD "{ action = 'copy', src = '/etc', dest = '/usr/..' }" SB_TAIL,
               "sandboxes.setup[1].dest: the sandbox root itself", NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'tmp', dest = '/.bob/completed' }" SB_TAIL,
               "sandboxes.setup[1].dest: '/.bob' is reserved", NULL);
}

/* Bind and copy sources: absolute, no "..", not containing basedir. */
static void test_actions_src_checks(void **state)
{
    struct config cfg;
    (void)state;
    load_fails(SB_HEAD
               "{ action = 'mount', fs = 'bind', src = 'usr/bin', dest = '/usr/bin' }" SB_TAIL,
               "sandboxes.setup[1].src: must be an absolute host path, got 'usr/bin'", NULL);
    load_fails(SB_HEAD "{ action = 'copy', src = '/etc/../root', dest = '/root' }" SB_TAIL,
               "sandboxes.setup[1].src: must not contain '..' components", NULL);
    load_fails(SB_HEAD "{ action = 'copy', src = '/', dest = '/host' }" SB_TAIL,
               "sandboxes.setup[1].src: '/' contains sandboxes.basedir '/data/chroot' (the copy "
               "would never end)",
               NULL);
    load_fails(SB_HEAD "{ action = 'mount', fs = 'bind', dir = '/data' }" SB_TAIL,
               "sandboxes.setup[1].dir: '/data' contains sandboxes.basedir '/data/chroot' (the "
               "bind would expose the sandboxes inside themselves)",
               NULL);
    load_fails(SB_HEAD
               "{ action = 'mount', fs = 'null', src = '/data/chroot/', dest = '/x' }" SB_TAIL,
               "sandboxes.setup[1].src: '/data/chroot' contains sandboxes.basedir", NULL);
    /* A sibling with a common prefix is not an ancestor. */
    load_ok(SB_HEAD "{ action = 'mount', fs = 'bind', dir = '/data/chroot2' },\n"
                    "{ action = 'copy', src = '/data/chroot-etc/', dest = '/etc' }" SB_TAIL,
            &cfg);
    assert_string_equal(cfg.setup.v[1].src, "/data/chroot-etc");
    config_free(&cfg);
}

/* A host symlink to an ancestor of basedir is seen through. */
static void test_actions_src_realpath(void **state)
{
    char link[PATH_MAX + 16], real[PATH_MAX + 16], lua[3 * PATH_MAX];
    (void)state;
    /* A host symlink to an ancestor of basedir is caught through realpath. */
    snprintf(real, sizeof(real), "%s/realbase", tmpdir);
    snprintf(link, sizeof(link), "%s/linkbase", tmpdir);
    assert_int_equal(mkdir(real, 0755), 0);
    assert_int_equal(symlink(real, link), 0);
    snprintf(lua, sizeof(lua),
             "sandboxes = { basedir = '%s/chroot', setup = { { action = 'copy', src = '%s', dest "
             "= '/x' } } }",
             real, link);
    load_fails(lua, "sandboxes.setup[1].src", "really", "contains sandboxes.basedir", NULL);
    unlink(link);
    rmdir(real);
}

/* ---- only ------------------------------------------------------------------------- */

/* only.set at load time: which values count as set; dropped actions. */
static void test_only_set(void **state)
{
    struct config cfg;
    static const char *const kept[] = {"1", "2", "3", "4", "8", "10"};
    static const char *const where[] = {"[1]", "[2]", "[3]", "[4]", "[8]", "[10]"};
    (void)state;
    load_ok("pkgsrc = { basedir = '/p', make = '/m', build_user = 'root' }\n"
            "custom = { str = 'x', empty = '', num = 5, flt = 1.5, yes = true, tbl = {},\n"
            "  nested = { deep = { v = 'y' } } }\n" SB_HEAD
            "{ action = 'cmd', create = '1', only = { set = 'custom.str' } },\n"
            "{ action = 'cmd', create = '2', only = { set = 'custom.empty' } },\n"
            "{ action = 'cmd', create = '3', only = { set = 'custom.num' } },\n"
            "{ action = 'cmd', create = '4', only = { set = 'custom.flt' } },\n"
            "{ action = 'cmd', create = '5', only = { set = 'custom.yes' } },\n"
            "{ action = 'cmd', create = '6', only = { set = 'custom.tbl' } },\n"
            "{ action = 'cmd', create = '7', only = { set = 'custom.missing' } },\n"
            "{ action = 'cmd', create = '8', only = { set = 'custom.nested.deep.v' } },\n"
            "{ action = 'cmd', create = '9', only = { set = 'custom.str.sub' } },\n"
            "{ action = 'cmd', create = '10', only = { set = 'pkgsrc.build_user_home' } },\n"
            "{ action = 'mount', fs = 'bind', dir = custom.nothing, only = { set = "
            "'custom.nothing' } },\n"
            "{ action = 'cmd', create = function() error('never called') end,\n"
            "  only = { set = 'nosuchglobal' } },\n"
            "{ action = 'cmd', create = '13', only = { set = '' } },\n" SB_TAIL
            /* Set after the sandboxes table: only.set sees the whole file. */
            "custom.late = 'z'\n",
            &cfg);
    assert_int_equal(cfg.setup.n, 6);
    for (size_t i = 0; i < 6; i++) {
        char w[64];
        snprintf(w, sizeof(w), "sandboxes.setup%s", where[i]);
        assert_string_equal(cfg.setup.v[i].create.run, kept[i]);
        assert_string_equal(cfg.setup.v[i].where, w);
    }
    config_free(&cfg);

    load_ok(SB_HEAD "{ action = 'cmd', create = 'late', only = { set = 'custom.late' } }" SB_TAIL
                    "custom = { late = 'z' }\n",
            &cfg);
    assert_int_equal(cfg.setup.n, 1);
    config_free(&cfg);
}

/* only.environment and only.exists are kept for run time. */
static void test_only_env_exists(void **state)
{
    struct config cfg;
    (void)state;
    load_ok(SB_HEAD "{ action = 'copy', dir = '/etc', only = { environment = 'dev' } },\n"
                    "{ action = 'copy', dir = '/opt', only = { environment = 'build', exists = "
                    "'/opt' } },\n"
                    "{ action = 'copy', dir = '/srv', only = {} }" SB_TAIL,
            &cfg);
    assert_int_equal(cfg.setup.n, 3);
    assert_int_equal(cfg.setup.v[0].only_env, CTX_DEV);
    assert_null(cfg.setup.v[0].only_exists);
    assert_int_equal(cfg.setup.v[1].only_env, CTX_BUILD);
    assert_string_equal(cfg.setup.v[1].only_exists, "/opt");
    assert_int_equal(cfg.setup.v[2].only_env, CTX_ANY);
    config_free(&cfg);

    load_fails(SB_HEAD "{ action = 'copy', dir = '/etc', only = 'dev' }" SB_TAIL,
               "sandboxes.setup[1].only: 'only' must be a table of predicates, got string", NULL);
    load_fails(SB_HEAD
               "{ action = 'copy', dir = '/etc', only = { environment = 'shell' } }" SB_TAIL,
               "sandboxes.setup[1].only.environment: must be 'build' or 'dev', got 'shell'", NULL);
    load_fails(SB_HEAD "{ action = 'copy', dir = '/etc', only = { set = true } }" SB_TAIL,
               "sandboxes.setup[1].only.set: must be a string, got boolean", NULL);
    load_fails(SB_HEAD "{ action = 'copy', dir = '/etc', only = { exists = 5 > 1 } }" SB_TAIL,
               "sandboxes.setup[1].only.exists: must be a string", NULL);
}

/* ---- scripts -------------------------------------------------------------------- */

/* Script functions: run, env sorted by key, value conversion. */
static void test_script_functions(void **state)
{
    struct config cfg;
    const struct action *a;
    (void)state;
    load_ok("local home = '/home/b'\n" SB_HEAD "{ action = 'cmd', chroot = true,\n"
            "  create = function() return scriptenv('mkdir -p $H', { H = home, B = 2, A1 = 1.5,"
            " A = true, Z_ = false }) end,\n"
            "  destroy = function() return { run = 'rm -rf $H' } end },\n"
            "{ action = 'cmd', create = function() return scriptenv('') end, destroy = 'x' },\n"
            "{ action = 'cmd', create = function() return { run = 'ok', env = {} } end }\n" SB_TAIL,
            &cfg);
    a = &cfg.setup.v[0];
    assert_string_equal(a->create.run, "mkdir -p $H");
    assert_int_equal(a->create.env.n, 5);
    assert_string_equal(a->create.env.v[0], "A=true");
    assert_string_equal(a->create.env.v[1], "A1=1.5");
    assert_string_equal(a->create.env.v[2], "B=2");
    assert_string_equal(a->create.env.v[3], "H=/home/b");
    assert_string_equal(a->create.env.v[4], "Z_=false");
    assert_string_equal(a->destroy.run, "rm -rf $H");
    assert_int_equal(a->destroy.env.n, 0);
    /* An empty run counts as absent. */
    assert_null(cfg.setup.v[1].create.run);
    assert_int_equal(cfg.setup.v[1].create.env.n, 0);
    assert_string_equal(cfg.setup.v[2].create.run, "ok");
    config_free(&cfg);
}

/* Script function results are validated with the place named. */
static void test_script_errors(void **state)
{
    (void)state;
    load_fails(SB_HEAD "{ action = 'cmd', create = function() return scriptenv('x', { ['a b'] = "
                       "1 }) end }" SB_TAIL,
               "sandboxes.setup[1].create.env: key 'a b' is not a valid shell identifier (must "
               "match [A-Za-z_][A-Za-z0-9_]*)",
               NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = function() return scriptenv('x', { 'pos' }) "
                       "end }" SB_TAIL,
               "sandboxes.setup[1].create.env: key '1' is not a valid shell identifier", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', destroy = function() return scriptenv('x', { K = {} }) "
                       "end }" SB_TAIL,
               "sandboxes.setup[1].destroy.env.K: must be a string, number, or boolean, got "
               "table",
               NULL);
    load_fails(SB_HEAD "{ action = 'cmd',\n"
                       "  create = function()\n"
                       "    error('no home')\n"
                       "  end }" SB_TAIL,
               "sandboxes.setup[1].create: 'create' function failed: ", ":4: no home", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = function() return 'mkdir' end }" SB_TAIL,
               "sandboxes.setup[1].create: 'create' function must return a table", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = function() return { env = {} } end }" SB_TAIL,
               "sandboxes.setup[1].create: 'create' table must have a 'run' string field", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = function() return { run = 'x', envs = {} } "
                       "end }" SB_TAIL,
               "sandboxes.setup[1].create.envs: unknown key (expected run or env)", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = function() return { run = 'x', env = 'A=1' } "
                       "end }" SB_TAIL,
               "sandboxes.setup[1].create.env: must be a table, got string", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = 42 }" SB_TAIL,
               "sandboxes.setup[1].create: field 'create' must be a string or function, got "
               "number",
               NULL);
    load_fails(SB_HEAD "{ action = 'cmd', destroy = { run = 'x' } }" SB_TAIL,
               "sandboxes.setup[1].destroy: field 'destroy' must be a string or function, got "
               "table",
               NULL);
}

/* ---- helpers (funcs.lua) ------------------------------------------------------ */

/* read_pkgpaths and read_pkglist with comments and junk lines. */
static void test_helpers_read(void **state)
{
    struct config cfg;
    char list[PATH_MAX + 16], lua[2 * PATH_MAX + 512];
    (void)state;
    snprintf(list, sizeof(list), "%s/list.txt", tmpdir);
    write_file(list, "# comment line\n"
                     "mail/mutt\n"
                     "   devel/cmake   # trailing comment\n"
                     "\n"
                     "\t\n"
                     "junk\n"
                     "a/b/c\n"
                     "www/curl#tight comment\n"
                     "pattern-*  more words\n");
    snprintf(lua, sizeof(lua),
             "pkgsrc = { basedir = '/p', make = '/m', pkgpaths = read_pkgpaths('%s'),\n"
             "  save_wrkdir_patterns = read_pkglist('%s') }\n",
             list, list);
    load_ok(lua, &cfg);
    assert_int_equal(cfg.pkgpaths.n, 3);
    assert_string_equal(cfg.pkgpaths.v[0], "mail/mutt");
    assert_string_equal(cfg.pkgpaths.v[1], "devel/cmake");
    assert_string_equal(cfg.pkgpaths.v[2], "www/curl");
    assert_int_equal(cfg.save_wrkdir_patterns.n, 6);
    assert_string_equal(cfg.save_wrkdir_patterns.v[2], "junk");
    assert_string_equal(cfg.save_wrkdir_patterns.v[3], "a/b/c");
    assert_string_equal(cfg.save_wrkdir_patterns.v[5], "pattern-*");
    config_free(&cfg);

    /* A missing file is a Lua error that names the config line. */
    load_fails("\npkgsrc = { basedir = '/p', make = '/m',\n"
               "  pkgpaths = read_pkgpaths('/nonexistent/bob/list') }\n",
               ":3:", "/nonexistent/bob/list", NULL);
}

/* dedent and scriptenv behave as bob's helpers. */
static void test_helpers_dedent_scriptenv(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("jobs = {\n"
            "  { name = 'a', run = dedent('\\n    one\\n      two\\n\\n    three  \\n  \\n') },\n"
            "  { name = 'b', run = dedent('no indent\\n  x') },\n"
            "  { name = 'c', run = dedent('\\t\\tx\\n\\ty\\n') },\n"
            "  { name = 'd', run = dedent('    a\\n  \\n    b') },\n"
            "  { name = 'e', run = dedent([[\n"
            "        if true; then\n"
            "            echo yes\n"
            "        fi\n"
            "    ]]) },\n"
            "  { name = 'f', run = 'x', env = scriptenv('r', { K = 'v' }).env },\n"
            "  { name = 'g', run = scriptenv('body').run .. #scriptenv('body').env },\n"
            "}\n",
            &cfg);
    assert_string_equal(cfg.jobs[0].stages[0].run, "one\n  two\n\nthree");
    assert_string_equal(cfg.jobs[1].stages[0].run, "no indent\n  x");
    /* Tabs count as one character each; shorter lines become empty. */
    assert_string_equal(cfg.jobs[2].stages[0].run, "\tx\ny");
    assert_string_equal(cfg.jobs[3].stages[0].run, "a\n\nb");
    assert_string_equal(cfg.jobs[4].stages[0].run, "if true; then\n    echo yes\nfi");
    assert_string_equal(env_get(&cfg.jobs[5].env, "K"), "v");
    assert_string_equal(cfg.jobs[6].stages[0].run, "body0");
    config_free(&cfg);
}

/* ---- legacy keys ------------------------------------------------------------------- */

/* Every legacy key is refused with bob's migration message. */
static void test_legacy_keys(void **state)
{
    static const struct {
        const char *lua, *key;
    } cases[] = {
        {"scripts = { ['pre-build'] = '/x' }", "scripts"},
        {"environment = { clear = true }", "environment"},
        {"sandboxes = { basedir = '/c', actions = {} }", "sandboxes.actions"},
        {"sandboxes = { basedir = '/c', build = {} }", "sandboxes.build"},
        {"sandboxes = { basedir = '/c', environment = { clear = true } }",
         "sandboxes.environment.clear"},
        {"sandboxes = { basedir = '/c', environment = { inherit = {} } }",
         "sandboxes.environment.inherit"},
        {"sandboxes = { basedir = '/c', environment = { set = {} } }", "sandboxes.environment.set"},
        {"pkgsrc = { basedir = '/p', make = '/m', env = {} }", "pkgsrc.env"},
        {"pkgsrc = { basedir = '/p', make = '/m', logdir = '/l' }", "pkgsrc.logdir"},
        {"publish = { rsync_args = '-a' }", "publish.rsync_args"},
    };
    char want[256], place[256];
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(want, sizeof(want), "'%s' is no longer a supported configuration key.",
                 cases[i].key);
        snprintf(place, sizeof(place), ": %s: \n\n", cases[i].key);
        load_fails(cases[i].lua, want, place, NULL);
    }
    load_fails(SB_HEAD "{ action = 'copy', dir = '/etc' },\n"
                       "{ action = 'mount', fs = 'bind', dir = '/x', ifexists = '/x' }" SB_TAIL,
               "sandboxes.setup[2].ifexists: \n\n'ifexists' is no longer", NULL);
    load_fails(SB_HEAD "{ action = 'cmd', create = 'x', ifset = 'pkgsrc.build_user' }" SB_TAIL,
               "sandboxes.setup[1].ifset: \n\n'ifset' is no longer", NULL);
}

/* The migration message, byte for byte. */
static void test_legacy_exact_text(void **state)
{
    struct config cfg;
    struct err e;
    char path[PATH_MAX + 64], want[PATH_MAX + 1024];
    (void)state;
    snprintf(path, sizeof(path), "%s/tests/configs/legacy-0.9.lua", BOB_SOURCE_DIR);
    assert_int_equal(config_load(path, &cfg, &e), -1);
    snprintf(want, sizeof(want),
             "%s: environment: \n\n'environment' is no longer a supported configuration key.\n\n"
             "The configuration file format and the default location have changed.  Run\n"
             "'bob init' to generate a new file and merge any changes required for your\n"
             "setup.  See https://docs.rs/bob/latest/bob/config/ for more information.",
             path);
    assert_string_equal(e.msg, want);
}

/* ---- Lua errors ----------------------------------------------------------------------- */

/* A syntax error shows file, line and Lua's message. */
static void test_lua_syntax_error(void **state)
{
    struct config cfg;
    struct err e;
    char path[PATH_MAX + 64], want[PATH_MAX + 128];
    (void)state;
    snprintf(path, sizeof(path), "%s/tests/configs/syntax-error.lua", BOB_SOURCE_DIR);
    assert_int_equal(config_load(path, &cfg, &e), -1);
    snprintf(want, sizeof(want), "%s:3: '}' expected (to close '{' at line 1) near 'scan_threads'",
             path);
    assert_string_equal(e.msg, want);

    load_fails("options = {}\n\nlocal x = = 1\n", ":3:", "unexpected symbol", NULL);
}

/* Runtime errors show file and line, also from modules. */
static void test_lua_runtime_errors(void **state)
{
    char want[PATH_MAX + 64], mod[PATH_MAX + 32];
    (void)state;
    snprintf(want, sizeof(want), "%s:2: attempt to index a nil value", cfgpath);
    load_fails("local x = nil\nlocal y = x.field\n", want, NULL);
    snprintf(want, sizeof(want), "%s:1: boom", cfgpath);
    load_fails("error('boom')", want, NULL);
    /* Errors without a position get the config line. */
    snprintf(want, sizeof(want), "%s:3: no position", cfgpath);
    load_fails("\n\nerror('no position', 0)", want, NULL);
    load_fails("error({})", ":1: (error object is a table value)", NULL);
    /* A module of the config's directory, found through package.path. */
    snprintf(mod, sizeof(mod), "%s/brokenmod.lua", tmpdir);
    write_file(mod, "local t = {}\nreturn t.a.b\n");
    load_fails("local m = require('brokenmod')\n", "brokenmod.lua:2: attempt to index a nil value",
               NULL);
    unlink(mod);
    load_fails("require('bob_no_such_module')", ":1: module 'bob_no_such_module' not found", NULL);
    load_fails("os.exit(3)", "os.exit is not available", NULL);
}

/* The libraries a config gets, and the doors that are closed. */
static void test_lua_environment(void **state)
{
    struct config cfg;
    char mod[PATH_MAX + 32];
    (void)state;
    snprintf(mod, sizeof(mod), "%s/goodmod.lua", tmpdir);
    write_file(mod, "return { level = 'debug' }\n");
    setenv("BOB_TEST_THREADS", "3", 1);
    /* A "#!" line is skipped and line numbers stay right; binary chunks are refused. */
    load_ok("#!/usr/bin/env lua\n"
            "local m = require('goodmod')\n"
            "local f = load(string.dump(function() return 1 end))\n"
            "local g = load('return 2', 'chunk', 'b')\n"
            "local ok = pcall(dofile, '/nonexistent')\n"
            "options = { log_level = m.level, build_threads = "
            "tonumber(os.getenv('BOB_TEST_THREADS')),\n"
            "  strict_scan = (f == nil and g ~= nil and g() == 2 and not ok),\n"
            "  tui = (io.open ~= nil and string.format ~= nil and table.concat ~= nil and\n"
            "         math.max ~= nil and utf8.char ~= nil and coroutine.wrap ~= nil and\n"
            "         debug == nil and package.loadlib == nil) }\n",
            &cfg);
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(cfg.build_threads, 3);
    assert_true(cfg.strict_scan);
    assert_true(cfg.tui);
    config_free(&cfg);
    unlink(mod);
    unsetenv("BOB_TEST_THREADS");
}

/* print() writes to stderr, never to stdout. */
static void test_print_goes_to_stderr(void **state)
{
    struct config cfg;
    char out[PATH_MAX + 16], errp[PATH_MAX + 16], *text;
    int saved_out, saved_err, fo, fe;
    (void)state;
    snprintf(out, sizeof(out), "%s/stdout.txt", tmpdir);
    snprintf(errp, sizeof(errp), "%s/stderr.txt", tmpdir);
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    load_ok("print('hello', 42)\noptions = {}\n", &cfg);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(fo);
    close(fe);
    config_free(&cfg);
    text = read_text(out);
    assert_string_equal(text, "");
    free(text);
    text = read_text(errp);
    assert_string_equal(text, "hello\t42\n");
    free(text);
}

/* A missing file gets bob's message; a directory is refused. */
static void test_missing_and_bad_files(void **state)
{
    struct config cfg;
    struct err e;
    char path[PATH_MAX + 32], want[PATH_MAX + 128];
    (void)state;
    snprintf(path, sizeof(path), "%s/does-not-exist.lua", tmpdir);
    assert_int_equal(config_load(path, &cfg, &e), -1);
    snprintf(want, sizeof(want),
             "Configuration file %s does not exist.\nRun 'bob init' to create a default "
             "configuration.",
             path);
    assert_string_equal(e.msg, want);
    assert_int_equal(e.code, ENOENT);
    assert_null(cfg.path);

    assert_int_equal(config_load(tmpdir, &cfg, &e), -1);
    assert_non_null(strstr(e.msg, "is a directory"));
}

/* A relative config path becomes absolute and normal. */
static void test_relative_path(void **state)
{
    struct config cfg;
    struct err e;
    char cwd[PATH_MAX];
    (void)state;
    write_file(cfgpath, "options = { dbdir = 'db' }\n");
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(tmpdir), 0);
    assert_int_equal(config_load("./sub/../config.lua", &cfg, &e), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(cfg.path, cfgpath);
    assert_string_equal(cfg.dir, tmpdir);
    config_free(&cfg);
}

/* ---- bounds --------------------------------------------------------------------------- */

/* Configs that allocate without bound are stopped by the cap. */
static void test_memory_bomb(void **state)
{
    struct err e;
    struct config cfg;
    /* Many small strings: a smaller cap keeps this quick under AddressSanitizer. */
    struct config_limits lim = {32 << 20, CONFIG_MAX_MS, false};
    double t0 = now_ms();
    (void)state;
    assert_int_equal(load_limited("local t = {}\n"
                                  "for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n",
                                  &lim, &cfg, &e),
                     -1);
    if (!strstr(e.msg, "configuration uses too much memory (limit 32 MiB)"))
        fail_msg("%s", e.msg);
    /* The default cap, with big chunks. */
    load_fails("local s = string.rep('x', 1 << 30)\n",
               "configuration uses too much memory (limit 256 MiB)", NULL);
    load_fails("local s = string.rep('x', 1 << 20)\nlocal t = {}\n"
               "while true do t[#t + 1] = s .. #t end\n",
               "configuration uses too much memory (limit 256 MiB)", NULL);
    /* Caught by pcall, then re-raised: still reported as memory. */
    load_fails("local s = string.rep('x', 1 << 20)\nlocal t = {}\n"
               "local ok, err = pcall(function() while true do t[#t + 1] = s .. #t end end)\n"
               "t = nil\nerror(err)\n",
               "not enough memory", NULL);
    assert_true(now_ms() - t0 < 10000);
}

/* The memory cap of config_load_limited. */
static void test_memory_small_limit(void **state)
{
    struct err e;
    struct config cfg;
    struct config_limits lim = {4 << 20, 5000, false};
    (void)state;
    assert_int_equal(load_limited("local s = string.rep('x', 8 << 20)", &lim, &cfg, &e), -1);
    if (!strstr(e.msg, "too much memory (limit 4 MiB)"))
        fail_msg("%s", e.msg);
    /* Within the limit, fine. */
    assert_int_equal(
        load_limited("local s = string.rep('x', 1 << 20)\noptions = {}", &lim, &cfg, &e), 0);
    config_free(&cfg);
}

/* Configs that never finish are stopped, even through pcall or coroutines. */
static void test_infinite_loops(void **state)
{
    static const char *const loops[] = {
        "options = {}\nwhile true do end\n",
        "while true do pcall(function() while true do end end) end\n",
        "while true do local ok = pcall(error, 'x') end\n",
        "local function f() return f() end\nf()\n",
        "while true do coroutine.resume(coroutine.create(function() while true do end end)) "
        "end\n",
        SB_HEAD "{ action = 'cmd', create = function() while true do end end }" SB_TAIL,
        "setmetatable(_G, { __index = function(t, k) while true do end end })\nlocal x = "
        "undefined_global\n",
    };
    struct config_limits lim = {CONFIG_MAX_BYTES, 300, false};
    struct config cfg;
    struct err e;
    (void)state;
    for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
        double t0 = now_ms();
        assert_int_equal(load_limited(loops[i], &lim, &cfg, &e), -1);
        if (!strstr(e.msg, "configuration took too long to load (infinite loop?)"))
            fail_msg("loop %zu: %s", i, e.msg);
        if (strncmp(e.msg, cfgpath, strlen(cfgpath)) != 0)
            fail_msg("loop %zu: %s", i, e.msg);
        assert_true(now_ms() - t0 < 5000);
    }
    /* The place of the loop is named. */
    assert_int_equal(load_limited(loops[0], &lim, &cfg, &e), -1);
    assert_non_null(strstr(e.msg, "config.lua:2: configuration took too long"));
    assert_int_equal(CONFIG_MAX_MS, 10000);
}

/*
 * One long call of a C function (a backtracking string.find) is out of the
 * count hook's reach: the hard stop ends the process with the message.
 */
static void test_hard_stop(void **state)
{
    struct config_limits lim = {CONFIG_MAX_BYTES, 200, true};
    char errpath[PATH_MAX + 32], want[PATH_MAX + 128], *text;
    struct config cfg;
    struct err e;
    struct itimerval it;
    struct sigaction sa;
    int status;
    pid_t pid;
    (void)state;

    snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
    write_file(cfgpath, "x = ('a'):rep(5000):find('.-.-.-.-b')\n");
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(3);
        config_load_limited(cfgpath, &lim, &cfg, &e);
        _exit(2); /* returned: the hard stop did not work */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    text = read_text(errpath);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
        fail_msg("status %#x, stderr: %s", status, text);
    snprintf(want, sizeof(want),
             "Error: %s: configuration took too long to load (stuck in one call", cfgpath);
    if (strncmp(text, want, strlen(want)) != 0)
        fail_msg("stderr: %s", text);
    free(text);

    /* After a load (good or bad) the timer and SIGALRM are as they were. */
    assert_int_equal(load_limited("options = {}\n", &lim, &cfg, &e), 0);
    config_free(&cfg);
    assert_int_equal(load_limited("options = \n", &lim, &cfg, &e), -1);
    assert_int_equal(getitimer(ITIMER_REAL, &it), 0);
    assert_int_equal(it.it_value.tv_sec, 0);
    assert_int_equal(it.it_value.tv_usec, 0);
    assert_int_equal(sigaction(SIGALRM, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
}

/* ---- jobs -------------------------------------------------------------------------------- */

/* The jobs extension: full form, shorthand, dependencies. */
static void test_jobs(void **state)
{
    struct config cfg;
    const struct job *j;
    (void)state;
    load_ok("jobs = {\n"
            "  { name = 'zlib', env = { CFLAGS = '-O2', N = 2, DEBUG = false },\n"
            "    stages = { { name = 'configure', run = './configure' },\n"
            "               { name = 'build', run = 'make' } } },\n"
            "  { name = 'lib/hello-2.0_1+x', depends = { 'zlib' }, run = 'echo hi' },\n"
            "  { name = 'all', depends = { 'lib/hello-2.0_1+x', 'zlib' }, run = 'true' },\n"
            "}\n"
            "pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b' } }\n",
            &cfg);
    assert_int_equal(cfg.njobs, 3);
    j = &cfg.jobs[0];
    assert_string_equal(j->name, "zlib");
    assert_int_equal(j->depends.n, 0);
    assert_int_equal(j->env.n, 3);
    assert_string_equal(j->env.v[0], "CFLAGS=-O2");
    assert_string_equal(j->env.v[1], "DEBUG=false");
    assert_string_equal(j->env.v[2], "N=2");
    assert_int_equal(j->nstages, 2);
    assert_string_equal(j->stages[0].name, "configure");
    assert_string_equal(j->stages[0].run, "./configure");
    assert_string_equal(j->stages[1].name, "build");
    j = &cfg.jobs[1];
    assert_string_equal(j->name, "lib/hello-2.0_1+x");
    assert_int_equal(j->nstages, 1);
    assert_string_equal(j->stages[0].name, "build");
    assert_string_equal(j->stages[0].run, "echo hi");
    assert_int_equal(j->depends.n, 1);
    assert_int_equal(j->dep_idx[0], 0);
    j = &cfg.jobs[2];
    assert_int_equal(j->depends.n, 2);
    assert_int_equal(j->dep_idx[0], 1);
    assert_int_equal(j->dep_idx[1], 0);
    config_free(&cfg);

    load_ok("jobs = {}", &cfg);
    assert_int_equal(cfg.njobs, 0);
    config_free(&cfg);
}

/* Bad jobs name the job, field and index. */
static void test_jobs_errors(void **state)
{
    (void)state;
    load_fails("jobs = 'build'", "jobs: must be a table, got string", NULL);
    load_fails("jobs = { a = { name = 'a', run = 'x' } }", "jobs: must be a list", NULL);
    load_fails("jobs = { 'a' }", "jobs[1]: must be a table, got string", NULL);
    load_fails("jobs = { { run = 'x' } }", "jobs[1].name: missing required field 'name'", NULL);
    load_fails("jobs = { { name = 'a' } }", "jobs[1]: a job needs 'stages' or 'run'", NULL);
    load_fails("jobs = { { name = 'a', run = 'x', stages = {} } }",
               "jobs[1]: use either 'stages' or 'run', not both", NULL);
    load_fails("jobs = { { name = 'a', run = '' } }", "jobs[1].run: must not be empty", NULL);
    load_fails("jobs = { { name = 'a', stages = {} } }",
               "jobs[1].stages: must have at least one stage", NULL);
    load_fails("jobs = { { name = 'a', run = 'x', deps = {} } }",
               "jobs[1].deps: unknown key (expected name, depends, env, stages, run, limits or "
               "network)",
               NULL);
    load_fails("jobs = { { name = '/abs', run = 'x' } }",
               "jobs[1].name: invalid job name '/abs': must not be absolute", NULL);
    load_fails("jobs = { { name = 'a/../b', run = 'x' } }",
               "jobs[1].name: invalid job name 'a/../b'", "'..'", NULL);
    load_fails("jobs = { { name = '..', run = 'x' } }", "jobs[1].name: invalid job name '..'",
               NULL);
    load_fails("jobs = { { name = 'a//b', run = 'x' } }",
               "jobs[1].name: invalid job name 'a//b': empty path component", NULL);
    load_fails("jobs = { { name = 'a/', run = 'x' } }", "jobs[1].name: invalid job name 'a/'",
               NULL);
    load_fails("jobs = { { name = 'a b', run = 'x' } }",
               "jobs[1].name: invalid job name 'a b': only letters", NULL);
    load_fails("jobs = { { name = '', run = 'x' } }", "jobs[1].name: must not be empty", NULL);
    load_fails("jobs = { { name = 'a', run = 'x' }, { name = 'b', run = 'x' }, { name = 'a', run "
               "= 'y' } }",
               "jobs[3].name: duplicate job name 'a' (also jobs[1])", NULL);
    load_fails("jobs = { { name = 'a', run = 'x' }, { name = 'b', run = 'x' },\n"
               "  { name = 'c', depends = { 'x' }, run = 'x' } }",
               "jobs[3].depends[1]: unknown job 'x'", NULL);
    load_fails("jobs = { { name = 'a', depends = { 'b', 'b' }, run = 'x' }, { name = 'b', run = "
               "'x' } }",
               "jobs[1].depends[2]: duplicate dependency 'b'", NULL);
    load_fails("jobs = { { name = 'a', depends = 'b', run = 'x' } }",
               "jobs[1].depends: must be a table, got string", NULL);
    load_fails("jobs = { { name = 'a', stages = { { name = 'con fig', run = 'x' } } } }",
               "jobs[1].stages[1].name: invalid stage name 'con fig'", NULL);
    load_fails("jobs = { { name = 'a', stages = { { name = 'a/b', run = 'x' } } } }",
               "jobs[1].stages[1].name: invalid stage name 'a/b'", NULL);
    load_fails("jobs = { { name = 'a', stages = { { name = '..', run = 'x' } } } }",
               "jobs[1].stages[1].name: invalid stage name '..'", NULL);
    load_fails("jobs = { { name = 'a', stages = { { name = 's', run = 'x' }, { name = 's', run = "
               "'y' } } } }",
               "jobs[1].stages[2].name: duplicate stage name 's'", NULL);
    load_fails("jobs = { { name = 'a', stages = { { name = 's' } } } }",
               "jobs[1].stages[1].run: missing required field 'run'", NULL);
    load_fails("jobs = { { name = 'a', stages = { { name = 's', run = 'x', env = {} } } } }",
               "jobs[1].stages[1].env: unknown key (expected name or run)", NULL);
    load_fails("jobs = { { name = 'a', run = 'x', env = { ['A-B'] = '1' } } }",
               "jobs[1].env: key 'A-B' is not a valid shell identifier", NULL);
    load_fails("jobs = { { name = 'a', run = 'x', env = { A = {} } } }",
               "jobs[1].env.A: must be a string, number, or boolean, got table", NULL);
}

/* Dependency cycles are refused, naming the cycle. */
static void test_jobs_cycles(void **state)
{
    (void)state;
    load_fails("jobs = { { name = 'a', depends = { 'b' }, run = 'x' },\n"
               "  { name = 'b', depends = { 'a' }, run = 'x' } }",
               ": jobs: dependency cycle: a -> b -> a", NULL);
    load_fails("jobs = { { name = 'a', depends = { 'a' }, run = 'x' } }",
               "jobs: dependency cycle: a -> a", NULL);
    load_fails("jobs = { { name = 'top', depends = { 'x' }, run = 'x' },\n"
               "  { name = 'x', depends = { 'y' }, run = 'x' },\n"
               "  { name = 'y', depends = { 'z' }, run = 'x' },\n"
               "  { name = 'z', depends = { 'x' }, run = 'x' } }",
               "jobs: dependency cycle: x -> y -> z -> x", NULL);
}

/* Many generated jobs in a long chain load quickly. */
static void test_jobs_many(void **state)
{
    struct config cfg;
    (void)state;
    /* A long chain generated by Lua code: no recursion limit, quick. */
    load_ok("jobs = {}\n"
            "for i = 1, 20000 do\n"
            "  jobs[i] = { name = 'j' .. i, run = 'true', depends = i > 1 and { 'j' .. (i - 1) } "
            "or nil }\n"
            "end\n",
            &cfg);
    assert_int_equal(cfg.njobs, 20000);
    assert_int_equal(cfg.jobs[19999].dep_idx[0], 19998);
    config_free(&cfg);
}

/* ---- full fixture, show, round trip ----------------------------------------------------- */

/* Loads tests/configs/<name>, which must succeed. */
static void load_fixture(const char *name, struct config *cfg)
{
    char path[PATH_MAX + 64];
    struct err e;
    snprintf(path, sizeof(path), "%s/tests/configs/%s", BOB_SOURCE_DIR, name);
    if (config_load(path, cfg, &e) != 0)
        fail_msg("%s", e.msg);
}

/* tests/configs/bob-linux-full.lua: a full bob-style config loads as expected. */
static void test_full_fixture(void **state)
{
    struct config cfg;
    bool kinds[5] = {false}, fs[7] = {false};
    char want[PATH_MAX + 64];
    const struct action *a;
    (void)state;
    load_fixture("bob-linux-full.lua", &cfg);
    /* save_wrkdir_patterns and bindfs are accepted for bob's sake, said to do nothing here. */
    assert_int_equal(cfg.warnings.n, 1);
    assert_string_equal(cfg.warnings.v[0], "accepted for bob's sake, without effect here: "
                                           "pkgsrc.save_wrkdir_patterns, sandboxes.bindfs");
    assert_int_equal(cfg.build_threads, 4);
    snprintf(want, sizeof(want), "%s/tests/configs/db", BOB_SOURCE_DIR);
    assert_string_equal(cfg.dbdir, want);
    assert_string_equal(cfg.logdir, "/var/log/bob");
    assert_true(cfg.keep_logs);
    assert_string_equal(cfg.build_user_home, "/home/builder");
    assert_int_equal(cfg.pkgpaths.n, 3);
    assert_string_equal(cfg.pkgpaths.v[2], "www/curl");
    assert_int_equal(cfg.save_wrkdir_patterns.n, 3);
    assert_string_equal(cfg.save_wrkdir_patterns.v[2], "**/meson-log.txt");
    assert_int_equal(cfg.cachevars.n, 4);
    assert_string_equal(cfg.basedir, "/data/chroot");
    assert_string_equal(cfg.bindfs, "/usr/bin/bindfs");
    assert_string_equal(env_get(&cfg.env_build.vars, "MAKE_JOBS"), "4");
    assert_string_equal(cfg.env_dev.shell, "/bin/bash");
    assert_false(cfg.env_dev.clear);

    /* 24 written, setup[22] dropped by only.set. */
    assert_int_equal(cfg.setup.n, 23);
    for (size_t i = 0; i < cfg.setup.n; i++) {
        a = &cfg.setup.v[i];
        kinds[a->kind] = true;
        if (a->kind == ACTION_MOUNT)
            fs[a->fs] = true;
        assert_non_null(a->where);
        if (a->create.run)
            assert_string_not_equal(a->create.run, "never");
    }
    for (int k = ACTION_MOUNT; k <= ACTION_MDNS; k++)
        assert_true(kinds[k]);
    for (int t = FS_BIND; t <= FS_TMP; t++)
        assert_true(fs[t]);

    a = &cfg.setup.v[20];
    assert_string_equal(a->where, "sandboxes.setup[21]");
    assert_true(a->chroot);
    assert_string_equal(a->create.run, "echo $GREETING > /etc/motd");
    assert_string_equal(env_get(&a->create.env, "GREETING"), "hello from a module");
    assert_string_equal(env_get(&a->create.env, "COUNT"), "3");
    assert_string_equal(env_get(&a->create.env, "DEBUG"), "true");
    assert_string_equal(a->destroy.run, "rm -f /etc/motd");
    a = &cfg.setup.v[19];
    assert_false(a->chroot);
    assert_string_equal(a->create.run,
                        "mkdir -p ${bob_sandbox_path}${bob_build_user_home}\n"
                        "chown ${bob_build_user} ${bob_sandbox_path}${bob_build_user_home}");
    a = &cfg.setup.v[21]; /* setup[23]: [22] was dropped */
    assert_string_equal(a->where, "sandboxes.setup[23]");
    assert_int_equal(a->kind, ACTION_MDNS);
    assert_string_equal(a->only_exists, "/System/Library");
    a = &cfg.setup.v[22];
    assert_int_equal(a->only_env, CTX_BUILD);
    assert_string_equal(a->only_exists, "/usr/pkgsrc");
    assert_string_equal(cfg.setup.v[4].dest, "/var/tmp");

    assert_int_equal(cfg.hooks.n, 2);
    assert_string_equal(cfg.hooks.v[1].where, "sandboxes.hooks[2]");
    assert_int_equal(cfg.hooks.v[1].fs, FS_TMP);
    config_free(&cfg);
}

/* Fails the test unless two string lists are equal. */
static void same_strv(const struct strv *a, const struct strv *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_string_equal(a->v[i], b->v[i]);
}

/* Fails the test unless two optional strings are equal. */
static void same_str(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Fails the test unless two action lists are equal. */
static void same_actions(const struct action_list *x, const struct action_list *y)
{
    assert_int_equal(x->n, y->n);
    for (size_t i = 0; i < x->n; i++) {
        const struct action *a = &x->v[i], *b = &y->v[i];
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->fs, b->fs);
        same_str(a->fs_name, b->fs_name);
        same_str(a->src, b->src);
        same_str(a->dest, b->dest);
        same_str(a->opts, b->opts);
        same_str(a->create.run, b->create.run);
        same_strv(&a->create.env, &b->create.env);
        same_str(a->destroy.run, b->destroy.run);
        same_strv(&a->destroy.env, &b->destroy.env);
        assert_int_equal(a->chroot, b->chroot);
        assert_int_equal(a->only_env, b->only_env);
        same_str(a->only_exists, b->only_exists);
    }
}

/* Fails the test unless two configs are equal (path, dir, where and warnings aside). */
static void same_config(const struct config *a, const struct config *b)
{
    assert_int_equal(a->build_threads, b->build_threads);
    assert_int_equal(a->scan_threads, b->scan_threads);
    same_str(a->dbdir, b->dbdir);
    same_str(a->logdir, b->logdir);
    same_str(a->log_level, b->log_level);
    assert_int_equal(a->strict_scan, b->strict_scan);
    assert_int_equal(a->tui, b->tui);
    assert_int_equal(a->keep_logs, b->keep_logs);
    assert_int_equal(a->has_pkgsrc, b->has_pkgsrc);
    same_str(a->pkgsrc_basedir, b->pkgsrc_basedir);
    same_str(a->make, b->make);
    same_str(a->bootstrap, b->bootstrap);
    assert_int_equal(a->bootstrap_max_size, b->bootstrap_max_size);
    same_str(a->build_user, b->build_user);
    same_str(a->build_user_home, b->build_user_home);
    same_strv(&a->cachevars, &b->cachevars);
    same_strv(&a->pkgpaths, &b->pkgpaths);
    same_strv(&a->save_wrkdir_patterns, &b->save_wrkdir_patterns);
    assert_int_equal(a->has_sandboxes, b->has_sandboxes);
    same_str(a->basedir, b->basedir);
    same_str(a->bindfs, b->bindfs);
    same_actions(&a->setup, &b->setup);
    same_actions(&a->hooks, &b->hooks);
    const struct env_policy *pa[2] = {&a->env_build, &a->env_dev};
    const struct env_policy *pb[2] = {&b->env_build, &b->env_dev};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pa[i]->present, pb[i]->present);
        assert_int_equal(pa[i]->clear, pb[i]->clear);
        same_strv(&pa[i]->inherit, &pb[i]->inherit);
        same_strv(&pa[i]->vars, &pb[i]->vars);
        same_str(pa[i]->shell, pb[i]->shell);
    }
    assert_int_equal(a->njobs, b->njobs);
    for (size_t i = 0; i < a->njobs; i++) {
        const struct job *x = &a->jobs[i], *y = &b->jobs[i];
        assert_string_equal(x->name, y->name);
        same_strv(&x->depends, &y->depends);
        for (size_t k = 0; k < x->depends.n; k++)
            assert_int_equal(x->dep_idx[k], y->dep_idx[k]);
        same_strv(&x->env, &y->env);
        assert_int_equal(x->nstages, y->nstages);
        for (size_t k = 0; k < x->nstages; k++) {
            assert_string_equal(x->stages[k].name, y->stages[k].name);
            assert_string_equal(x->stages[k].run, y->stages[k].run);
        }
    }
}

/* Writes the Lua form of cfg to path. */
static void show_to(const struct config *cfg, const char *path, bool json)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (json)
        config_show_json(cfg, f);
    else
        config_show_lua(cfg, f);
    assert_int_equal(fclose(f), 0);
}

/* The number of "without effect here" warnings of cfg (0 or 1). */
static size_t noeffect_warnings(const struct config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->warnings.n; i++)
        n += strncmp(cfg->warnings.v[i], "accepted for bob's sake", 23) == 0;
    return n;
}

/* Shows cfg as Lua, loads it back, and checks that nothing changed. */
static void round_trip(const struct config *cfg)
{
    char p1[PATH_MAX + 16], p2[PATH_MAX + 16], *t1, *t2;
    struct config back;
    struct err e;

    snprintf(p1, sizeof(p1), "%s/show1.lua", tmpdir);
    snprintf(p2, sizeof(p2), "%s/show2.lua", tmpdir);
    show_to(cfg, p1, false);
    if (config_load(p1, &back, &e) != 0) {
        t1 = read_text(p1);
        fail_msg("show output does not load: %s\n%s", e.msg, t1);
    }
    /* The only warning a shown config may give: what has no effect here, as the original. */
    assert_int_equal(back.warnings.n, noeffect_warnings(cfg));
    same_config(cfg, &back);
    show_to(&back, p2, false);
    t1 = read_text(p1);
    t2 = read_text(p2);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    config_free(&back);
}

/* config show --format lua loads back to the same config. */
static void test_show_lua_round_trip(void **state)
{
    struct config cfg;
    (void)state;
    load_fixture("bob-linux-full.lua", &cfg);
    round_trip(&cfg);
    config_free(&cfg);

    /* Awkward strings and keys. */
    load_ok("options = { logdir = 'a \"quoted\" \\\\ path\\twith\\1control\\127' }\n"
            "pkgsrc = { basedir = '/p', make = '/m', build_user = 'root',\n"
            "  save_wrkdir_patterns = { ']]', 'x]=]', '\\n', 'caf\\xc3\\xa9' } }\n"
            "sandboxes = { basedir = '/c', environment = { build = { vars = {\n"
            "  ['end'] = 'reserved', ['and'] = ']]', nil_ = 'n' } } },\n"
            "  setup = { { action = 'cmd', create = 'line1\\nline2 ]]\\n]=]', destroy =\n"
            "    function() return scriptenv('a\\r\\nb', { ['while'] = 'w', X = 'multi\\nline]' })"
            " end },\n"
            "    { action = 'cmd', create = 'ends with ]' .. '\\n' .. ']' } } }\n"
            "jobs = { { name = 'j', env = { ['for'] = 1 }, stages = { { name = 's', run = "
            "'\\n\\nleading newlines\\n' } } } }\n",
            &cfg);
    round_trip(&cfg);
    config_free(&cfg);

    /* The defaults only. */
    load_ok("options = {}\n", &cfg);
    round_trip(&cfg);
    config_free(&cfg);
}

/* config show prints the config after only.set filtering. */
static void test_show_lua_filtered(void **state)
{
    struct config cfg;
    char p[PATH_MAX + 16], *text;
    (void)state;
    load_ok(SB_HEAD
            "{ action = 'cmd', create = 'kept-action' },\n"
            "{ action = 'cmd', create = 'dropped-action', only = { set = 'nothing' } }" SB_TAIL,
            &cfg);
    snprintf(p, sizeof(p), "%s/show.lua", tmpdir);
    show_to(&cfg, p, false);
    text = read_text(p);
    assert_non_null(strstr(text, "kept-action"));
    assert_null(strstr(text, "dropped-action"));
    assert_non_null(strstr(text, "build_threads = 1,"));
    free(text);
    config_free(&cfg);
}

/* pkgsrc.bootstrap_max_size: bytes or "4G"-style sizes, 0 when absent, shown so it loads back. */
static void test_pkgsrc_bootstrap_max_size(void **state)
{
    static const struct {
        const char *value;
        size_t bytes;
    } ok[] = {{"12345", 12345},          {"'777'", 777},
              {"'100K'", 100u << 10},    {"'512m'", (size_t)512 << 20},
              {"'4G'", (size_t)4 << 30}, {"'2T'", (size_t)2 << 40}};
    static const char *const bad[] = {"0",           "-1",    "1.5",
                                      "''",          "'G'",   "'4X'",
                                      "'4GB'",       "' 4G'", "'99999999999999999999'",
                                      "'99999999T'", "true",  "{}"};
    struct config cfg;
    char lua[256], p[PATH_MAX + 16], *text;
    (void)state;

    load_ok("pkgsrc = { basedir = '/p', make = '/m', bootstrap = '/b.tgz' }", &cfg);
    assert_int_equal(cfg.bootstrap_max_size, 0);
    assert_int_equal(cfg.warnings.n, 0);
    config_free(&cfg);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(lua, sizeof(lua),
                 "pkgsrc = { basedir = '/p', make = '/m', bootstrap_max_size = %s }", ok[i].value);
        load_ok(lua, &cfg);
        assert_int_equal(cfg.bootstrap_max_size, ok[i].bytes);
        assert_int_equal(cfg.warnings.n, 0); /* a known key */
        round_trip(&cfg);
        config_free(&cfg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(lua, sizeof(lua),
                 "pkgsrc = { basedir = '/p', make = '/m', bootstrap_max_size = %s }", bad[i]);
        load_fails(lua, "pkgsrc.bootstrap_max_size: must be a ", NULL);
    }

    load_ok("pkgsrc = { basedir = '/p', make = '/m', bootstrap_max_size = '3G' }", &cfg);
    snprintf(p, sizeof(p), "%s/show.lua", tmpdir);
    show_to(&cfg, p, false);
    text = read_text(p);
    assert_non_null(strstr(text, "    bootstrap_max_size = 3221225472,\n"));
    free(text);
    show_to(&cfg, p, true);
    text = read_text(p);
    assert_non_null(strstr(text, "\"bootstrap_max_size\": 3221225472"));
    free(text);
    config_free(&cfg);
}

/* limits and network: forms, defaults from options, per-job overrides and removal, show. */
static void test_job_limits(void **state)
{
    static const struct {
        const char *value;
        unsigned secs;
        const char *text;
    } times[] = {{"90", 90, "90"},       {"'90'", 90, "90"},   {"'90s'", 90, "90s"},
                 {"'30m'", 1800, "30m"}, {"'2h'", 7200, "2h"}, {"'1d'", 86400, "1d"}};
    static const char *const bad_times[] = {"0",       "-1",   "1.5",   "''",
                                            "'h'",     "'2x'", "'2hh'", "' 2h'",
                                            "'2 h'",   "true", "{}",    "'99999999999999999999'",
                                            "'20000d'"};
    static const char *const bad_tasks[] = {"0", "-3", "1.5", "'20'", "true", "4194305"};
    struct config cfg;
    char lua[512], p[PATH_MAX + 16], *text;
    const struct job *j;
    (void)state;

    /* None by default; network on. */
    load_ok("jobs = { { name = 'a', run = 'x' } }", &cfg);
    j = &cfg.jobs[0];
    assert_int_equal(j->limits.time + j->limits.silence, 0);
    assert_int_equal(j->limits.memory + j->limits.tasks, 0);
    assert_null(j->limits.time_text);
    assert_true(cfg.network);
    assert_true(j->network);
    config_free(&cfg);

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        snprintf(lua, sizeof(lua),
                 "jobs = { { name = 'a', run = 'x', limits = { time = %s, silence = %s } } }",
                 times[i].value, times[i].value);
        load_ok(lua, &cfg);
        assert_int_equal(cfg.jobs[0].limits.time, times[i].secs);
        assert_int_equal(cfg.jobs[0].limits.silence, times[i].secs);
        assert_string_equal(cfg.jobs[0].limits.time_text, times[i].text);
        assert_string_equal(cfg.jobs[0].limits.silence_text, times[i].text);
        round_trip(&cfg);
        config_free(&cfg);
    }
    for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
        snprintf(lua, sizeof(lua), "jobs = { { name = 'a', run = 'x', limits = { time = %s } } }",
                 bad_times[i]);
        load_fails(lua, "jobs[1].limits.time: must be a ", NULL);
        snprintf(lua, sizeof(lua), "options = { limits = { silence = %s } }", bad_times[i]);
        load_fails(lua, "options.limits.silence: must be a ", NULL);
    }
    for (size_t i = 0; i < sizeof(bad_tasks) / sizeof(bad_tasks[0]); i++) {
        snprintf(lua, sizeof(lua), "jobs = { { name = 'a', run = 'x', limits = { tasks = %s } } }",
                 bad_tasks[i]);
        load_fails(lua, "jobs[1].limits.tasks: must be an integer from 1 to 4194304", NULL);
    }
    load_fails("jobs = { { name = 'a', run = 'x', limits = { memory = '64X' } } }",
               "jobs[1].limits.memory: must be a positive number of bytes", "'64X'", NULL);
    load_fails("options = { limits = { memory = true } }",
               "options.limits.memory: must be a number of bytes", NULL);
    load_fails("options = { limits = { cpu = 3 } }",
               "options.limits.cpu: unknown key (expected time, silence, memory or tasks)", NULL);
    load_fails("options = { limits = 5 }", "options.limits: must be a table", NULL);
    load_fails("jobs = { { name = 'a', run = 'x', limits = 'x' } }",
               "jobs[1].limits: must be a table", NULL);
    load_fails("options = { network = 'no' }", "options.network: must be a boolean", NULL);
    load_fails("jobs = { { name = 'a', run = 'x', network = 0 } }",
               "jobs[1].network: must be a boolean", NULL);

    /* Defaults from options; a job overrides key by key, or removes one with false. */
    load_ok("options = { network = false,\n"
            "  limits = { time = '2h', silence = 600, memory = '512M', tasks = 100 } }\n"
            "jobs = {\n"
            "  { name = 'a', run = 'x' },\n"
            "  { name = 'b', run = 'x', network = true,\n"
            "    limits = { time = 60, memory = 1048576, tasks = false, silence = false } },\n"
            "}\n",
            &cfg);
    assert_int_equal(cfg.warnings.n, 0);
    assert_false(cfg.network);
    assert_int_equal(cfg.limits.time, 7200);
    assert_string_equal(cfg.limits.memory_text, "512M");
    j = &cfg.jobs[0];
    assert_false(j->network);
    assert_int_equal(j->limits.time, 7200);
    assert_string_equal(j->limits.time_text, "2h");
    assert_int_equal(j->limits.silence, 600);
    assert_string_equal(j->limits.silence_text, "600");
    assert_int_equal(j->limits.memory, (uint64_t)512 << 20);
    assert_string_equal(j->limits.memory_text, "512M");
    assert_int_equal(j->limits.tasks, 100);
    j = &cfg.jobs[1];
    assert_true(j->network);
    assert_int_equal(j->limits.time, 60);
    assert_string_equal(j->limits.time_text, "60");
    assert_int_equal(j->limits.silence, 0);
    assert_null(j->limits.silence_text);
    assert_int_equal(j->limits.memory, 1048576);
    assert_string_equal(j->limits.memory_text, "1048576");
    assert_int_equal(j->limits.tasks, 0);
    round_trip(&cfg);

    /* Shown as written: the options' limits, and what a job changes. */
    snprintf(p, sizeof(p), "%s/show.lua", tmpdir);
    show_to(&cfg, p, false);
    text = read_text(p);
    assert_non_null(strstr(text, "    network = false,\n"));
    assert_non_null(strstr(
        text, "    limits = { time = \"2h\", silence = 600, memory = \"512M\", tasks = 100, },\n"));
    assert_non_null(strstr(text, "        limits = { time = 60, silence = false, memory = 1048576, "
                                 "tasks = false, },\n        network = true,\n"));
    free(text);
    show_to(&cfg, p, true);
    text = read_text(p);
    assert_non_null(strstr(text, "\"network\": false"));
    assert_non_null(strstr(text, "\"time\": 7200,\n      \"time_text\": \"2h\""));
    assert_non_null(strstr(text, "\"memory\": 536870912,\n      \"memory_text\": \"512M\""));
    assert_non_null(strstr(text, "\"silence\": null,\n        \"silence_text\": null"));
    free(text);
    config_free(&cfg);

    /* Generated pkgsrc jobs (made after the scan) get the defaults too. */
    load_ok("options = { limits = { tasks = 7, time = '2h' } }\n"
            "pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'devel/a' } }",
            &cfg);
    assert_int_equal(cfg.njobs, 0);
    {
        const struct config_pkg pkg = {"devel/a", "devel/a", "a-1", NULL,  0,   NULL,
                                       0,         NULL,      0,     false, NULL};
        struct err e;
        assert_int_equal(config_pkgsrc_jobs(&cfg, &pkg, 1, &e), 0);
    }
    assert_true(cfg.njobs > 0);
    for (size_t i = 0; i < cfg.njobs; i++) {
        assert_int_equal(cfg.jobs[i].limits.tasks, 7);
        assert_string_equal(cfg.jobs[i].limits.time_text, "2h");
        assert_true(cfg.jobs[i].network);
    }
    config_free(&cfg);
}

/* Runs a shell command; returns its exit status (or -1). */
static int run(const char *cmd)
{
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* config show --format json is valid JSON with exact strings. */
static void test_show_json(void **state)
{
    struct config cfg;
    char p[PATH_MAX + 16], cmd[4 * PATH_MAX], script[PATH_MAX + 16], *text;
    (void)state;
    load_fixture("bob-linux-full.lua", &cfg);
    snprintf(p, sizeof(p), "%s/show.json", tmpdir);
    show_to(&cfg, p, true);
    config_free(&cfg);
    text = read_text(p);
    assert_true(text[0] == '{');
    assert_non_null(strstr(text, "\"setup\": ["));
    free(text);
    if (run("command -v python3 >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    snprintf(cmd, sizeof(cmd), "python3 -m json.tool '%s' >/dev/null", p);
    assert_int_equal(run(cmd), 0);

    /* Escaping: every awkward string survives a JSON parser unchanged. */
    load_ok("options = { logdir = 'q\"b\\\\t\\tn\\nc\\1d\\127e\\xc3\\xa9f\\xffg' }\n"
            "jobs = { { name = 'j', stages = { { name = 's', run = 'x' } } } }\n"
            "dynamic = {}\n",
            &cfg);
    show_to(&cfg, p, true);
    config_free(&cfg);
    snprintf(script, sizeof(script), "%s/check.py", tmpdir);
    write_file(script,
               "import json, sys\n"
               "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
               "assert d['options']['logdir'] == 'q\"b\\\\t\\tn\\nc\\x01d\\x7fe\\u00e9f\\ufffdg', "
               "repr(d['options']['logdir'])\n"
               "assert d['jobs'][0]['stages'][0] == {'name': 's', 'run': 'x'}\n"
               "assert d['sandboxes'] is None and d['pkgsrc'] is None\n"
               "assert d['options']['tui'] is True and d['options']['build_threads'] == 1\n"
               "assert d['warnings'] == ['dynamic: not supported, ignored']\n");
    snprintf(cmd, sizeof(cmd), "python3 '%s' '%s'", script, p);
    assert_int_equal(run(cmd), 0);
}

/* ---- init, default path, bundled configs, names -------------------------------------- */

/* config_init writes the Linux default and refuses to overwrite. */
static void test_init(void **state)
{
    char path[PATH_MAX + 64], *text;
    /* The template of this host: with a pkgsrc tree, linux.lua; without, the jobs one. */
    const struct embed_file *f = embed_find(
        access("/usr/pkgsrc/mk", F_OK) == 0 ? "config/linux.lua" : "config/linux-jobs.lua");
    struct err e;
    struct config cfg;
    (void)state;
    assert_non_null(f);
    snprintf(path, sizeof(path), "%s/init/a/b/config.lua", tmpdir);
    assert_int_equal(config_init(path, &e), 0);
    text = read_text(path);
    assert_string_equal(text, f->data);
    free(text);
    assert_int_equal(config_load(path, &cfg, &e), 0);
    assert_true(cfg.has_sandboxes);
    config_free(&cfg);

    assert_true(config_init(path, &e) < 0);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof(want), "Configuration file %s already exists", path);
    assert_string_equal(e.msg, want);

    /* A parent that is a file. */
    snprintf(path, sizeof(path), "%s/init/a/b/config.lua/x.lua", tmpdir);
    assert_true(config_init(path, &e) < 0);
    assert_true(strlen(e.msg) > 0);
}

/* The default config path follows XDG_CONFIG_HOME, else HOME. */
static void test_default_path(void **state)
{
    char *p;
    (void)state;
    setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
    p = config_default_path();
    assert_string_equal(p, "/xdg/config/bob/config.lua");
    free(p);
    unsetenv("XDG_CONFIG_HOME");
    p = config_default_path();
    assert_string_equal(p, "/home/tester/.config/bob/config.lua");
    free(p);
}

/* Every bundled default config loads and round-trips. */
static void test_bundled_configs(void **state)
{
    static const char *const names[] = {"config/linux.lua",   "config/linux-jobs.lua",
                                        "config/generic.lua", "config/netbsd.lua",
                                        "config/illumos.lua", "config/macos.lua"};
    struct config cfg;
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct embed_file *f = embed_find(names[i]);
        struct err e;
        if (!f)
            fail_msg("%s is not embedded", names[i]);
        write_file(cfgpath, f->data);
        if (config_load(cfgpath, &cfg, &e) != 0)
            fail_msg("%s: %s", names[i], e.msg);
        /* macOS's sets bindfs, which does nothing on this OS: said in one warning. */
        assert_int_equal(cfg.warnings.n, strcmp(names[i], "config/macos.lua") == 0);
        /* The one for a host without pkgsrc has jobs instead (pkgsrc commented out). */
        assert_int_equal(cfg.has_pkgsrc, strcmp(names[i], "config/linux-jobs.lua") != 0);
        if (strcmp(names[i], "config/linux-jobs.lua") == 0)
            assert_int_equal(cfg.njobs, 2);
        assert_int_equal(cfg.has_sandboxes, strcmp(names[i], "config/generic.lua") != 0);
        round_trip(&cfg);
        config_free(&cfg);
    }

    /* The Linux default: bob's setup adapted. */
    write_file(cfgpath, embed_find("config/linux.lua")->data);
    struct err e;
    assert_int_equal(config_load(cfgpath, &cfg, &e), 0);
    assert_string_equal(cfg.pkgsrc_basedir, "/usr/pkgsrc");
    assert_string_equal(cfg.make, "/usr/pkg/bin/bmake");
    assert_int_equal(cfg.setup.v[0].fs, FS_DEV);
    assert_string_equal(cfg.setup.v[0].dest, "/dev");
    const struct action *last = &cfg.setup.v[cfg.setup.n - 1];
    assert_int_equal(last->fs, FS_BIND);
    assert_string_equal(last->src, "/usr/pkgsrc");
    assert_string_equal(last->only_exists, "/usr/pkgsrc");
    /* The build user action is dropped: no build_user. */
    for (size_t i = 0; i < cfg.setup.n; i++)
        assert_true(cfg.setup.v[i].kind != ACTION_CMD);
    config_free(&cfg);
}

/* Names of action kinds and filesystem types. */
static void test_names(void **state)
{
    (void)state;
    assert_string_equal(action_kind_name(ACTION_MOUNT), "mount");
    assert_string_equal(action_kind_name(ACTION_COPY), "copy");
    assert_string_equal(action_kind_name(ACTION_SYMLINK), "symlink");
    assert_string_equal(action_kind_name(ACTION_CMD), "cmd");
    assert_string_equal(action_kind_name(ACTION_MDNS), "macos-mdns-listener");
    assert_string_equal(fs_type_name(FS_BIND), "bind");
    assert_string_equal(fs_type_name(FS_DEV), "dev");
    assert_string_equal(fs_type_name(FS_FD), "fd");
    assert_string_equal(fs_type_name(FS_NFS), "nfs");
    assert_string_equal(fs_type_name(FS_PROC), "proc");
    assert_string_equal(fs_type_name(FS_TMP), "tmp");
}

/* Runs every test. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_dbdir_home),
        cmocka_unit_test(test_options_all),
        cmocka_unit_test(test_options_errors),
        cmocka_unit_test(test_unknown_key_warnings),
        cmocka_unit_test(test_empty_config),
        cmocka_unit_test(test_strict_types),
        cmocka_unit_test(test_unsupported_sections),
        cmocka_unit_test(test_pkgsrc_full),
        cmocka_unit_test(test_pkgsrc_defaults),
        cmocka_unit_test(test_pkgsrc_errors),
        cmocka_unit_test(test_sandboxes_basic),
        cmocka_unit_test(test_sandboxes_errors),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_environment_errors),
        cmocka_unit_test(test_actions_kinds),
        cmocka_unit_test(test_actions_semantic_errors),
        cmocka_unit_test(test_actions_strict_types),
        cmocka_unit_test(test_actions_unknown_keys),
        cmocka_unit_test(test_actions_paths),
        cmocka_unit_test(test_actions_src_checks),
        cmocka_unit_test(test_actions_src_realpath),
        cmocka_unit_test(test_only_set),
        cmocka_unit_test(test_only_env_exists),
        cmocka_unit_test(test_script_functions),
        cmocka_unit_test(test_script_errors),
        cmocka_unit_test(test_helpers_read),
        cmocka_unit_test(test_helpers_dedent_scriptenv),
        cmocka_unit_test(test_legacy_keys),
        cmocka_unit_test(test_legacy_exact_text),
        cmocka_unit_test(test_lua_syntax_error),
        cmocka_unit_test(test_lua_runtime_errors),
        cmocka_unit_test(test_lua_environment),
        cmocka_unit_test(test_print_goes_to_stderr),
        cmocka_unit_test(test_missing_and_bad_files),
        cmocka_unit_test(test_relative_path),
        cmocka_unit_test(test_memory_bomb),
        cmocka_unit_test(test_memory_small_limit),
        cmocka_unit_test(test_infinite_loops),
        cmocka_unit_test(test_hard_stop),
        cmocka_unit_test(test_jobs),
        cmocka_unit_test(test_jobs_errors),
        cmocka_unit_test(test_jobs_cycles),
        cmocka_unit_test(test_jobs_many),
        cmocka_unit_test(test_full_fixture),
        cmocka_unit_test(test_show_lua_round_trip),
        cmocka_unit_test(test_show_lua_filtered),
        cmocka_unit_test(test_show_json),
        cmocka_unit_test(test_pkgsrc_bootstrap_max_size),
        cmocka_unit_test(test_job_limits),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_bundled_configs),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
