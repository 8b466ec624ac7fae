/* Sandbox lifecycle: claim, create, roll back, destroy, discover. */
#include "sandbox/sandbox.h"
#include "sandbox/kit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/actions.h"
#include "actions/unmount.h"
#include "loop/defer.h"
#include "platform/cgroup.h"
#include "platform/platform.h"
#include "sandbox/exec.h"
#include "sandbox/killer.h"
#include "sandbox/owner.h"
#include "util/fault.h"
#include "util/ref.h"

/*
 * The states of one sandbox. A create runs SETUP, MARK and rests in READY;
 * a destroy (and the rollback of a create) runs UNMARK to REMOVE and ends
 * in GONE; FAILED is where a teardown that could not finish stops.
 */
enum sbx_state {
    SBX_SETUP,   /* running the setup actions */
    SBX_MARK,    /* making .bob/completed */
    SBX_READY,   /* created: the goal of a create */
    SBX_UNMARK,  /* removing .bob/completed */
    SBX_KILL,    /* killing the processes inside */
    SBX_UNHOOK,  /* undoing the hooks a killed job left applied (destroy command) */
    SBX_UNMOUNT, /* unmounting the mounts no setup action made (inside a copy, say) */
    SBX_REVERSE, /* undoing the setup actions */
    SBX_SWEEP,   /* unmounting whatever is still mounted below the root */
    SBX_REMOVE,  /* removing the files left on the sandbox's own mount */
    SBX_GONE,    /* removed: the goal of a destroy, the end of a rollback */
    SBX_FAILED,  /* a teardown stopped with an error */
};

/* What happened to one sandbox: what its callbacks and steps report. */
enum sbx_event {
    SBX_EV_DONE,     /* the state's work succeeded, or there was none */
    SBX_EV_FAILED,   /* it failed; s->last (or s->cause) says why */
    SBX_EV_ROLLBACK, /* the create batch gave up: a sandbox failed, or a cancel */
};

/*
 * What a batch is after. A create that fails or is cancelled rolls every
 * sandbox back; this replaces the flags creating, failing and cancelled.
 */
enum sbx_goal {
    SBX_GOAL_CREATE,      /* every sandbox READY */
    SBX_GOAL_ROLLBACK,    /* a create failed: every sandbox GONE, the create failed */
    SBX_GOAL_INTERRUPTED, /* a create was cancelled: the same, "interrupted" */
    SBX_GOAL_DESTROY,     /* every sandbox GONE */
};

struct sbx {
    struct sbx_batch *batch;
    unsigned id;
    char *root;
    enum sbx_state state;
    size_t undo; /* how many setup actions to undo */
    struct actrun *run;
    struct killer *killer;
    uv_work_t work;
    int work_status;
    struct err cause;      /* why a create is rolled back (its first error) */
    struct err last;       /* the error of the step that failed */
    char *error;           /* "sandbox N: ...", set when it failed */
    struct unmount *sweep; /* SBX_UNMOUNT, SBX_SWEEP: the unmount running */
    bool under_held;       /* SBX_REMOVE: this bob holds the directory beneath a root tmpfs */
    struct strv foreign;   /* SBX_UNMOUNT: the mounts no setup action made (guest paths) */
    size_t iforeign;       /* the next of them to unmount */
};

struct sbx_batch {
    struct ref ref; /* util/ref.h: the owner, and every pending callback */
    struct sbx_ctx *ctx;
    enum sbx_goal goal;
    bool undo_hooks; /* destroy: undo the hooks first (post-build of a killed job) */
    bool reported;   /* the callback is queued or ran */
    struct sbx *v;
    size_t n;
    sbx_batch_cb cb;
    void *data;
    /* destroy: the mounts below basedir, shared by the sandboxes that look in the same
     * turn of the loop (sandbox_find_foreign) */
    struct plat_mount_entry *mounts;
    size_t nmounts;
    bool mounts_read;
    uint64_t mounts_at; /* uv_now when read */
};

static void sandbox_event(struct sbx *s, enum sbx_event ev);
static void sandbox_unmount_next(struct sbx *s);

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
    for (size_t i = 0; i < ctx->nheld; i++) {
        close(ctx->held[i].fd); /* the lock goes with the descriptor */
        if (ctx->held[i].under >= 0)
            close(ctx->held[i].under);
    }
    free(ctx->held);
    ctx->held = NULL;
    ctx->nheld = 0;
    sandbox_kit_free(ctx);
    strv_free(&ctx->env);
    free(ctx->prefix);
    free(ctx->pkg_dbdir);
    free(ctx->pkg_refcount_dbdir);
}

