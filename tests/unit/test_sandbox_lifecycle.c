/*
 * Unit tests of the sandbox lifecycle (src/sandbox/sandbox.c, owner.c):
 * create, rollback, cancel, destroy, ownership and the markers, on real
 * sandboxes under a mkdtemp directory, driven by injected platform faults
 * (util/fault.h) and by what a hostile job would do to the markers. They
 * need root; as another user the binary exits 77 (skipped). tests/run-private
 * puts it in a private mount namespace; without it, main makes one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "platform/platform.h"
#include "sandbox/owner.h"
#include "sandbox/sandbox.h"
#include "util/fault.h"

static char g_base[64];  /* the test's mkdtemp directory */
static char g_sbx[128];  /* <base>/sandboxes: the basedir */
static char g_host[128]; /* <base>/host: host files that must survive */

/* One command's worth of state: config, loop, context, the batch's end. */
struct lc {
    struct config cfg;
    uv_loop_t loop;
    struct sbx_ctx ctx;
    struct sbx_batch *b;
    int called;
};

static char *lc_path(const char *dir, const char *rel)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, rel);
    return b;
}

#define S(rel) lc_path(g_sbx, rel)
#define H(rel) lc_path(g_host, rel)

static void lc_write(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static bool lc_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Whether anything is mounted at or below the test's directory. */
static bool lc_mounted_below(const char *dir)
{
    struct plat_mount_entry *v;
    size_t n;
    struct err e;
    assert_int_equal(plat_mounts_under(dir, &v, &n, &e), 0);
    plat_mounts_free(v, n);
    return n > 0;
}

/* Whether basedir has no entry at all. */
static bool lc_basedir_empty(void)
{
    DIR *d = opendir(g_sbx);
    struct dirent *de;
    bool empty = true;
    if (!d)
        return true;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = false;
    closedir(d);
    return empty;
}

/* Loads a config whose setup is the given Lua actions, and starts a command's context. */
static void lc_open(struct lc *c, const char *setup)
{
    char *path = lc_path(g_base, "config.lua");
    char lua[4096];
    struct err e;
    snprintf(lua, sizeof(lua), "sandboxes = {\n  basedir = \"%s\",\n  setup = {\n%s\n  },\n}\n",
             g_sbx, setup);
    lc_write(path, lua);
    memset(c, 0, sizeof(*c));
    if (config_load(path, &c->cfg, &e) < 0)
        fail_msg("config: %s", e.msg);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    sandbox_ctx_init(&c->ctx, &c->loop, &c->cfg, CTX_BUILD);
    c->ctx.command = "test";
}

static void lc_close(struct lc *c)
{
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    sandbox_ctx_free(&c->ctx);
    config_free(&c->cfg);
}

static void lc_on_batch(struct sbx_batch *b, void *data)
{
    struct lc *c = data;
    assert_ptr_equal(b, c->b);
    c->called++;
}

/* Runs the loop until the batch is settled; its callback ran exactly once. */
static void lc_wait(struct lc *c)
{
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(c->called, 1);
}

static void lc_create(struct lc *c, size_t n)
{
    c->called = 0;
    c->b = sandbox_create(&c->ctx, n, lc_on_batch, c);
    assert_int_equal(c->called, 0); /* never from inside sandbox_create */
    lc_wait(c);
}

static void lc_destroy(struct lc *c, const unsigned *ids, size_t n)
{
    c->called = 0;
    c->b = sandbox_destroy(&c->ctx, ids, n, false, lc_on_batch, c);
    assert_int_equal(c->called, 0);
    lc_wait(c);
}

static void lc_fault(const char *spec)
{
    if (spec)
        setenv("BOB_FAULT", spec, 1);
    else
        unsetenv("BOB_FAULT");
    fault_init();
}

/* The usual setup: a tmpfs, a read-only bind of a host dir, a copy, a symlink. */
static const char *lc_setup(void)
{
    static char buf[1024];
    snprintf(
        buf, sizeof(buf),
        "    { action = \"mount\", fs = \"tmp\", dir = \"/tmp\" },\n"
        "    { action = \"mount\", fs = \"bind\", src = \"%s\", dest = \"/ro\", opts = \"ro\" },\n"
        "    { action = \"copy\", src = \"%s\", dest = \"/etc\" },\n"
        "    { action = \"symlink\", src = \"etc\", dest = \"/etc2\" },",
        H("data"), H("etc"));
    return buf;
}

/* A child that holds sandbox id (as another bob would) until killed; returns its pid. */
static pid_t lc_hold_in_child(unsigned id, const char *cmd)
{
    int p[2];
    char ok = 0;
    pid_t pid;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct owner_holder h;
        int fd;
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a test that failed */
        if (owner_open_root(g_sbx, id, &fd) < 0 || owner_lock(fd, cmd, &h) < 0)
            _exit(1);
        ok = 1;
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    assert_int_equal(ok, 1);
    return pid;
}

static void lc_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int setup(void **state)
{
    snprintf(g_base, sizeof(g_base), "/tmp/bob-lifecycle.XXXXXX");
    if (!mkdtemp(g_base))
        return -1;
    snprintf(g_sbx, sizeof(g_sbx), "%s/sandboxes", g_base);
    snprintf(g_host, sizeof(g_host), "%s/host", g_base);
    mkdir(g_host, 0755);
    mkdir(H("data"), 0755);
    mkdir(H("etc"), 0755);
    mkdir(H("victim"), 0755);
    mkdir(H("victim/completed"), 0755);
    lc_write(H("data/file"), "precious\n");
    lc_write(H("etc/hosts"), "127.0.0.1 localhost\n");
    lc_fault(NULL);
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    lc_fault(NULL);
    /* Whatever a failed test left mounted goes first; then the files. */
    snprintf(cmd, sizeof(cmd),
             "awk '{print $5}' /proc/self/mountinfo | grep '^%s/' | sort -r | "
             "xargs -r umount -l; rm -rf --one-file-system %s",
             g_base, g_base);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void test_create_and_destroy(void **state)
{
    struct lc c;
    unsigned ids[2];
    char rec[128], want[128], head[32];
    FILE *f;
    lc_open(&c, lc_setup());
    lc_create(&c, 2);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    assert_int_equal(sandbox_batch_size(c.b), 2);
    ids[0] = sandbox_batch_id(c.b, 0);
    ids[1] = sandbox_batch_id(c.b, 1);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1);
    assert_null(sandbox_batch_error(c.b, 0));
    assert_true(sandbox_is_complete(&c.cfg, 0));
    assert_true(lc_exists(S("1/etc/hosts")));
    assert_false(lc_exists(S("0/" OWNER_CLAIM)));
    /* Held by us, with our owner record. */
    assert_int_equal(sandbox_holder(&c.cfg, 0), getpid());
    f = fopen(S("0/.bob/owner"), "r");
    assert_non_null(f);
    assert_non_null(fgets(rec, sizeof(rec), f));
    fclose(f);
    /* "<pid> <cmd>", blank-padded to 63 characters, and a newline. */
    snprintf(head, sizeof(head), "%ld test", (long)getpid());
    snprintf(want, sizeof(want), "%-63s\n", head);
    assert_string_equal(rec, want);
    sandbox_batch_free(c.b);
    lc_destroy(&c, ids, 2);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    assert_int_equal(sandbox_holder(&c.cfg, 0), 0);
    lc_close(&c);
}

/* A setup action that fails in one sandbox takes the whole create back. */
static void test_setup_failure_rolls_back(void **state)
{
    struct lc c;
    size_t errors = 0;
    lc_open(&c, lc_setup());
    lc_fault("copy:2"); /* the second sandbox's copy */
    lc_create(&c, 2);
    assert_int_equal(sandbox_batch_status(c.b), -1);
    assert_false(sandbox_batch_cancelled(c.b));
    for (size_t i = 0; i < 2; i++)
        if (sandbox_batch_error(c.b, i)) {
            assert_non_null(strstr(sandbox_batch_error(c.b, i), "(injected)"));
            errors++;
        }
    assert_int_equal(errors, 1); /* the other one was rolled back without an error of its own */
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    lc_close(&c);
}

/* A claim that fails after others succeeded gives those back (nothing ran in them). */
static void test_claim_failure_rolls_back(void **state)
{
    struct lc c;
    lc_open(&c, lc_setup());
    lc_fault("mkdir:2");
    lc_create(&c, 2);
    assert_int_equal(sandbox_batch_status(c.b), -1);
    assert_non_null(sandbox_batch_error(c.b, 1));
    assert_non_null(strstr(sandbox_batch_error(c.b, 1), "(injected)"));
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    lc_close(&c);
}

static void lc_on_cancel_timer(uv_timer_t *t)
{
    struct lc *c = t->data;
    sandbox_batch_cancel(c->b);
    uv_close((uv_handle_t *)t, NULL);
}

/* A cancel during create (a setup command still running) rolls everything back. */
static void test_cancel_during_create(void **state)
{
    struct lc c;
    uv_timer_t t;
    char setup[1200];
    snprintf(setup, sizeof(setup), "%s\n    { action = \"cmd\", create = \"sleep 30\" },",
             lc_setup());
    lc_open(&c, setup);
    c.called = 0;
    c.b = sandbox_create(&c.ctx, 2, lc_on_batch, &c);
    uv_timer_init(&c.loop, &t);
    t.data = &c;
    uv_timer_start(&t, lc_on_cancel_timer, 300, 0);
    lc_wait(&c);
    assert_int_equal(sandbox_batch_status(c.b), -1);
    assert_true(sandbox_batch_cancelled(c.b));
    assert_non_null(sandbox_batch_error(c.b, 0));
    assert_non_null(strstr(sandbox_batch_error(c.b, 0), "interrupted"));
    /* A cancel once settled changes nothing. */
    sandbox_batch_cancel(c.b);
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    lc_close(&c);
}

/* A child whose cwd keeps the sandbox's /tmp busy for ms milliseconds. */
static pid_t lc_busy(const char *dir, int ms)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (chdir(dir) != 0)
            _exit(1);
        usleep((useconds_t)ms * 1000);
        _exit(0);
    }
    usleep(50000);
    return pid;
}

