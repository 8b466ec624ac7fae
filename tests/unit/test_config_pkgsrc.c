/*
 * Unit tests of the pkgsrc job generator (lua/pkgsrc.lua) and of the
 * loader's pkgsrc section: pkgsrc.pkgpaths make no jobs at load (they are
 * scanned at build time); config_pkgsrc_jobs turns resolved packages into
 * jobs, with their stages and commands; and a stand-in run of the
 * generated stages with /bin/sh against a fake make, pkg_add and pkg_delete.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_pkgsrc.h"

static char tmpdir[PATH_MAX];
static char cfgpath[PATH_MAX + 32];

/* The stage names of a generated job, in order. */
static const char *const stage_names[] = {
    "pre-clean", "depends", "checksum",  "usergroup", "configure", "build",
    "install",   "package", "deinstall", "copy",      "clean",
};
#define NSTAGES (sizeof(stage_names) / sizeof(stage_names[0]))

#define FLAGS " BATCH=1 DEPENDS_TARGET=/nonexistent"

/* ---- helpers -------------------------------------------------------------- */

/* Writes text to path, failing the test on error. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole file into a malloc'd string ("" when it does not exist). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    if (!f)
        return strdup("");
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

/* mkdir -p of tmpdir/rel. */
static void mkdirs(const char *rel)
{
    char path[PATH_MAX * 4];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    for (char *p = path + strlen(tmpdir) + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0755) != 0)
                assert_true(access(path, F_OK) == 0);
            *p = c;
            if (!c)
                break;
        }
    }
}

/* Writes text to tmpdir/rel, making its directory. */
static void put(const char *rel, const char *text)
{
    char path[PATH_MAX * 2], dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", rel);
    if (strrchr(dir, '/')) {
        *strrchr(dir, '/') = '\0';
        mkdirs(dir);
    }
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    write_file(path, text);
}

/* Writes the printf-formatted config and loads it. */
__attribute__((format(printf, 3, 4))) static int load_fmt(struct config *cfg, struct err *e,
                                                          const char *fmt, ...)
{
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    write_file(cfgpath, text);
    return config_load(cfgpath, cfg, e);
}

/* Loads lua, which must succeed. */
static void load_ok(const char *lua, struct config *cfg)
{
    struct err e;
    if (load_fmt(cfg, &e, "%s", lua) != 0)
        fail_msg("unexpected error: %s", e.msg);
}

/* Loads lua, which must fail with a message that starts with the path and contains each needle. */
static void load_fails(const char *lua, ...)
{
    struct config cfg;
    struct err e;
    va_list ap;
    const char *needle;

    if (load_fmt(&cfg, &e, "%s", lua) == 0) {
        config_free(&cfg);
        fail_msg("config loaded but should fail:\n%s", lua);
    }
    assert_null(cfg.path);
    assert_int_equal(cfg.njobs, 0);
    if (strncmp(e.msg, cfgpath, strlen(cfgpath)) != 0)
        fail_msg("message does not start with the config path: %s", e.msg);
    va_start(ap, lua);
    while ((needle = va_arg(ap, const char *)))
        if (!strstr(e.msg, needle))
            fail_msg("message lacks '%s': %s", needle, e.msg);
    va_end(ap);
}

/* The job named name, or NULL. */
static const struct job *job(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->njobs; i++)
        if (strcmp(cfg->jobs[i].name, name) == 0)
            return &cfg->jobs[i];
    return NULL;
}

/* The run of the stage named name of j (which must exist). */
static const char *stage_run(const struct job *j, const char *name)
{
    for (size_t i = 0; i < j->nstages; i++)
        if (strcmp(j->stages[i].name, name) == 0)
            return j->stages[i].run;
    fail_msg("job %s has no stage %s", j->name, name);
    return NULL;
}

/* Fails unless s contains needle. */
static void has(const char *s, const char *needle)
{
    if (!strstr(s, needle))
        fail_msg("'%s' not found in:\n%s", needle, s);
}

/* Fails if s contains needle. */
static void lacks(const char *s, const char *needle)
{
    if (strstr(s, needle))
        fail_msg("'%s' unexpectedly found in:\n%s", needle, s);
}