int sandbox_cmd_cgroup(const char *root, struct cgroup_job **job, struct launch_cgroup *lc)
{
    char key[CGROUP_SANDBOX_KEY_LEN];
    struct err e;
    *job = NULL;
    *lc = (struct launch_cgroup){.dir_fd = -1};
    cgroup_sandbox_key(root, key);
    if (cgroup_sandbox_cmd(key, job, &e) < 0) {
        log_debug("%s", e.msg);
        return -ENOTSUP;
    }
    cgroup_job_launch(*job, &lc->dir_fd, &lc->procs_fds, &lc->n_procs);
    return 0;
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
        if (!mapped && *v)
            env_setkv(&ctx->env, n, v); /* a cachevar the tree defines, under its own name */
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

int sandbox_discover(const struct config *cfg, unsigned **ids, size_t *n, struct err *e)
{
    return owner_discover(cfg->basedir, ids, n, e);
}

void sandbox_prune_unmarked(const struct config *cfg)
{
    owner_prune(cfg->basedir, true);
}

bool sandbox_is_complete(const struct config *cfg, unsigned id)
{
    struct stat st;
    int rfd, bfd;
    bool ok = false;
    if (owner_open_root(cfg->basedir, id, &rfd) < 0)
        return false;
    bfd = owner_open_marker(rfd);
    if (bfd >= 0) {
        ok = fstatat(bfd, "completed", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        close(bfd);
    }
    close(rfd);
    return ok;
}

/* What ctx holds of sandbox id, or NULL. */
static struct sbx_held *sandbox_held(const struct sbx_ctx *ctx, unsigned id)
{
    for (size_t i = 0; i < ctx->nheld; i++)
        if (ctx->held[i].id == id)
            return &ctx->held[i];
    return NULL;
}

/* The locked descriptor of sandbox id when ctx holds it, else -1. */
static int sandbox_held_fd(const struct sbx_ctx *ctx, unsigned id)
{
    const struct sbx_held *h = sandbox_held(ctx, id);
    return h ? h->fd : -1;
}

static void sandbox_hold_id(struct sbx_ctx *ctx, unsigned id, int fd)
{
    ctx->held = xrealloc(ctx->held, (ctx->nheld + 1) * sizeof(*ctx->held));
    ctx->held[ctx->nheld].id = id;
    ctx->held[ctx->nheld].fd = fd;
    ctx->held[ctx->nheld].under = -1;
    ctx->nheld++;
}

int sandbox_lock(struct sbx_ctx *ctx, unsigned id, struct err *e)
{
    struct owner_holder h;
    int fd, r;
    if (sandbox_held_fd(ctx, id) >= 0)
        return 0;
    r = owner_open_root(ctx->cfg->basedir, id, &fd);
    if (r == -ENOENT)
        return err_sys(e, ENOENT, "sandbox %u does not exist", id);
    if (r == -ENOTDIR || r == -EXDEV)
        return err_sys(e, -r, "sandbox %u: %s/%u is %s, not a sandbox", id, ctx->cfg->basedir, id,
                       r == -EXDEV ? "a mount point" : "not a directory");
    if (r < 0)
        return err_sys(e, -r, "cannot open sandbox %u", id);
    r = owner_lock(fd, ctx->command, &h);
    if (r == -EWOULDBLOCK) {
        close(fd);
        return owner_refuse(id, &h, e);
    }
    if (r < 0) {
        close(fd);
        return err_sys(e, -r, "cannot lock sandbox %u", id);
    }
    sandbox_hold_id(ctx, id, fd);
    return 0;
}

void sandbox_unlock(struct sbx_ctx *ctx, unsigned id)
{
    for (size_t i = 0; i < ctx->nheld; i++)
        if (ctx->held[i].id == id) {
            close(ctx->held[i].fd);
            if (ctx->held[i].under >= 0)
                close(ctx->held[i].under);
            ctx->held[i] = ctx->held[--ctx->nheld];
            return;
        }
}

pid_t sandbox_holder(const struct config *cfg, unsigned id)
{
    struct owner_holder h;
    int fd;
    bool held;
    if (owner_open_root(cfg->basedir, id, &fd) < 0)
        return 0;
    held = owner_holder(fd, &h);
    close(fd);
    return held ? h.pid : 0;
}

/* mkdir -p with mode 0755 whatever the umask. */
static int sandbox_mkdir_p(const char *path, struct err *e)
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

/*
 * The lifecycle of one sandbox, as s6-supervise's actions[state][event]:
 *
 *   state   | DONE     | FAILED            | ROLLBACK
 *   --------+----------+-------------------+-------------------------------
 *   SETUP   | MARK     | KILL (roll back)  | SETUP (actions cancelled: their
 *           |          |                   |   DONE or FAILED follows)
 *   MARK    | READY    | KILL (roll back)  | UNMARK (made, but the batch
 *           |          |                   |   gave up meanwhile)
 *   READY   | READY    | READY             | UNMARK
 *   UNMARK  | KILL     | FAILED            | UNMARK
 *   KILL    | UNHOOK   | FAILED            | KILL
 *   UNHOOK  | UNMOUNT  | UNMOUNT (warned)  | UNHOOK
 *   UNMOUNT | REVERSE  | FAILED            | UNMOUNT
 *   REVERSE | SWEEP    | FAILED            | REVERSE
 *   SWEEP   | REMOVE   | FAILED            | SWEEP
 *   REMOVE  | GONE     | FAILED            | REMOVE
 *   GONE    | GONE     | GONE              | GONE
 *   FAILED  | FAILED   | FAILED            | FAILED
 *
 * A teardown goes on whatever the batch decides (ROLLBACK keeps its state).
 * Entering a state starts its work (sandbox_enter); the work's end is an event.
 */
static enum sbx_state sandbox_transition(enum sbx_state st, enum sbx_event ev)
{
    static const enum sbx_state next[][3] = {
        [SBX_SETUP] = {SBX_MARK, SBX_KILL, SBX_SETUP},
        [SBX_MARK] = {SBX_READY, SBX_KILL, SBX_UNMARK},
        [SBX_READY] = {SBX_READY, SBX_READY, SBX_UNMARK},
        [SBX_UNMARK] = {SBX_KILL, SBX_FAILED, SBX_UNMARK},
        [SBX_KILL] = {SBX_UNHOOK, SBX_FAILED, SBX_KILL},
        [SBX_UNHOOK] = {SBX_UNMOUNT, SBX_UNMOUNT, SBX_UNHOOK},
        [SBX_UNMOUNT] = {SBX_REVERSE, SBX_FAILED, SBX_UNMOUNT},
        [SBX_REVERSE] = {SBX_SWEEP, SBX_FAILED, SBX_REVERSE},
        [SBX_SWEEP] = {SBX_REMOVE, SBX_FAILED, SBX_SWEEP},
        [SBX_REMOVE] = {SBX_GONE, SBX_FAILED, SBX_REMOVE},
        [SBX_GONE] = {SBX_GONE, SBX_GONE, SBX_GONE},
        [SBX_FAILED] = {SBX_FAILED, SBX_FAILED, SBX_FAILED},
    };
    return next[st][ev];
}

/* Batch events: a sandbox's create failed, or the caller cancelled. */
enum sbx_batch_event {
    SBX_BEV_FAILED,
    SBX_BEV_CANCEL,
};

/*
 * The batch's goal:
 *
 *   goal        | FAILED      | CANCEL
 *   ------------+-------------+-------------
 *   CREATE      | ROLLBACK    | INTERRUPTED
 *   ROLLBACK    | ROLLBACK    | INTERRUPTED
 *   INTERRUPTED | INTERRUPTED | INTERRUPTED
 *   DESTROY     | DESTROY     | DESTROY (a destroy always finishes)
 */
static enum sbx_goal sandbox_goal_transition(enum sbx_goal g, enum sbx_batch_event ev)
{
    if (g == SBX_GOAL_DESTROY || g == SBX_GOAL_INTERRUPTED)
        return g;
    return ev == SBX_BEV_CANCEL ? SBX_GOAL_INTERRUPTED : SBX_GOAL_ROLLBACK;
}

static bool sandbox_settled(const struct sbx *s)
{
    return s->state == SBX_READY || s->state == SBX_GONE || s->state == SBX_FAILED;
}

static void sandbox_batch_release(struct ref *r)
{
    struct sbx_batch *b = REF_CONTAINER(r, struct sbx_batch, ref);
    for (size_t i = 0; i < b->n; i++) {
        struct sbx *s = &b->v[i];
        strv_free(&s->foreign);
        free(s->root);
        free(s->error);
    }
    plat_mounts_free(b->mounts, b->nmounts);
    free(b->v);
    free(b);
}

/* Deferred: the batch is settled; tell the owner unless it let go. */
static void sandbox_batch_report(void *data)
{
    struct sbx_batch *b = data;
    if (!b->ref.free_requested)
        b->cb(b, b->data);
    ref_drop(&b->ref);
}

/* Queues the callback once every sandbox is settled (never from inside _start). */
static void sandbox_batch_check(struct sbx_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (!sandbox_settled(&b->v[i]))
            return;
    if (b->reported)
        return;
    b->reported = true;
    ref_hold(&b->ref);
    if (loop_defer(b->ctx->loop, sandbox_batch_report, b) < 0)
        sandbox_batch_report(b);
}

/* Feeds an event to the batch's goal; a create that gives up rolls every sandbox back. */
static void sandbox_batch_event(struct sbx_batch *b, enum sbx_batch_event ev)
{
    enum sbx_goal was = b->goal;
    b->goal = sandbox_goal_transition(was, ev);
    if (was != SBX_GOAL_CREATE || b->goal == SBX_GOAL_CREATE)
        return;
    for (size_t i = 0; i < b->n; i++)
        sandbox_event(&b->v[i], SBX_EV_ROLLBACK);
}

/* Whether this sandbox's teardown is the rollback of a create. */
static bool sandbox_rolling_back(const struct sbx *s)
{
    return s->batch->goal != SBX_GOAL_DESTROY;
}

/* The final message of a sandbox that reached GONE or FAILED. */
static void sandbox_conclude(struct sbx *s)
{
    struct sbx_batch *b = s->batch;
    if (s->error || s->state == SBX_READY)
        return;
    if (s->state == SBX_FAILED) {
        const char *why = s->last.msg[0] ? s->last.msg : s->cause.msg;
        if (sandbox_rolling_back(s) && s->cause.msg[0] && s->last.msg[0])
            s->error = xasprintf("sandbox %u: %s; rollback failed, left as incomplete: %s", s->id,
                                 s->cause.msg, s->last.msg);
        else
            s->error = xasprintf("sandbox %u: %s", s->id, why);
        return;
    }
    /* GONE: the lock goes with the sandbox. */
    sandbox_unlock(b->ctx, s->id);
    if (!sandbox_rolling_back(s))
        return;
    /* A rollback that worked still leaves the create failed. */
    if (s->cause.msg[0])
        s->error = xasprintf("sandbox %u: %s", s->id, s->cause.msg);
    else if (b->goal == SBX_GOAL_INTERRUPTED)
        s->error = xasprintf("sandbox %u: interrupted", s->id);
    /* else: rolled back because another one failed */
}

static void sandbox_on_actrun(struct actrun *r, int status, const struct err *e, void *data)
{
    struct sbx *s = data;
    struct sbx_batch *b = s->batch;
    enum sbx_event ev = status < 0 ? SBX_EV_FAILED : SBX_EV_DONE;
    s->run = NULL;
    if (s->state == SBX_SETUP && status < 0) {
        /* A cancel caused by another sandbox's failure is not this one's error. */
        if (!(b->goal != SBX_GOAL_CREATE && status == -ECANCELED))
            memcpy(&s->cause, e, sizeof(s->cause));
        s->undo = actrun_undo_count(r);
    } else if (s->state == SBX_UNHOOK && status < 0) {
        /* As bob: a failed hook undo is reported, and the destroy goes on. */
        log_warn("sandbox %u: post-build: %s", s->id, e->msg);
    } else if (status < 0) {
        memcpy(&s->last, e, sizeof(s->last));
    }
    actrun_free(r);
    sandbox_event(s, ev);
    ref_drop(&b->ref);
}

static void sandbox_start_actions(struct sbx *s, const struct action_list *list, size_t count,
                                  bool reverse)
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
        .cb = sandbox_on_actrun,
        .data = s,
    };
    ref_hold(&s->batch->ref);
    s->run = actrun_start(&o);
}

