/* Sandbox lifecycle: claim, create, roll back, destroy, discover. */
#include "sandbox/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/actions.h"
#include "actions/unmount.h"
#include "platform/cgroup.h"
#include "platform/platform.h"
#include "sandbox/exec.h"
#include "sandbox/killer.h"
#include "util/fault.h"

enum sbx_state {
    SBX_SETUP,   /* running the setup actions */
    SBX_UNMARK,  /* destroy: removing .bob/completed */
    SBX_KILL,    /* killing the processes inside */
    SBX_UNHOOK,  /* undoing the hooks a killed job left applied (destroy command) */
    SBX_REVERSE, /* undoing the setup actions */
    SBX_SWEEP,   /* unmounting whatever is still mounted below the root */
    SBX_REMOVE,  /* removing the files left on the sandbox's own mount */
    SBX_DONE,    /* reached the goal */
    SBX_FAILED,  /* stopped with an error */
};

struct sbx {
    struct sbx_batch *batch;
    unsigned id;
    char *root;
    enum sbx_state state;
    bool created; /* setup completed: a later failure of the batch destroys it */
    bool rolling_back;
    size_t undo; /* how many setup actions to undo */
    struct actrun *run;
    struct unmount *sweep;
    struct killer *killer;
    uv_work_t work;
    int work_status;
    struct err err; /* the first error */
    char *error;    /* "sandbox N: ...", set when it failed */
};

struct sbx_batch {
    struct sbx_ctx *ctx;
    bool creating, cancelled, failing;
    bool undo_hooks; /* destroy: undo the hooks first (post-build of a killed job) */
    struct sbx *v;
    size_t n, pending;
    int handles; /* open timers and pending work */
    bool free_requested;
    sbx_batch_cb cb;
    void *data;
};

static void sbx_next(struct sbx *s);
static void sbx_fail(struct sbx *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void sandbox_ctx_init(struct sbx_ctx *ctx, uv_loop_t *loop, const struct config *cfg,
                      enum env_ctx env_ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->loop = loop;
    ctx->cfg = cfg;
    ctx->ctx = env_ctx;
    if (cfg->logdir)
        env_setkv(&ctx->env, "bob_logdir", cfg->logdir);
    if (cfg->has_pkgsrc) {
        env_setkv(&ctx->env, "bob_make", cfg->make);
        env_setkv(&ctx->env, "bob_pkgsrc", cfg->pkgsrc_basedir);
        if (cfg->build_user)
            env_setkv(&ctx->env, "bob_build_user", cfg->build_user);
        if (cfg->build_user_home)
            env_setkv(&ctx->env, "bob_build_user_home", cfg->build_user_home);
        if (cfg->bootstrap)
            env_setkv(&ctx->env, "bob_bootstrap", cfg->bootstrap);
    }
}

void sandbox_ctx_free(struct sbx_ctx *ctx)
{
    strv_free(&ctx->env);
    free(ctx->prefix);
    free(ctx->pkg_dbdir);
    free(ctx->pkg_refcount_dbdir);
}

void sandbox_ctx_set_pkgsrc(struct sbx_ctx *ctx, const struct strv *names,
                            const struct strv *values)
{
    static const struct {
        const char *name, *var;
    } map[] = {
        {"PACKAGES", "bob_packages"},
        {"PKG_TOOLS_BIN", "bob_pkgtools"},
        {"PREFIX", "bob_prefix"},
        {"PKG_DBDIR", "bob_pkg_dbdir"},
        {"PKG_REFCOUNT_DBDIR", "bob_pkg_refcount_dbdir"},
        {"VARBASE", "bob_varbase"},
    };
    for (size_t i = 0; i < names->n && i < values->n; i++) {
        const char *n = names->v[i], *v = values->v[i];
        bool mapped = false;
        for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++)
            if (strcmp(n, map[j].name) == 0) {
                if (*v)
                    env_setkv(&ctx->env, map[j].var, v);
                mapped = true;
            }
        if (!mapped)
            env_setkv(&ctx->env, n, v); /* a cachevar, under its own name */
        if (strcmp(n, "PREFIX") == 0 && *v && !ctx->prefix)
            ctx->prefix = xstrdup(v);
        else if (strcmp(n, "PKG_DBDIR") == 0 && *v && !ctx->pkg_dbdir)
            ctx->pkg_dbdir = xstrdup(v);
        else if (strcmp(n, "PKG_REFCOUNT_DBDIR") == 0 && *v && !ctx->pkg_refcount_dbdir)
            ctx->pkg_refcount_dbdir = xstrdup(v);
    }
}