/* Fails unless the job's dependencies are exactly the NULL-terminated names, in order. */
static void deps_are(const struct config *cfg, const char *name, ...)
{
    const struct job *j = job(cfg, name);
    va_list ap;
    size_t n = 0;
    const char *d;

    assert_non_null(j);
    va_start(ap, name);
    while ((d = va_arg(ap, const char *))) {
        if (n >= j->depends.n)
            fail_msg("%s: missing dependency %s (has %zu)", name, d, j->depends.n);
        if (strcmp(j->depends.v[n], d) != 0)
            fail_msg("%s: dependency %zu is %s, expected %s", name, n + 1, j->depends.v[n], d);
        /* dep_idx points at the job of that name. */
        assert_string_equal(cfg->jobs[j->dep_idx[n]].name, d);
        n++;
    }
    va_end(ap);
    if (n != j->depends.n)
        fail_msg("%s: %zu dependencies, expected %zu (first extra: %s)", name, j->depends.n, n,
                 j->depends.v[n]);
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
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bob-test-pkgsrc.XXXXXX");
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

/* ---- generated jobs -------------------------------------------------------- */

/* Makes cfg's jobs from pkgs, which must succeed. */
static void gen(struct config *cfg, const struct config_pkg *pkgs, size_t n)
{
    struct err e;
    if (config_pkgsrc_jobs(cfg, pkgs, n, &e) != 0)
        fail_msg("config_pkgsrc_jobs: %s", e.msg);
    assert_int_equal(cfg->njobs, n);
}

/* pkgpaths make no jobs at load; the resolved packages make one job each, with bob's stages. */
static void test_generated_jobs(void **state)
{
    struct config cfg;
    static const char *const curl_deps[] = {"gmake-4.3nb1", "libsigc++-2.10"};
    static const char *const mv[] = {"PYTHON_VERSION_REQD=311"};
    static const size_t curl_jobs[] = {0, 3};
    const struct config_pkg pkgs[] = {
        {"devel/gmake", "devel/gmake", "gmake-4.3nb1", NULL, 0, NULL, 0, NULL, 0, false, NULL},
        {"www/curl", "www/curl", "curl-8.0", curl_deps, 2, curl_jobs, 2, NULL, 0, false, NULL},
        {"lang/py-x/311", "lang/py-x", "py311-x-1", NULL, 0, NULL, 0, mv, 1, false, "configure"},
        {"devel/libsigc++", "devel/libsigc++", "libsigc++-2.10", NULL, 0, NULL, 0, NULL, 0, true,
         NULL},
    };
    (void)state;
    load_ok("pkgsrc = { basedir = '/nonexistent/pkgsrc', make = '/usr/pkg/bin/bmake',\n"
            "  pkgpaths = { 'devel/gmake', 'www/curl', 'lang/gcc10-aux', 'devel/libsigc++' } }\n",
            &cfg);
    assert_int_equal(cfg.njobs, 0);
    assert_int_equal(cfg.pkgpaths.n, 4);
    assert_int_equal(cfg.warnings.n, 0);
    gen(&cfg, pkgs, 4);
    assert_string_equal(cfg.jobs[0].name, "devel/gmake");
    assert_string_equal(cfg.jobs[1].name, "www/curl");
    assert_string_equal(cfg.jobs[2].name, "lang/py-x/311");
    assert_string_equal(cfg.jobs[3].name, "devel/libsigc++");
    deps_are(&cfg, "www/curl", "devel/gmake", "devel/libsigc++", NULL);
    deps_are(&cfg, "devel/gmake", NULL);
    for (size_t i = 0; i < cfg.njobs; i++) {
        const struct job *j = &cfg.jobs[i];
        char mk[256];
        snprintf(mk, sizeof(mk), "\"$bob_make\" -C \"$bob_pkgsrc/%s\" ", pkgs[i].pkgpath);
        assert_int_equal(j->env.n, 0);
        assert_int_equal(j->nstages, NSTAGES);
        for (size_t k = 0; k < NSTAGES; k++) {
            assert_string_equal(j->stages[k].name, stage_names[k]);
            /* The make program comes from the sandbox environment, not the literal path. */
            lacks(j->stages[k].run, "/usr/pkg/bin/bmake");
        }
        /* The stages that call make do it in the package directory with bob's flags. */
        has(stage_run(j, "build"), mk);
        has(stage_run(j, "build"), FLAGS);
    }

    const struct job *j = &cfg.jobs[0];
    const char *run;
    /* pre-clean and clean: make clean, failure ignored. */
    run = stage_run(j, "pre-clean");
    has(run, "\"$bob_make\" -C \"$bob_pkgsrc/devel/gmake\" clean" FLAGS " || ");
    assert_string_equal(run, stage_run(j, "clean"));
    /* depends: nothing without dependencies; the exact package names otherwise. */
    has(stage_run(j, "depends"), "bob: no dependencies");
    lacks(stage_run(j, "depends"), "pkg_add");
    run = stage_run(&cfg.jobs[1], "depends");
    has(run, "show-vars VARNAMES='PKG_DBDIR PACKAGES PKG_TOOLS_BIN'" FLAGS);
    has(run, "PKG_PATH=\"$bob_packages/All\" \"$bob_pkgtools/pkg_add\" -K \"$bob_pkg_dbdir\" "
             "gmake-4.3nb1 libsigc++-2.10");
    /* the phases. */
    assert_string_equal(stage_run(j, "checksum"),
                        "\"$bob_make\" -C \"$bob_pkgsrc/devel/gmake\" checksum" FLAGS);
    assert_string_equal(stage_run(j, "configure"),
                        "\"$bob_make\" -C \"$bob_pkgsrc/devel/gmake\" configure" FLAGS);
    assert_string_equal(stage_run(j, "build"),
                        "\"$bob_make\" -C \"$bob_pkgsrc/devel/gmake\" all" FLAGS);
    assert_string_equal(stage_run(j, "install"),
                        "\"$bob_make\" -C \"$bob_pkgsrc/devel/gmake\" stage-install" FLAGS);
    /* usergroup: only with a USERGROUP_PHASE. */
    lacks(stage_run(j, "usergroup"), "create-usergroup");
    assert_string_equal(stage_run(&cfg.jobs[2], "usergroup"),
                        "\"$bob_make\" -C \"$bob_pkgsrc/lang/py-x\" create-usergroup clean "
                        "PYTHON_VERSION_REQD=311" FLAGS);
    /* MULTI_VERSION: every make call of the variant carries it. */
    assert_string_equal(
        stage_run(&cfg.jobs[2], "build"),
        "\"$bob_make\" -C \"$bob_pkgsrc/lang/py-x\" all PYTHON_VERSION_REQD=311" FLAGS);
    /* package: create, then install it, unless it is a bootstrap package. */
    run = stage_run(j, "package");
    has(run, "\"$bob_make\" -C \"$bob_pkgsrc/devel/gmake\" stage-package-create" FLAGS);
    has(run, "STAGE_PKGFILE");
    has(run, "\"$bob_pkgtools/pkg_add\" -K \"$bob_pkg_dbdir\" \"$1\"");
    assert_true(strstr(run, "stage-package-create") < strstr(run, "pkg_add"));
    lacks(stage_run(&cfg.jobs[3], "package"), "pkg_add");
    /* deinstall: pkg_delete of PKGNAME unless a bootstrap package. */
    has(stage_run(j, "deinstall"),
        "\"$bob_pkgtools/pkg_delete\" -K \"$bob_pkg_dbdir\" gmake-4.3nb1");
    has(stage_run(&cfg.jobs[3], "deinstall"), "BOOTSTRAP_PKG=yes: not deinstalled");
    /* A name with a shell character is quoted. */
    has(stage_run(&cfg.jobs[1], "depends"), "libsigc++-2.10");
    /* copy: into PACKAGES/All, by a temporary name and a rename. */
    run = stage_run(j, "copy");
    has(run, "show-vars VARNAMES='PKG_DBDIR PACKAGES PKG_TOOLS_BIN STAGE_PKGFILE'");
    has(run, "dest=$bob_packages/All");
    has(run, "mv -f");
    has(run, "writable bind mount");
    /* Other jobs use their own pkgpath only. */
    lacks(stage_run(&cfg.jobs[1], "build"), "gmake");
    has(stage_run(&cfg.jobs[3], "build"), "\"$bob_pkgsrc/devel/libsigc++\" all");
    /* Making them again replaces them. */
    gen(&cfg, pkgs, 1);
    config_free(&cfg);
}

/* `jobs` present wins over pkgsrc.pkgpaths; an empty pkgpaths list generates nothing. */
static void test_jobs_win(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'devel/gmake', 'www/curl' } }\n"
            "jobs = { { name = 'mine', run = 'echo mine' } }\n",
            &cfg);
    assert_int_equal(cfg.njobs, 1);
    assert_string_equal(cfg.jobs[0].name, "mine");
    assert_int_equal(cfg.pkgpaths.n, 2);
    config_free(&cfg);

    /* Even an empty `jobs` list wins. */
    load_ok("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'devel/gmake' } }\n"
            "jobs = {}\n",
            &cfg);
    assert_int_equal(cfg.njobs, 0);
    config_free(&cfg);

    load_ok("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = {} }\n", &cfg);
    assert_int_equal(cfg.njobs, 0);
    config_free(&cfg);

    load_ok("pkgsrc = { basedir = '/p', make = '/m' }\n", &cfg);
    assert_int_equal(cfg.njobs, 0);
    config_free(&cfg);

    /* A user's jobs may use the pkgpaths as names too. */
    load_ok("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b' } }\n"
            "jobs = { { name = 'a/b', run = 'true' } }\n",
            &cfg);
    assert_int_equal(cfg.njobs, 1);
    assert_int_equal(cfg.jobs[0].nstages, 1);
    config_free(&cfg);
}