/* A busy mount is retried until it is free; one busy for good fails, and a later destroy finishes.
 */
static void test_busy_mount_retried(void **state)
{
    struct lc c;
    unsigned id = 0;
    pid_t busy;
    lc_open(&c, lc_setup());
    lc_create(&c, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    /* Busy for 400 ms: the backoff outlasts it. */
    busy = lc_busy(S("0/tmp"), 400);
    lc_destroy(&c, &id, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    waitpid(busy, NULL, 0);
    assert_true(lc_basedir_empty());

    lc_create(&c, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    /* Busy for good: the destroy fails, naming the mount, and leaves the sandbox found. */
    busy = lc_busy(S("0/tmp"), 60000);
    lc_destroy(&c, &id, 1);
    assert_int_equal(sandbox_batch_status(c.b), -1);
    assert_non_null(sandbox_batch_error(c.b, 0));
    assert_non_null(strstr(sandbox_batch_error(c.b, 0), "/tmp"));
    sandbox_batch_free(c.b);
    lc_reap(busy);
    {
        unsigned *ids;
        size_t n;
        struct err e;
        assert_int_equal(sandbox_discover(&c.cfg, &ids, &n, &e), 0);
        assert_int_equal(n, 1);
        free(ids);
    }
    lc_destroy(&c, &id, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    lc_close(&c);
}

/* What a job does to the markers: the holder still tears the sandbox down, never through a link. */
static void lc_markers_case(const char *how)
{
    struct lc c;
    unsigned id = 0;
    char cmd[512];
    lc_open(&c, lc_setup());
    lc_create(&c, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    snprintf(cmd, sizeof(cmd), "cd %s && rm -rf .bob%s", S("0"), how);
    assert_int_equal(system(cmd), 0);
    lc_destroy(&c, &id, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    assert_true(lc_exists(H("victim/completed")));
    assert_true(lc_exists(H("data/file")));
    lc_close(&c);
}

static void test_markers_removed(void **state)
{
    lc_markers_case("");
}

static void test_markers_file(void **state)
{
    lc_markers_case(" && touch .bob");
}

static void test_markers_symlink(void **state)
{
    char how[256];
    snprintf(how, sizeof(how), " && ln -s %s .bob", H("victim"));
    lc_markers_case(how);
}

/* A .bob replaced by a file is still found by discovery (and destroyed by anyone). */
static void test_marker_file_discovered(void **state)
{
    struct lc c;
    unsigned *ids;
    size_t n;
    struct err e;
    lc_open(&c, lc_setup());
    lc_create(&c, 1);
    sandbox_batch_free(c.b);
    lc_close(&c); /* lets go of it, as a bob that died */
    {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "cd %s && rm -rf .bob && ln -s %s .bob", S("0"), H("victim"));
        assert_int_equal(system(cmd), 0);
    }
    lc_open(&c, lc_setup());
    assert_int_equal(sandbox_discover(&c.cfg, &ids, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_false(sandbox_is_complete(&c.cfg, ids[0]));
    lc_destroy(&c, ids, n);
    free(ids);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    assert_true(lc_exists(H("victim/completed")));
    lc_close(&c);
}

/* Another process holds sandbox 0: destroy, lock and create leave it as it is. */
static void test_ownership_refusals(void **state)
{
    struct lc c;
    unsigned id = 0, ids[2];
    char want[128];
    struct err e;
    pid_t holder;
    lc_open(&c, lc_setup());
    lc_create(&c, 1);
    sandbox_batch_free(c.b);
    lc_close(&c);
    holder = lc_hold_in_child(0, "build");

    lc_open(&c, lc_setup());
    assert_int_equal(sandbox_holder(&c.cfg, 0), holder);
    snprintf(want, sizeof(want), "sandbox 0: in use by bob build (pid %ld)", (long)holder);
    assert_int_equal(sandbox_lock(&c.ctx, 0, &e), -EBUSY);
    assert_string_equal(e.msg, want);
    lc_destroy(&c, &id, 1);
    assert_int_equal(sandbox_batch_status(c.b), -1);
    assert_string_equal(sandbox_batch_error(c.b, 0), want);
    sandbox_batch_free(c.b);
    assert_true(sandbox_is_complete(&c.cfg, 0)); /* nothing changed */
    assert_true(lc_mounted_below(S("0")));       /* its mounts are still there */
    /* A create passes it by. */
    lc_create(&c, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    assert_int_equal(sandbox_batch_id(c.b, 0), 1);
    sandbox_batch_free(c.b);

    lc_reap(holder);
    ids[0] = 0;
    ids[1] = 1;
    lc_destroy(&c, ids, 2);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    lc_close(&c);
}

/* A claim left by a killed bob is cleared; one under way (held) is passed by, and kept. */
static void test_stale_claims(void **state)
{
    struct lc c;
    pid_t holder;
    unsigned ids[2];
    mkdir(g_sbx, 0755);
    mkdir(S("0"), 0755);
    mkdir(S("0/" OWNER_CLAIM), 0755);
    lc_write(S("0/" OWNER_CLAIM "/owner"), "1 build\n");
    mkdir(S("1"), 0755);
    mkdir(S("1/" OWNER_CLAIM), 0755);
    holder = lc_hold_in_child(1, "build");
    mkdir(S("2"), 0755);
    mkdir(S("2/" OWNER_CLAIM), 0755); /* stale, in an empty dir: pruned */

    lc_open(&c, lc_setup());
    sandbox_prune_unmarked(&c.cfg);
    assert_false(lc_exists(S("2")));
    assert_true(lc_exists(S("1/" OWNER_CLAIM)));
    lc_create(&c, 2);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    ids[0] = sandbox_batch_id(c.b, 0);
    ids[1] = sandbox_batch_id(c.b, 1);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 2);
    assert_false(lc_exists(S("0/" OWNER_CLAIM)));
    assert_true(lc_exists(S("1/" OWNER_CLAIM)));
    sandbox_batch_free(c.b);
    lc_destroy(&c, ids, 2);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    lc_reap(holder);
    sandbox_prune_unmarked(&c.cfg);
    assert_true(lc_basedir_empty());
    lc_close(&c);
}

/* A symlink or a mount at <basedir>/<id> is no sandbox: never listed, never entered. */
static void test_planted_entries(void **state)
{
    struct lc c;
    unsigned *ids;
    size_t n;
    struct err e;
    mkdir(g_sbx, 0755);
    mkdir(H("fake"), 0755);
    mkdir(H("fake/.bob"), 0755);
    mkdir(H("fake/.bob/completed"), 0755);
    assert_int_equal(symlink(H("fake"), S("5")), 0);
    mkdir(S("6"), 0755);
    assert_int_equal(mount(H("fake"), S("6"), NULL, MS_BIND, NULL), 0);
    lc_open(&c, lc_setup());
    assert_int_equal(sandbox_discover(&c.cfg, &ids, &n, &e), 0);
    assert_int_equal(n, 0);
    free(ids);
    assert_false(sandbox_is_complete(&c.cfg, 5));
    assert_false(sandbox_is_complete(&c.cfg, 6));
    assert_int_not_equal(sandbox_lock(&c.ctx, 5, &e), 0);
    assert_int_not_equal(sandbox_lock(&c.ctx, 6, &e), 0);
    assert_non_null(strstr(e.msg, "not a sandbox"));
    sandbox_prune_unmarked(&c.cfg);
    lc_create(&c, 1);
    assert_int_equal(sandbox_batch_id(c.b, 0), 0);
    sandbox_batch_free(c.b);
    {
        unsigned id = 0;
        lc_destroy(&c, &id, 1);
        assert_int_equal(sandbox_batch_status(c.b), 0);
        sandbox_batch_free(c.b);
    }
    assert_true(lc_exists(H("fake/.bob/completed")));
    assert_true(lc_exists(S("5")));
    assert_true(lc_exists(S("6/.bob/completed")));
    assert_int_equal(umount(S("6")), 0);
    lc_close(&c);
}

/* A mount made inside a copy is swept before the copy is removed. */
static void test_foreign_mount_in_copy(void **state)
{
    struct lc c;
    unsigned id = 0;
    lc_open(&c, lc_setup());
    lc_create(&c, 1);
    sandbox_batch_free(c.b);
    mkdir(S("0/etc/sub"), 0755);
    assert_int_equal(mount("none", S("0/etc/sub"), "tmpfs", 0, NULL), 0);
    lc_write(S("0/etc/sub/f"), "x");
    lc_destroy(&c, &id, 1);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    lc_close(&c);
}

/* The owner may let go while a teardown runs: it finishes, no callback, nothing leaks. */
static void test_free_while_running(void **state)
{
    struct lc c;
    unsigned id = 0;
    lc_open(&c, lc_setup());
    lc_create(&c, 1);
    sandbox_batch_free(c.b);
    c.called = 0;
    c.b = sandbox_destroy(&c.ctx, &id, 1, false, lc_on_batch, &c);
    sandbox_batch_free(c.b);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(c.called, 0);
    assert_true(lc_basedir_empty());
    assert_false(lc_mounted_below(g_base));
    lc_close(&c);
}

/* Empty batches still call back on the loop, never inside the call. */
static void test_empty_batches(void **state)
{
    struct lc c;
    lc_open(&c, lc_setup());
    lc_create(&c, 0);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    lc_destroy(&c, NULL, 0);
    assert_int_equal(sandbox_batch_status(c.b), 0);
    sandbox_batch_free(c.b);
    lc_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_mount_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_markers_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_markers_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_markers_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marker_file_discovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ownership_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_mount_in_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_batches, setup, teardown),
    };

    if (geteuid() != 0) {
        printf("test_sandbox_lifecycle: skipped: needs root (mounts, chroot); "
               "run as root through tests/run-private\n");
        return 77;
    }
    if (!getenv("BOB_IN_PRIVATE_NS")) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            printf("test_sandbox_lifecycle: skipped: cannot make a private mount namespace: %s\n",
                   strerror(errno));
            return 77;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