char *sandbox_path(const struct config *cfg, unsigned id)
{
    return xasprintf("%s/%u", cfg->basedir, id);
}

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int sandbox_discover(const struct config *cfg, unsigned **ids, size_t *n, struct err *e)
{
    DIR *d = opendir(cfg->basedir);
    struct dirent *de;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return err_sys(e, errno, "cannot read %s", cfg->basedir);
    }
    while ((de = readdir(d))) {
        unsigned long v;
        char *marker;
        struct stat st;
        if (!str_to_uint(de->d_name, &v) || v > 1000000)
            continue;
        marker = xasprintf("%s/%lu/.bob", cfg->basedir, v);
        if (lstat(marker, &st) == 0 && S_ISDIR(st.st_mode)) {
            bool dup = false;
            for (size_t i = 0; i < *n; i++)
                dup |= (*ids)[i] == v;
            if (!dup) {
                if (*n == cap) {
                    cap = cap ? cap * 2 : 16;
                    *ids = xrealloc(*ids, cap * sizeof(**ids));
                }
                (*ids)[(*n)++] = (unsigned)v;
            }
        }
        free(marker);
    }
    closedir(d);
    if (*n)
        qsort(*ids, *n, sizeof(**ids), cmp_uint);
    return 0;
}

void sandbox_prune_unmarked(const struct config *cfg)
{
    DIR *d = opendir(cfg->basedir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        unsigned long v;
        char *marker;
        if (!str_to_uint(de->d_name, &v))
            continue;
        marker = xasprintf("%s/%s/.bob", cfg->basedir, de->d_name);
        if (access(marker, F_OK) != 0 && errno == ENOENT)
            (void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR); /* fails unless empty */
        free(marker);
    }
    closedir(d);
}

bool sandbox_is_complete(const struct config *cfg, unsigned id)
{
    char *p = xasprintf("%s/%u/.bob/completed", cfg->basedir, id);
    struct stat st;
    bool ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    return ok;
}

/* mkdir -p with mode 0755 whatever the umask. */
static int mkdir_p(const char *path, struct err *e)
{
    char *p = xstrdup(path);
    int r = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) == 0) {
                chmod(p, 0755);
            } else if (errno != EEXIST) {
                r = err_sys(e, errno, "cannot create %s", p);
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return r;
}

/* Whether a directory has entries other than "." and "..". */
static bool dir_has_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    bool any = false;
    if (!d)
        return false;
    while (!any && (de = readdir(d)))
        any = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return any;
}

/*
 * Claims the lowest free id: <basedir>/<id>/.bob made with mkdir is the
 * atomic claim, safe across concurrent bob processes. A directory that is
 * not ours (no .bob) and not empty is never claimed: its files are not ours
 * to delete later.
 */
static int claim_id(const struct config *cfg, unsigned *out, struct err *e)
{
    if (mkdir_p(cfg->basedir, e) < 0)
        return -1;
    for (unsigned id = 0; id < 1000000; id++) {
        char *dir = sandbox_path(cfg, id);
        char *marker = xasprintf("%s/.bob", dir);
        int r = fault_check("mkdir");
        if (r < 0) {
            err_sys(e, -r, "cannot create %s (injected)", dir);
            free(dir);
            free(marker);
            return -1;
        }
        r = mkdir(dir, 0755);
        if (r == 0 || errno == EEXIST) {
            bool fresh = r == 0;
            if (fresh)
                chmod(dir, 0755);
            if (!fresh && access(marker, F_OK) != 0 && dir_has_entries(dir)) {
                free(dir);
                free(marker);
                continue;
            }
            if (mkdir(marker, 0755) == 0) {
                free(dir);
                free(marker);
                *out = id;
                return 0;
            }
            if (errno != EEXIST) {
                err_sys(e, errno, "Failed to create %s", marker);
                free(dir);
                free(marker);
                return -1;
            }
        } else {
            err_sys(e, errno, "cannot create %s", dir);
            free(dir);
            free(marker);
            return -1;
        }
        free(dir);
        free(marker);
    }
    return err_set(e, "no free sandbox id under %s", cfg->basedir);
}

static void batch_maybe_free(struct sbx_batch *b)
{
    if (!b->free_requested || b->handles > 0)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].root);
        free(b->v[i].error);
    }
    free(b->v);
    free(b);
}