/* build_user changes nothing in the jobs: the sandbox applies it by stage name. */
static void test_build_user_same_stages(void **state)
{
    struct config b;
    const struct config_pkg pkg = {
        "devel/gmake", "devel/gmake", "gmake-4", NULL, 0, NULL, 0, NULL, 0, false, NULL};
    (void)state;
    load_ok("pkgsrc = { basedir = '/p', make = '/m', build_user = 'root',\n"
            "  pkgpaths = { 'devel/gmake' } }\n",
            &b);
    assert_string_equal(b.build_user, "root");
    gen(&b, &pkg, 1);
    for (size_t k = 0; k < b.jobs[0].nstages; k++)
        lacks(b.jobs[0].stages[k].run, "su ");
    assert_int_equal(b.jobs[0].env.n, 0);
    config_free(&b);
}

/* A repeated pkgpath is kept as written (the scan counts it once); no jobs at load. */
static void test_duplicate_pkgpaths(void **state)
{
    struct config cfg;
    (void)state;
    load_ok("pkgsrc = { basedir = '/p', make = '/m',\n"
            "  pkgpaths = { 'devel/gmake', 'www/curl', 'devel/gmake' } }\n",
            &cfg);
    assert_int_equal(cfg.pkgpaths.n, 3);
    assert_int_equal(cfg.njobs, 0);
    config_free(&cfg);
}