/* The kill rounds are over. */
static void sandbox_on_killed(struct killer *k, int status, const struct err *e, void *data)
{
    struct sbx *s = data;
    struct sbx_batch *b = s->batch;
    s->killer = NULL;
    if (status < 0)
        memcpy(&s->last, e, sizeof(s->last));
    killer_free(k);
    sandbox_event(s, status < 0 ? SBX_EV_FAILED : SBX_EV_DONE);
    ref_drop(&b->ref);
}

/*
 * Thread pool: detaches the sandbox's own root tmpfs, if it has one (the
 * directory beneath it is then taken under the lock, unless this bob
 * holds it already since its claim, or left to another bob that took it
 * meanwhile); then removes what is left, .bob last, and the directory.
 */
static void sandbox_remove_work(uv_work_t *w)
{
    struct sbx *s = w->data;
    int r = plat_root_tmpfs_detach(s->root, &s->last), fd = -1;
    if (r < 0) {
        s->work_status = r;
        return;
    }
    if (r == 1 && !s->under_held) {
        fd = open(s->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            s->work_status = 0;
            return;
        }
    }
    s->work_status = plat_remove_sandbox(s->root, OWNER_MARKER, NULL, &s->last);
    if (fd >= 0)
        close(fd);
}

static void sandbox_remove_after(uv_work_t *w, int status)
{
    struct sbx *s = w->data;
    struct sbx_batch *b = s->batch;
    if (status < 0 && s->work_status == 0)
        s->work_status = err_sys(&s->last, -status, "cannot remove %s", s->root);
    sandbox_event(s, s->work_status < 0 ? SBX_EV_FAILED : SBX_EV_DONE);
    ref_drop(&b->ref);
}