static void batch_settled(struct sbx_batch *b)
{
    b->cb(b, b->data);
}

/* One sandbox has reached DONE or FAILED. */
static void sbx_settle(struct sbx *s)
{
    struct sbx_batch *b = s->batch;
    if (--b->pending == 0)
        batch_settled(b);
}

/*
 * A create of the batch failed or was interrupted: every sandbox of the
 * batch is rolled back, those still being set up and those already made.
 */
static void batch_fail(struct sbx_batch *b)
{
    if (b->failing)
        return;
    b->failing = true;
    for (size_t i = 0; i < b->n; i++) {
        struct sbx *s = &b->v[i];
        if (s->state == SBX_SETUP && s->run) {
            actrun_cancel(s->run);
        } else if (s->state == SBX_DONE && s->created) {
            s->rolling_back = true;
            s->undo = b->ctx->cfg->setup.n;
            s->state = SBX_UNMARK;
            b->pending++;
            sbx_next(s);
        }
    }
}

static void sbx_fail(struct sbx *s, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    if (!s->error && s->rolling_back && s->err.msg[0])
        s->error = xasprintf("sandbox %u: %s; rollback failed, left as incomplete: %s", s->id,
                             s->err.msg, msg);
    else if (!s->error)
        s->error = xasprintf("sandbox %u: %s", s->id, msg);
    free(msg);
    s->state = SBX_FAILED;
    sbx_settle(s);
}

static void on_actrun(struct actrun *r, int status, const struct err *e, void *data)
{
    struct sbx *s = data;
    struct sbx_batch *b = s->batch;
    s->run = NULL;
    if (s->state == SBX_SETUP) {
        if (status == 0) {
            char *mark = xasprintf("%s/.bob/completed", s->root);
            int r2, errnum;
            fault_step("create.mark");
            r2 = mkdir(mark, 0755);
            errnum = errno;
            free(mark);
            actrun_free(r);
            if (r2 != 0 && errnum != EEXIST) {
                err_sys(&s->err, errnum, "cannot create %s/.bob/completed", s->root);
                s->undo = b->ctx->cfg->setup.n;
                s->rolling_back = true;
                s->state = SBX_KILL;
                sbx_next(s);
                return;
            }
            s->created = true;
            if (b->cancelled || b->failing) {
                /* Another sandbox failed meanwhile: this one goes too. */
                s->undo = b->ctx->cfg->setup.n;
                s->rolling_back = true;
                s->state = SBX_UNMARK;
                sbx_next(s);
                return;
            }
            s->state = SBX_DONE;
            sbx_settle(s);
            return;
        }
        /* Setup failed or was interrupted: roll this sandbox back too. */
        if (!(b->failing && status == -ECANCELED))
            memcpy(&s->err, e, sizeof(s->err));
        s->undo = actrun_undo_count(r);
        actrun_free(r);
        s->rolling_back = true;
        s->state = SBX_KILL;
        batch_fail(b);
        sbx_next(s);
        return;
    }
    if (s->state == SBX_UNHOOK) {
        /* As bob: a failed hook undo is reported, and the destroy goes on. */
        if (status < 0)
            log_warn("sandbox %u: post-build: %s", s->id, e->msg);
        actrun_free(r);
        s->state = SBX_REVERSE;
        sbx_next(s);
        return;
    }
    if (status < 0) {
        sbx_fail(s, "%s", e->msg);
        actrun_free(r);
        return;
    }
    actrun_free(r);
    s->state = SBX_SWEEP;
    sbx_next(s);
}

/* The sweep has ended: nothing is mounted below the root any more, or it failed. */
static void sandbox_on_swept(struct unmount *u, int status, const struct err *e, void *data)
{
    struct sbx *s = data;
    s->sweep = NULL;
    unmount_free(u);
    if (status < 0) {
        sbx_fail(s, "%s", e->msg);
        return;
    }
    s->state = SBX_REMOVE;
    sbx_next(s);
}

static void start_actions(struct sbx *s, const struct action_list *list, size_t count, bool reverse)
{
    struct actrun_opts o = {
        .loop = s->batch->ctx->loop,
        .list = list,
        .ctx = s->batch->ctx->ctx,
        .root = s->root,
        .cover = sandbox_cover,
        .env = &s->batch->ctx->env,
        .reverse = reverse,
        .count = count,
        .cb = on_actrun,
        .data = s,
    };
    s->run = actrun_start(&o);
}