/* Invalid pkgpaths are refused with the place named. */
static void test_invalid_pkgpaths(void **state)
{
    (void)state;
    /* Characters that a job name (and a shell word) cannot carry. */
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b', 'x/y;rm' } }",
               ": pkgsrc.pkgpaths[2]: invalid pkgpath 'x/y;rm': only letters, digits", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b', 'c/d', 'x/$(id)' } }",
               ": pkgsrc.pkgpaths[3]: invalid pkgpath 'x/$(id)'", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'x/\"q\"' } }",
               ": pkgsrc.pkgpaths[1]: invalid pkgpath 'x/\"q\"'", NULL);
    /* The form is checked before (by the pkgsrc section), with the same place. */
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b', 'c/d', 'mail' } }",
               ": pkgsrc.pkgpaths[3]: invalid pkgpath 'mail'", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/..' } }",
               ": pkgsrc.pkgpaths[1]: invalid pkgpath 'a/..'", NULL);
    load_fails("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b c' } }",
               ": pkgsrc.pkgpaths[1]: invalid pkgpath 'a/b c'", NULL);
    /* With `jobs` present the pkgpaths generate nothing, so only the form matters. */
    struct config cfg;
    load_ok("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'x/y;z' } }\njobs = {}\n", &cfg);
    config_free(&cfg);
}