/* Makes .bob/completed, beneath the sandbox: DONE, or FAILED with s->cause. */
static enum sbx_event sandbox_mark(struct sbx *s)
{
    int fd = sandbox_held_fd(s->batch->ctx, s->id), bfd, r = 0;
    fault_step("create.mark");
    s->undo = s->batch->ctx->cfg->setup.n; /* every action ran */
    bfd = fd >= 0 ? owner_open_marker(fd) : -EBADF;
    if (bfd < 0)
        r = -bfd;
    else if (mkdirat(bfd, "completed", 0755) != 0 && errno != EEXIST)
        r = errno;
    if (bfd >= 0)
        close(bfd);
    if (r) {
        err_sys(&s->cause, r, "cannot create %s/.bob/completed", s->root);
        return SBX_EV_FAILED;
    }
    return s->batch->goal == SBX_GOAL_CREATE ? SBX_EV_DONE : SBX_EV_ROLLBACK;
}

/*
 * Removes .bob/completed without following a symlink: a .bob that a job
 * replaced by a file or a link has no marker to remove (the link itself
 * goes last, in REMOVE).
 */
static enum sbx_event sandbox_unmark(struct sbx *s)
{
    int fd = sandbox_held_fd(s->batch->ctx, s->id), bfd, r = 0;
    fault_step("destroy.unmark");
    bfd = fd >= 0 ? owner_open_marker(fd) : -EBADF;
    if (bfd < 0)
        return SBX_EV_DONE;
    if (unlinkat(bfd, "completed", AT_REMOVEDIR) != 0 && errno != ENOENT) {
        r = errno;
        if (r == ENOTDIR && unlinkat(bfd, "completed", 0) == 0)
            r = 0;
    }
    close(bfd);
    if (r && plat_remove(s->root, "/" OWNER_MARKER "/completed", NULL, &s->last) < 0)
        return SBX_EV_FAILED;
    return SBX_EV_DONE;
}