/* The kill rounds are over. */
static void on_killed(struct killer *k, int status, const struct err *e, void *data)
{
    struct sbx *s = data;
    s->killer = NULL;
    if (status < 0) {
        sbx_fail(s, "%s", e->msg);
        killer_free(k);
        return;
    }
    killer_free(k);
    s->state = s->batch->undo_hooks ? SBX_UNHOOK : SBX_REVERSE;
    sbx_next(s);
}

/* Thread pool: removes what is left, .bob last, then the directory itself. */
static void remove_work(uv_work_t *w)
{
    struct sbx *s = w->data;
    s->work_status = plat_remove_sandbox(s->root, ".bob", NULL, &s->err);
}

static void remove_after(uv_work_t *w, int status)
{
    struct sbx *s = w->data;
    s->batch->handles--;
    if (s->work_status < 0) {
        sbx_fail(s, "%s", s->err.msg);
        return;
    }
    s->state = SBX_DONE;
    if (s->rolling_back) {
        /* A rollback that worked still leaves the create failed. */
        if (s->err.msg[0])
            s->error = xasprintf("sandbox %u: %s", s->id, s->err.msg);
        else if (s->batch->cancelled)
            s->error = xasprintf("sandbox %u: interrupted", s->id);
        else if (s->created)
            s->error = NULL; /* rolled back because another one failed */
    }
    sbx_settle(s);
}

/*
 * Kills what the sandbox's host commands left running (its cgroup, see
 * actions.c): the kernel knows them exactly, whichever bob started them.
 */
static void sandbox_kill_host_cgroup(struct sbx *s)
{
    char key[CGROUP_SANDBOX_KEY_LEN];
    struct err e;
    cgroup_sandbox_key(s->root, key);
    if (cgroup_sandbox_kill(key, 1000, &e) < 0)
        log_warn("sandbox %u: %s", s->id, e.msg);
}

/* Runs the next step of the teardown state machine. */
static void sbx_next(struct sbx *s)
{
    struct sbx_batch *b = s->batch;
    struct err e;
    char *mark;
    int rc;
    switch (s->state) {
    case SBX_UNMARK:
        fault_step("destroy.unmark");
        mark = xasprintf("%s/.bob/completed", s->root);
        if (rmdir(mark) != 0 && errno != ENOENT) {
            if (plat_remove(s->root, "/.bob/completed", NULL, &e) < 0) {
                free(mark);
                sbx_fail(s, "%s", e.msg);
                return;
            }
        }
        free(mark);
        s->state = SBX_KILL;
        /* fall through */
    case SBX_KILL:
        fault_step("destroy.kill");
        sandbox_kill_host_cgroup(s);
        s->killer = killer_start(b->ctx->loop, s->root, NULL, 0, on_killed, s);
        return;
    case SBX_UNHOOK:
        start_actions(s, &b->ctx->cfg->hooks, b->ctx->cfg->hooks.n, true);
        return;
    case SBX_REVERSE:
        start_actions(s, &b->ctx->cfg->setup, s->undo, true);
        return;
    case SBX_SWEEP:
        fault_step("destroy.sweep");
        /* Whatever is still mounted below the root (state, not config). */
        s->sweep = unmount_start(b->ctx->loop, s->root, "/", sandbox_on_swept, s, &e);
        if (!s->sweep)
            sbx_fail(s, "%s", e.msg);
        return;
    case SBX_REMOVE:
        fault_step("destroy.remove");
        s->work.data = s;
        rc = uv_queue_work(b->ctx->loop, &s->work, remove_work, remove_after);
        if (rc < 0) {
            sbx_fail(s, "cannot remove %s: %s", s->root, uv_strerror(rc));
            return;
        }
        b->handles++;
        return;
    case SBX_SETUP:
    case SBX_DONE:
    case SBX_FAILED:
        return;
    }
}

static struct sbx_batch *batch_new(struct sbx_ctx *ctx, size_t n, sbx_batch_cb cb, void *data)
{
    struct sbx_batch *b = xcalloc(1, sizeof(*b));
    b->ctx = ctx;
    b->v = xcalloc(n ? n : 1, sizeof(*b->v));
    b->n = n;
    b->pending = n;
    b->cb = cb;
    b->data = data;
    for (size_t i = 0; i < n; i++)
        b->v[i].batch = b;
    return b;
}