/* The generator runs in a Lua state of its own: what a config did to its own cannot break it. */
static void test_generator_isolated(void **state)
{
    struct config cfg;
    const struct config_pkg pkg = {"a/b", "a/b", "b-1", NULL, 0, NULL, 0, NULL, 0, false, NULL};
    (void)state;
    load_ok("pkgsrc = { basedir = '/p', make = '/m', pkgpaths = { 'a/b' } }\n"
            "table.concat = nil\n",
            &cfg);
    gen(&cfg, &pkg, 1);
    has(stage_run(&cfg.jobs[0], "build"), "\"$bob_pkgsrc/a/b\" all");
    config_free(&cfg);
}

/* Many packages: every one gets its jobs, quickly. */
static void test_many_jobs(void **state)
{
    struct config cfg;
    struct config_pkg *pkgs = calloc(3000, sizeof(*pkgs));
    char(*names)[32] = calloc(3000, sizeof(*names));
    size_t *deps = calloc(3000, sizeof(size_t));
    (void)state;
    assert_non_null(pkgs);
    load_ok("pkgsrc = { basedir = '/p', make = '/m' }\n", &cfg);
    for (size_t i = 0; i < 3000; i++) {
        snprintf(names[i], sizeof(names[i]), "cat/pkg%zu", i + 1);
        pkgs[i].name = pkgs[i].pkgpath = names[i];
        pkgs[i].pkgname = "x-1";
        deps[i] = i ? i - 1 : 0;
        pkgs[i].job_deps = &deps[i];
        pkgs[i].njob_deps = i ? 1 : 0;
    }
    gen(&cfg, pkgs, 3000);
    assert_string_equal(cfg.jobs[2999].name, "cat/pkg3000");
    deps_are(&cfg, "cat/pkg3000", "cat/pkg2999", NULL);
    config_free(&cfg);
    free(pkgs);
    free(names);
    free(deps);
}