/*
 * The mounts below the root that no setup action made (a tmpfs mounted
 * inside a copied /etc): unmounted before the actions are undone, so that
 * such a mount never blocks the removal of a copy.
 */
static void sandbox_find_foreign(struct sbx *s)
{
    const struct action_list *setup = &s->batch->ctx->cfg->setup;
    struct sbx_batch *b = s->batch;
    struct strv own = {0};
    size_t len;
    struct err e;
    char *canon = realpath(s->root, NULL), *base;
    if (!canon)
        return;
    /*
     * One read of the mount table for the sandboxes of the batch that come
     * here in the same turn of the loop, not one per sandbox (64 sandboxes
     * made 64 reads of a table of 600 lines). One that comes later reads it
     * again: a mount made meanwhile inside a copy's destination would make
     * the undoing of the copy refuse.
     */
    if (!b->mounts_read || b->mounts_at != uv_now(b->ctx->loop)) {
        plat_mounts_free(b->mounts, b->nmounts);
        b->mounts_read = true;
        b->mounts_at = uv_now(b->ctx->loop);
        base = realpath(b->ctx->cfg->basedir, NULL);
        if (!base || plat_mounts_under(base, &b->mounts, &b->nmounts, &e) < 0) {
            b->mounts = NULL;
            b->nmounts = 0;
        }
        free(base);
    }
    len = strlen(canon);
    for (size_t i = 0; i < setup->n; i++) {
        char *host;
        if (setup->v[i].kind == ACTION_MOUNT &&
            plat_resolve(canon, setup->v[i].dest, &host, &e) == 0) {
            strv_push(&own, host);
            free(host);
        }
    }
    for (size_t i = 0; i < b->nmounts; i++) {
        const char *p = b->mounts[i].path;
        bool mine = strcmp(p, canon) == 0; /* the root itself: the sweep's business */
        for (size_t j = 0; j < own.n && !mine; j++) {
            size_t ol = strlen(own.v[j]);
            mine = strncmp(p, own.v[j], ol) == 0 && (p[ol] == '\0' || p[ol] == '/');
        }
        if (mine || strncmp(p, canon, len) != 0 || p[len] != '/')
            continue;
        strv_push(&s->foreign, p + len);
    }
    strv_free(&own);
    free(canon);
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

/* An unmount of SBX_UNMOUNT or SBX_SWEEP has ended. */
static void sandbox_on_unmounted(struct unmount *u, int status, const struct err *e, void *data)
{
    struct sbx *s = data;
    struct sbx_batch *b = s->batch;
    s->sweep = NULL;
    unmount_free(u);
    if (status < 0) {
        memcpy(&s->last, e, sizeof(s->last));
        sandbox_event(s, SBX_EV_FAILED);
    } else if (s->state == SBX_UNMOUNT) {
        sandbox_unmount_next(s);
    } else {
        sandbox_event(s, SBX_EV_DONE);
    }
    ref_drop(&b->ref);
}

/* Unmounts everything at or below guest path dest, with retries (actions/unmount.h). */
static void sandbox_unmount_start(struct sbx *s, const char *dest)
{
    struct sbx_batch *b = s->batch;
    ref_hold(&b->ref);
    s->sweep = unmount_start(b->ctx->loop, s->root, dest, sandbox_on_unmounted, s, &s->last);
    if (!s->sweep) {
        ref_drop(&b->ref);
        sandbox_event(s, SBX_EV_FAILED);
    }
}

/* SBX_UNMOUNT: the next foreign mount, or DONE when none is left. */
static void sandbox_unmount_next(struct sbx *s)
{
    if (s->iforeign < s->foreign.n)
        sandbox_unmount_start(s, s->foreign.v[s->iforeign++]);
    else
        sandbox_event(s, SBX_EV_DONE);
}

/* Starts the work of the state s just entered; synchronous steps feed their event back. */
static void sandbox_enter(struct sbx *s)
{
    struct sbx_batch *b = s->batch;
    switch (s->state) {
    case SBX_SETUP:
        return; /* started by sandbox_create; a ROLLBACK cancels it (sandbox_event) */
    case SBX_MARK:
        sandbox_event(s, sandbox_mark(s));
        return;
    case SBX_UNMARK:
        sandbox_event(s, sandbox_unmark(s));
        return;
    case SBX_KILL:
        fault_step("destroy.kill");
        sandbox_kill_host_cgroup(s);
        ref_hold(&b->ref);
        s->killer = killer_start(b->ctx->loop, s->root, 0, sandbox_on_killed, s);
        if (!s->killer) {
            ref_drop(&b->ref);
            err_set(&s->last, "cannot start killing the processes in %s", s->root);
            sandbox_event(s, SBX_EV_FAILED);
        }
        return;
    case SBX_UNHOOK:
        if (!b->undo_hooks) {
            sandbox_event(s, SBX_EV_DONE);
            return;
        }
        sandbox_start_actions(s, &b->ctx->cfg->hooks, b->ctx->cfg->hooks.n, true);
        return;
    case SBX_UNMOUNT:
        strv_free(&s->foreign);
        s->iforeign = 0;
        sandbox_find_foreign(s);
        sandbox_unmount_next(s);
        return;
    case SBX_REVERSE:
        sandbox_start_actions(s, &b->ctx->cfg->setup, s->undo, true);
        return;
    case SBX_SWEEP:
        fault_step("destroy.sweep");
        /* Whatever is still mounted below the root (state, not config). */
        sandbox_unmount_start(s, "/");
        return;
    case SBX_REMOVE:
        fault_step("destroy.remove");
        s->work.data = s;
        {
            const struct sbx_held *h = sandbox_held(b->ctx, s->id);
            s->under_held = h && h->under >= 0;
        }
        ref_hold(&b->ref);
        if (uv_queue_work(b->ctx->loop, &s->work, sandbox_remove_work, sandbox_remove_after) < 0) {
            ref_drop(&b->ref);
            err_set(&s->last, "cannot queue the removal of %s", s->root);
            sandbox_event(s, SBX_EV_FAILED);
        }
        return;
    case SBX_READY:
    case SBX_GONE:
    case SBX_FAILED:
        sandbox_conclude(s);
        sandbox_batch_check(b);
        return;
    }
}

/* The one place a sandbox changes state. */
static void sandbox_event(struct sbx *s, enum sbx_event ev)
{
    enum sbx_state next = sandbox_transition(s->state, ev);
    bool create_failed = (s->state == SBX_SETUP || s->state == SBX_MARK) && next == SBX_KILL;
    if (s->state == SBX_SETUP && ev == SBX_EV_ROLLBACK) {
        if (s->run)
            actrun_cancel(s->run);
        return;
    }
    if (next == s->state)
        return;
    s->state = next;
    /* A sandbox that could not be made takes the whole create back. */
    if (create_failed)
        sandbox_batch_event(s->batch, SBX_BEV_FAILED);
    sandbox_enter(s);
}

static struct sbx_batch *sandbox_batch_new(struct sbx_ctx *ctx, size_t n, enum sbx_goal goal,
                                           sbx_batch_cb cb, void *data)
{
    struct sbx_batch *b = xcalloc(1, sizeof(*b));
    ref_init(&b->ref, sandbox_batch_release);
    b->ctx = ctx;
    b->goal = goal;
    b->v = xcalloc(n ? n : 1, sizeof(*b->v));
    b->n = n;
    b->cb = cb;
    b->data = data;
    for (size_t i = 0; i < n; i++)
        b->v[i].batch = b;
    return b;
}

struct root_fill {
    const char *cmd;
    int lockfd;
};

static int sandbox_root_fill(int rootfd, void *arg)
{
    struct root_fill *f = arg;
    return owner_adopt(rootfd, f->cmd, &f->lockfd);
}

/*
 * Mounts the sandbox's own tmpfs at its root (sandboxes.tmpfs_root), over
 * the claimed directory: from then on the sandbox is held by the lock on
 * the tmpfs's root, and the directory's lock is kept beneath it.
 */
static bool root_unsupported_said;

static int sandbox_mount_root(struct sbx *s, struct err *e)
{
    struct sbx_ctx *ctx = s->batch->ctx;
    struct sbx_held *h = sandbox_held(ctx, s->id); /* claimed just now: held */
    struct root_fill f = {ctx->command, -1};
    fault_step("create.root");
    if (plat_root_tmpfs(ctx->cfg->basedir, h->fd, ctx->cfg->tmpfs_root, sandbox_root_fill, &f, e) <
        0) {
        if (f.lockfd >= 0)
            close(f.lockfd); /* prepared, then not attached: it is gone */
        if (e->code != ENOTSUP)
            return -1;
        /* No attributes on tmpfs here: without its mark, no root of its own (said once). */
        if (!root_unsupported_said)
            log_warn("%s: sandboxes keep their roots on the disk", e->msg);
        root_unsupported_said = true;
        err_clear(e);
        return 0;
    }
    h->under = h->fd;
    h->fd = f.lockfd;
    log_debug("sandbox %u: a tmpfs of its own at %s (%s)", s->id, s->root,
              *ctx->cfg->tmpfs_root ? ctx->cfg->tmpfs_root : "default size");
    return 0;
}

struct sbx_batch *sandbox_create(struct sbx_ctx *ctx, size_t n, sbx_batch_cb cb, void *data)
{
    struct sbx_batch *b = sandbox_batch_new(ctx, n, SBX_GOAL_CREATE, cb, data);
    size_t claimed = 0;
    bool root_failed = false;
    struct err e;
    err_clear(&e);
    /* Mounts below basedir must not propagate to the host's peers. */
    if (n > 0 && (sandbox_mkdir_p(ctx->cfg->basedir, &e) < 0 ||
                  plat_isolate_basedir(ctx->cfg->basedir, &e) < 0))
        n = 0;
    for (; claimed < n; claimed++) {
        struct sbx *s = &b->v[claimed];
        int fd;
        fault_step("create.claim");
        if (owner_claim(ctx->cfg->basedir, ctx->command, &s->id, &fd, &e) < 0)
            break;
        sandbox_hold_id(ctx, s->id, fd);
        s->root = sandbox_path(ctx->cfg, s->id);
        s->state = SBX_SETUP;
    }
    /* Each root's own tmpfs, when configured: a failure takes the batch back as a claim's does. */
    for (size_t i = 0; claimed == b->n && ctx->cfg->tmpfs_root && i < n; i++)
        if (sandbox_mount_root(&b->v[i], &e) < 0) {
            memcpy(&b->v[i].cause, &e, sizeof(e));
            root_failed = true;
            break;
        }
    if (claimed < b->n || root_failed) {
        /* Could not claim them all: those claimed go back (no action ran yet). */
        for (size_t i = claimed; i < b->n; i++) {
            b->v[i].state = SBX_FAILED;
            b->v[i].error = i == claimed ? xstrdup(e.msg) : NULL;
        }
        sandbox_batch_event(b, SBX_BEV_FAILED);
        for (size_t i = 0; i < claimed; i++)
            sandbox_event(&b->v[i], SBX_EV_FAILED); /* undo = 0: nothing to reverse */
        sandbox_batch_check(b);
        return b;
    }
    for (size_t i = 0; i < n; i++)
        sandbox_start_actions(&b->v[i], &ctx->cfg->setup, ctx->cfg->setup.n, false);
    sandbox_batch_check(b);
    return b;
}

struct sbx_batch *sandbox_destroy(struct sbx_ctx *ctx, const unsigned *ids, size_t n,
                                  bool undo_hooks, sbx_batch_cb cb, void *data)
{
    struct sbx_batch *b = sandbox_batch_new(ctx, n, SBX_GOAL_DESTROY, cb, data);
    b->undo_hooks = undo_hooks;
    for (size_t i = 0; i < n; i++) {
        struct sbx *s = &b->v[i];
        struct err e;
        int r;
        s->id = ids[i];
        s->root = sandbox_path(ctx->cfg, ids[i]);
        s->undo = ctx->cfg->setup.n;
        /* Ours, or taken now: one another bob holds is left as it is. */
        r = sandbox_lock(ctx, s->id, &e);
        if (r == -ENOENT)
            s->state = SBX_GONE; /* destroyed meanwhile */
        else if (r < 0) {
            s->state = SBX_FAILED;
            s->error = xstrdup(e.msg);
        } else
            s->state = SBX_UNMARK;
    }
    for (size_t i = 0; i < n; i++) {
        struct sbx *s = &b->v[i];
        if (s->state == SBX_UNMARK)
            sandbox_enter(s);
    }
    sandbox_batch_check(b);
    return b;
}

void sandbox_batch_cancel(struct sbx_batch *b)
{
    if (b->reported)
        return;
    sandbox_batch_event(b, SBX_BEV_CANCEL);
}

int sandbox_batch_status(const struct sbx_batch *b)
{
    enum sbx_state goal = b->goal == SBX_GOAL_DESTROY ? SBX_GONE : SBX_READY;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].state != goal || b->v[i].error)
            return -1;
    return 0;
}

bool sandbox_batch_cancelled(const struct sbx_batch *b)
{
    return b->goal == SBX_GOAL_INTERRUPTED;
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
        [SBX_SETUP] = "setting up",
        [SBX_MARK] = "marking",
        [SBX_READY] = "ready",
        [SBX_UNMARK] = "unmarking",
        [SBX_KILL] = "killing processes",
        [SBX_UNHOOK] = "undoing hooks",
        [SBX_UNMOUNT] = "unmounting foreign mounts",
        [SBX_REVERSE] = "undoing actions",
        [SBX_SWEEP] = "unmounting",
        [SBX_REMOVE] = "removing files",
        [SBX_GONE] = "done",
        [SBX_FAILED] = "failed",
    };
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < b->n && len + 1 < n; i++) {
        const struct sbx *s = &b->v[i];
        if (sandbox_settled(s))
            continue;
        len += (size_t)snprintf(out + len, n - len, "%ssandbox %u: %s", len ? ", " : "", s->id,
                                names[s->state]);
    }
}

void sandbox_batch_free(struct sbx_batch *b)
{
    if (b)
        ref_request_free(&b->ref);
}