struct sbx_batch *sandbox_create(struct sbx_ctx *ctx, size_t n, sbx_batch_cb cb, void *data)
{
    struct sbx_batch *b = batch_new(ctx, n, cb, data);
    size_t claimed = 0;
    struct err e;
    b->creating = true;
    /* Mounts below basedir must not propagate to the host's peers. */
    if (mkdir_p(ctx->cfg->basedir, &e) < 0 || plat_isolate_basedir(ctx->cfg->basedir, &e) < 0)
        n = 0;
    for (; claimed < n; claimed++) {
        struct sbx *s = &b->v[claimed];
        fault_step("create.claim");
        if (claim_id(ctx->cfg, &s->id, &e) < 0)
            break;
        s->root = sandbox_path(ctx->cfg, s->id);
        s->state = SBX_SETUP;
    }
    if (n == 0 && b->n > 0) {
        b->failing = true;
        b->v[0].state = SBX_FAILED;
        b->v[0].error = xstrdup(e.msg);
        for (size_t i = 1; i < b->n; i++)
            b->v[i].state = SBX_FAILED;
        b->pending = 0;
        batch_settled(b);
        return b;
    }
    if (claimed < n) {
        /* Could not claim them all: undo the claims made (no action ran yet). */
        b->failing = true;
        for (size_t i = claimed; i < n; i++) {
            b->v[i].state = SBX_FAILED;
            b->v[i].error = i == claimed ? xstrdup(e.msg) : NULL;
            b->pending--;
        }
        b->n = n;
        for (size_t i = 0; i < claimed; i++) {
            struct sbx *s = &b->v[i];
            s->rolling_back = true;
            s->undo = 0;
            s->state = SBX_KILL;
        }
        if (claimed == 0) {
            batch_settled(b);
            return b;
        }
        for (size_t i = 0; i < claimed; i++)
            sbx_next(&b->v[i]);
        return b;
    }
    for (size_t i = 0; i < n; i++)
        start_actions(&b->v[i], &ctx->cfg->setup, ctx->cfg->setup.n, false);
    if (n == 0)
        batch_settled(b);
    return b;
}

struct sbx_batch *sandbox_destroy(struct sbx_ctx *ctx, const unsigned *ids, size_t n,
                                  bool undo_hooks, sbx_batch_cb cb, void *data)
{
    struct sbx_batch *b = batch_new(ctx, n, cb, data);
    b->undo_hooks = undo_hooks;
    if (n == 0) {
        batch_settled(b);
        return b;
    }
    for (size_t i = 0; i < n; i++) {
        struct sbx *s = &b->v[i];
        s->id = ids[i];
        s->root = sandbox_path(ctx->cfg, ids[i]);
        s->undo = ctx->cfg->setup.n;
        s->state = SBX_UNMARK;
    }
    for (size_t i = 0; i < n; i++)
        sbx_next(&b->v[i]);
    return b;
}

void sandbox_batch_cancel(struct sbx_batch *b)
{
    if (!b->creating || b->cancelled)
        return;
    b->cancelled = true;
    if (b->pending > 0)
        batch_fail(b);
}

int sandbox_batch_status(const struct sbx_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].state != SBX_DONE || b->v[i].error)
            return -1;
    return b->cancelled || (b->creating && b->failing) ? -1 : 0;
}

bool sandbox_batch_cancelled(const struct sbx_batch *b)
{
    return b->cancelled;
}

size_t sandbox_batch_size(const struct sbx_batch *b)
{
    return b->n;
}

unsigned sandbox_batch_id(const struct sbx_batch *b, size_t i)
{
    return b->v[i].id;
}

const char *sandbox_batch_error(const struct sbx_batch *b, size_t i)
{
    return b->v[i].error;
}

void sandbox_batch_describe(const struct sbx_batch *b, char *out, size_t n)
{
    static const char *names[] = {
        "setting up",      "unmarking",  "killing processes", "undoing hooks",
        "undoing actions", "unmounting", "removing files",    "done",
        "failed"};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < b->n && len + 1 < n; i++) {
        const struct sbx *s = &b->v[i];
        if (s->state == SBX_DONE || s->state == SBX_FAILED)
            continue;
        len += (size_t)snprintf(out + len, n - len, "%ssandbox %u: %s", len ? ", " : "", s->id,
                                names[s->state]);
    }
}

void sandbox_batch_free(struct sbx_batch *b)
{
    if (!b)
        return;
    b->free_requested = true;
    batch_maybe_free(b);
}