/* config show of a pkgsrc config round-trips: the pkgpaths, and no jobs. */
static void test_show_round_trip(void **state)
{
    struct config a, b;
    struct err e;
    char shown[PATH_MAX + 32];
    FILE *f;
    (void)state;
    if (load_fmt(&a, &e,
                 "pkgsrc = { basedir = '%s/t3', make = '/m', build_user = 'root',\n"
                 "  pkgpaths = { 'x/app', 'x/lib' } }\n",
                 tmpdir) != 0)
        fail_msg("%s", e.msg);
    snprintf(shown, sizeof(shown), "%s/shown.lua", tmpdir);
    f = fopen(shown, "w");
    assert_non_null(f);
    config_show_lua(&a, f);
    assert_int_equal(fclose(f), 0);
    if (config_load(shown, &b, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(a.njobs, 0);
    assert_int_equal(b.njobs, 0);
    assert_int_equal(b.pkgpaths.n, 2);
    assert_string_equal(b.pkgpaths.v[0], "x/app");
    assert_string_equal(b.pkgpaths.v[1], "x/lib");
    config_free(&a);
    config_free(&b);
}

/* ---- a stand-in run ------------------------------------------------------------ */

/*
 * A fake bmake: checks the flags, writes "<pkgpath> <targets>" to $FAKE_TRACE
 * for real targets, answers show-var and show-vars from <pkgdir>/fake.vars
 * ("NAME=value" lines), makes the package file for stage-package-create, and
 * fails a target when <pkgdir>/fail.<target> exists.
 */
static const char fake_make[] =
    "#!/bin/sh\n"
    "dir= targets= batch= depends_target= names=\n"
    "while [ $# -gt 0 ]; do\n"
    "    case $1 in\n"
    "    -C) dir=$2; shift ;;\n"
    "    BATCH=1) batch=1 ;;\n"
    "    DEPENDS_TARGET=/nonexistent) depends_target=1 ;;\n"
    "    VARNAME=*) names=${1#VARNAME=} ;;\n"
    "    VARNAMES=*) names=${1#VARNAMES=} ;;\n"
    "    *=*) echo \"fake make: unexpected $1\" >&2; exit 2 ;;\n"
    "    *) targets=\"$targets $1\" ;;\n"
    "    esac\n"
    "    shift\n"
    "done\n"
    "[ -n \"$batch\" ] && [ -n \"$depends_target\" ] || { echo 'fake make: flags' >&2; exit 2; }\n"
    "pkgpath=${dir#\"$bob_pkgsrc\"/}\n"
    "val() { sed -n \"s|^$1=||p\" \"$dir/fake.vars\"; }\n"
    "case $targets in\n"
    "' show-var' | ' show-vars')\n"
    "    for n in $names; do printf '%s\\n' \"$(val \"$n\")\"; done\n"
    "    exit 0 ;;\n"
    "esac\n"
    "echo \"$pkgpath$targets\" >>\"$FAKE_TRACE\"\n"
    "for t in $targets; do\n"
    "    [ ! -e \"$dir/fail.$t\" ] || { echo \"fake make: $t failed\"; exit 1; }\n"
    "    if [ $t = stage-package-create ]; then\n"
    "        f=$(val STAGE_PKGFILE); mkdir -p \"${f%/*}\"; echo \"package $pkgpath\" >\"$f\"\n"
    "    fi\n"
    "done\n";

/* A fake pkg_add or pkg_delete: writes its name, PKG_PATH and arguments to $FAKE_TRACE. */
static const char fake_tool[] = "#!/bin/sh\n"
                                "echo \"${0##*/} PKG_PATH=${PKG_PATH:-} $*\" >>\"$FAKE_TRACE\"\n";

/* Writes an executable file. */
static void put_exec(const char *rel, const char *text)
{
    char path[PATH_MAX * 2];
    put(rel, text);
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    assert_int_equal(chmod(path, 0755), 0);
}

/* Runs /bin/sh -ceu run with env, output to log; returns the exit status. */
static int run_stage(const char *run, char *const env[], const char *log)
{
    pid_t pid = fork();
    int status;
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        execle("/bin/sh", "sh", "-ceu", run, (char *)NULL, env);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs every stage of job j in order (as build.c does, stopping at a failure); returns
 * the index of the failed stage or -1. with_pkgvars gives the bob_* package variables
 * as a bootstrap kit would; otherwise the stages must ask pkgsrc. */
static long run_job(const struct job *j, const char *log, bool with_pkgvars)
{
    char e_make[PATH_MAX + 128], e_pkgsrc[PATH_MAX + 128], e_trace[PATH_MAX + 128];
    char e_db[PATH_MAX + 128], e_pk[PATH_MAX + 128], e_tools[PATH_MAX + 128];
    char *env[10];
    size_t n = 0;

    snprintf(e_make, sizeof(e_make), "bob_make=%s/fake/bmake", tmpdir);
    snprintf(e_pkgsrc, sizeof(e_pkgsrc), "bob_pkgsrc=%s/t4", tmpdir);
    snprintf(e_trace, sizeof(e_trace), "FAKE_TRACE=%s/trace", tmpdir);
    snprintf(e_db, sizeof(e_db), "bob_pkg_dbdir=%s/env-pkgdb", tmpdir);
    snprintf(e_pk, sizeof(e_pk), "bob_packages=%s/packages", tmpdir);
    snprintf(e_tools, sizeof(e_tools), "bob_pkgtools=%s/fake", tmpdir);
    env[n++] = "PATH=/usr/bin:/bin";
    env[n++] = e_make;
    env[n++] = e_pkgsrc;
    env[n++] = e_trace;
    if (with_pkgvars) {
        env[n++] = e_db;
        env[n++] = e_pk;
        env[n++] = e_tools;
    }
    env[n] = NULL;
    for (size_t k = 0; k < j->nstages; k++) {
        if (run_stage(j->stages[k].run, env, log) != 0)
            return (long)k;
    }
    return -1;
}

/* Writes the fake pkgsrc tree: three packages with their variables. */
static void fake_tree(void)
{
    char vars[8 * PATH_MAX];
    put_exec("fake/bmake", fake_make);
    put_exec("fake/pkg_add", fake_tool);
    put_exec("fake/pkg_delete", fake_tool);
    /* lib: no dependencies, users created before configure. */
    snprintf(vars, sizeof(vars),
             "PKG_DBDIR=%s/pkgdb\nPACKAGES=%s/packages\nPKG_TOOLS_BIN=%s/fake\n"
             "PKGNAME=lib-1.0\nSTAGE_PKGFILE=%s/t4/x/lib/work/.packages/lib-1.0.tgz\n"
             "USERGROUP_PHASE=configure\n_ALL_DEPENDS=\nBOOTSTRAP_PKG=\n",
             tmpdir, tmpdir, tmpdir, tmpdir);
    put("t4/x/lib/fake.vars", vars);
    put("t4/x/lib/Makefile", "\n");
    /* app: two dependencies, one a tool; its pre-clean fails (ignored). */
    snprintf(vars, sizeof(vars),
             "PKG_DBDIR=%s/pkgdb\nPACKAGES=%s/packages\nPKG_TOOLS_BIN=%s/fake\n"
             "PKGNAME=app-2.0\nSTAGE_PKGFILE=%s/t4/x/app/work/.packages/app-2.0.tgz\n"
             "USERGROUP_PHASE=\n"
             "_ALL_DEPENDS=lib>=1.0:../../x/lib {gmake>=4,gmake-[0-9]*}:../../devel/gmake\n"
             "BOOTSTRAP_PKG=\n",
             tmpdir, tmpdir, tmpdir, tmpdir);
    put("t4/x/app/fake.vars", vars);
    put("t4/x/app/Makefile", ".include \"../../x/lib/buildlink3.mk\"\n");
    put("t4/x/app/fail.clean", "");
    /* boot: a bootstrap package: neither installed nor deinstalled. */
    snprintf(vars, sizeof(vars),
             "PKG_DBDIR=%s/pkgdb\nPACKAGES=%s/packages\nPKG_TOOLS_BIN=%s/fake\n"
             "PKGNAME=boot-1\nSTAGE_PKGFILE=%s/t4/x/boot/work/.packages/boot-1.tgz\n"
             "USERGROUP_PHASE=\n_ALL_DEPENDS=\nBOOTSTRAP_PKG=yes\n",
             tmpdir, tmpdir, tmpdir, tmpdir);
    put("t4/x/boot/fake.vars", vars);
    put("t4/x/boot/Makefile", "\n");
}

/* The generated stages run with /bin/sh against a fake make: commands, order, results. */
static void test_stand_in_run(void **state)
{
    struct config cfg;
    struct err e;
    char log[PATH_MAX + 32], trace[PATH_MAX + 32], pkg[PATH_MAX + 64], want[8 * PATH_MAX], *t;
    (void)state;
    fake_tree();
    snprintf(log, sizeof(log), "%s/run.log", tmpdir);
    snprintf(trace, sizeof(trace), "%s/trace", tmpdir);
    if (load_fmt(&cfg, &e,
                 "pkgsrc = { basedir = '%s/t4', make = '/m',\n"
                 "  pkgpaths = { 'x/app', 'x/lib', 'x/boot' } }\n",
                 tmpdir) != 0)
        fail_msg("%s", e.msg);
    {
        /* What the scan and the resolution would say about them. */
        static const char *const app_deps[] = {"lib-1.0", "gmake-4.1"};
        static const size_t app_jobs[] = {1};
        const struct config_pkg pkgs[] = {
            {"x/app", "x/app", "app-2.0", app_deps, 2, app_jobs, 1, NULL, 0, false, NULL},
            {"x/lib", "x/lib", "lib-1.0", NULL, 0, NULL, 0, NULL, 0, false, "configure"},
            {"x/boot", "x/boot", "boot-1", NULL, 0, NULL, 0, NULL, 0, true, NULL},
        };
        gen(&cfg, pkgs, 3);
    }
    deps_are(&cfg, "x/app", "x/lib", NULL);

    /* Without a bootstrap kit: the stages ask pkgsrc for PKG_DBDIR and friends. */
    unlink(trace);
    if (run_job(job(&cfg, "x/lib"), log, false) != -1)
        fail_msg("x/lib failed:\n%s", read_text(log));
    snprintf(want, sizeof(want),
             "x/lib clean\n"
             "x/lib checksum\n"
             "x/lib create-usergroup clean\n"
             "x/lib configure\n"
             "x/lib all\n"
             "x/lib stage-install\n"
             "x/lib stage-package-create\n"
             "pkg_add PKG_PATH= -K %s/pkgdb %s/t4/x/lib/work/.packages/lib-1.0.tgz\n"
             "pkg_delete PKG_PATH= -K %s/pkgdb lib-1.0\n"
             "x/lib clean\n",
             tmpdir, tmpdir, tmpdir);
    t = read_text(trace);
    assert_string_equal(t, want);
    free(t);
    snprintf(pkg, sizeof(pkg), "%s/packages/All/lib-1.0.tgz", tmpdir);
    t = read_text(pkg);
    assert_string_equal(t, "package x/lib\n");
    free(t);

    /* With the bob_* variables of a bootstrap kit, those are used; the resolved
     * packages are installed from PACKAGES/All; the failed pre-clean is ignored. */
    unlink(trace);
    if (run_job(job(&cfg, "x/app"), log, true) != -1)
        fail_msg("x/app failed:\n%s", read_text(log));
    snprintf(want, sizeof(want),
             "x/app clean\n"
             "pkg_add PKG_PATH=%s/packages/All -K %s/env-pkgdb lib-1.0 gmake-4.1\n"
             "x/app checksum\n"
             "x/app configure\n"
             "x/app all\n"
             "x/app stage-install\n"
             "x/app stage-package-create\n"
             "pkg_add PKG_PATH= -K %s/env-pkgdb %s/t4/x/app/work/.packages/app-2.0.tgz\n"
             "pkg_delete PKG_PATH= -K %s/env-pkgdb app-2.0\n"
             "x/app clean\n",
             tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
    t = read_text(trace);
    assert_string_equal(t, want);
    free(t);
    t = read_text(log);
    has(t, "bob: make clean failed (ignored)");
    free(t);
    snprintf(pkg, sizeof(pkg), "%s/packages/All/app-2.0.tgz", tmpdir);
    assert_int_equal(access(pkg, F_OK), 0);

    /* A bootstrap package is neither installed nor deinstalled, but copied. */
    unlink(trace);
    if (run_job(job(&cfg, "x/boot"), log, true) != -1)
        fail_msg("x/boot failed:\n%s", read_text(log));
    t = read_text(trace);
    lacks(t, "pkg_add");
    lacks(t, "pkg_delete");
    has(t, "x/boot stage-package-create\nx/boot clean\n");
    free(t);
    snprintf(pkg, sizeof(pkg), "%s/packages/All/boot-1.tgz", tmpdir);
    assert_int_equal(access(pkg, F_OK), 0);

    /* A failing phase fails its stage; the stages after it do not run. */
    put("t4/x/lib/fail.all", "");
    unlink(trace);
    assert_int_equal(run_job(job(&cfg, "x/lib"), log, true), 5);
    assert_string_equal(job(&cfg, "x/lib")->stages[5].name, "build");
    t = read_text(trace);
    lacks(t, "stage-install");
    free(t);
    snprintf(want, sizeof(want), "%s/t4/x/lib/fail.all", tmpdir);
    unlink(want);

    /* PACKAGES that cannot be written: the copy stage fails and says why. */
    snprintf(want, sizeof(want), "%s/packages/All", tmpdir);
    assert_int_equal(chmod(want, 0555), 0);
    if (geteuid() != 0) { /* root writes anyway */
        assert_int_equal(run_job(job(&cfg, "x/lib"), log, true), 9);
        t = read_text(log);
        has(t, "PACKAGES must be a writable bind mount");
        free(t);
    }
    assert_int_equal(chmod(want, 0755), 0);
    config_free(&cfg);
}

/* Runs every test. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_jobs),
        cmocka_unit_test(test_jobs_win),
        cmocka_unit_test(test_build_user_same_stages),
        cmocka_unit_test(test_duplicate_pkgpaths),
        cmocka_unit_test(test_invalid_pkgpaths),
        cmocka_unit_test(test_generator_isolated),
        cmocka_unit_test(test_many_jobs),
        cmocka_unit_test(test_show_round_trip),
        cmocka_unit_test(test_stand_in_run),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
