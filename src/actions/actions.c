/* Runs sandbox actions forward (create) and backward (undo) on the loop. */
#include "actions/actions.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/unmount.h"
#include "loop/defer.h"
#include "loop/proc.h"
#include "platform/cgroup.h"
#include "platform/launch.h"
#include "platform/platform.h"
#include "util/fault.h"
#include "util/ref.h"

#define CMD_DRAIN_MS 2000
#define STDERR_KEEP 4096

/* The filesystem steps done in the thread pool (an unmount is a struct unmount). */
enum step_op {
    OP_MOUNT,
    OP_COPY,
    OP_UNCOPY,
    OP_SYMLINK,
    OP_UNSYMLINK,
};

struct actrun {
    struct actrun_opts o;
    size_t pos; /* forward: index of the current action; reverse: one past it */
    size_t undo_count;
    bool cancelled, finished;
    atomic_bool cancel_flag; /* read by thread-pool work */
    struct err err;

    /* the current step */
    const struct action *cur;
    uv_work_t work;
    enum step_op op;
    int work_status;
    struct err work_err;
    struct proc *proc;
    struct unmount *unmount;
    struct buf errout;
    struct ref ref; /* util/ref.h: the owner, queued work, a running command, the deferred start */
};

static void next_step(struct actrun *r);
static void step_done(struct actrun *r, int status);

bool action_matches(const struct action *a, enum env_ctx ctx)
{
    struct stat st;
    if (a->only_env != CTX_ANY && a->only_env != ctx)
        return false;
    if (a->only_exists && stat(a->only_exists, &st) != 0)
        return false;
    return true;
}

/* The last hold is gone. */
static void actions_release(struct ref *ref)
{
    struct actrun *r = REF_CONTAINER(ref, struct actrun, ref);
    buf_free(&r->errout);
    free(r);
}

static void finish(struct actrun *r, int status)
{
    if (r->finished)
        return;
    r->finished = true;
    if (!r->ref.free_requested) /* no callback after actrun_free */
        r->o.cb(r, status, status < 0 ? &r->err : NULL, r->o.data);
}

/* The platform's filesystem type of a config's. */
static enum plat_fs actions_plat_fs(enum fs_type t)
{
    switch (t) {
    case FS_BIND:
        return PLAT_FS_BIND;
    case FS_DEV:
        return PLAT_FS_DEV;
    case FS_FD:
        return PLAT_FS_FD;
    case FS_NFS:
        return PLAT_FS_NFS;
    case FS_PROC:
        return PLAT_FS_PROC;
    case FS_TMP:
        return PLAT_FS_TMP;
    case FS_NONE:
        break;
    }
    return PLAT_FS_NONE;
}

/*
 * The platform's mount spec of a mount action. A mount with only one of
 * src and dest ("dir") mounts that path onto itself.
 */
static struct plat_mount_spec actions_mount_spec(const struct action *a)
{
    struct plat_mount_spec spec = {
        .fs = actions_plat_fs(a->fs),
        .name = a->fs_name ? a->fs_name : fs_type_name(a->fs),
        .src = a->src ? a->src : a->dest,
        .dest = a->dest ? a->dest : a->src,
        .opts = a->opts,
    };
    return spec;
}

int actions_check(const struct action *a, struct err *e)
{
    struct plat_mount_spec spec;
    if (a->kind != ACTION_MOUNT || !a->opts)
        return 0;
    spec = actions_mount_spec(a);
    return plat_mount_check(&spec, e);
}

/* Thread pool: the filesystem work of one step. */
static void work_run(uv_work_t *w)
{
    struct actrun *r = w->data;
    const struct action *a = r->cur;
    const char *root = r->o.root;
    struct plat_mount_spec spec;
    int s = 0;

    err_clear(&r->work_err);
    switch (r->op) {
    case OP_MOUNT:
        spec = actions_mount_spec(a);
        s = plat_mount(root, &spec, &r->work_err);
        break;
    case OP_COPY:
        s = plat_copy(root, a->src, a->dest, &r->cancel_flag, &r->work_err);
        break;
    case OP_UNCOPY:
        /* A copy into another mount goes with that mount (a tmpfs) or
         * belongs to the host (a bind): either way it is not removed. */
        s = plat_on_root_mount(root, a->dest, &r->work_err);
        if (s <= 0)
            break;
        s = plat_remove(root, a->dest, &r->cancel_flag, &r->work_err);
        if (s == 0)
            plat_prune_empty(root, a->dest);
        break;
    case OP_SYMLINK:
        s = plat_symlink(root, a->src, a->dest, &r->work_err);
        break;
    case OP_UNSYMLINK:
        /* Only the link itself, and only if it still is one. */
        s = plat_remove_symlink(root, a->dest, &r->work_err);
        if (s == 0)
            plat_prune_empty(root, a->dest);
        break;
    }
    r->work_status = s;
}

static void work_after(uv_work_t *w, int status)
{
    struct actrun *r = w->data;
    if (status == UV_ECANCELED) {
        err_set(&r->err, "interrupted");
        step_done(r, -ECANCELED);
    } else {
        if (r->work_status < 0)
            memcpy(&r->err, &r->work_err, sizeof(r->err));
        step_done(r, r->work_status);
    }
    ref_drop(&r->ref); /* the queued work's hold, last: step_done may free the run */
}

static void start_work(struct actrun *r, enum step_op op)
{
    int rc;
    r->op = op;
    r->work.data = r;
    rc = uv_queue_work(r->o.loop, &r->work, work_run, work_after);
    if (rc < 0) {
        err_set(&r->err, "cannot queue the work: %s", uv_strerror(rc));
        step_done(r, rc);
        return;
    }
    ref_hold(&r->ref);
}

/* The undo of a mount action has ended. */
static void actions_on_unmounted(struct unmount *u, int status, const struct err *e, void *data)
{
    struct actrun *r = data;
    if (status < 0)
        memcpy(&r->err, e, sizeof(r->err));
    r->unmount = NULL;
    unmount_free(u);
    step_done(r, status);
}

/* Undoes a mount action: unmounts everything at or below its mount point, with retries. */
static void actions_start_unmount(struct actrun *r)
{
    struct err e;
    const char *dest = r->cur->dest ? r->cur->dest : r->cur->src;
    r->unmount = unmount_start(r->o.loop, r->o.root, dest, actions_on_unmounted, r, &e);
    if (!r->unmount) {
        memcpy(&r->err, &e, sizeof(e));
        step_done(r, -EIO);
    }
}

/* Keeps the tail of a command's stderr for the error message. */
static void on_cmd_data(struct proc *p, int stream, const char *buf, size_t n, void *data)
{
    struct actrun *r = data;
    if (stream != 2)
        return; /* stdout of actions is discarded, as bob does */
    if (n > STDERR_KEEP) {
        buf += n - STDERR_KEEP;
        n = STDERR_KEEP;
    }
    if (r->errout.len + n > STDERR_KEEP) {
        size_t drop = r->errout.len + n - STDERR_KEEP;
        memmove(r->errout.p, r->errout.p + drop, r->errout.len - drop);
        r->errout.len -= drop;
    }
    buf_add(&r->errout, buf, n);
}

/* Kills whatever in the sandbox still holds the command's pipes. */
static void kill_sandbox_procs(struct actrun *r)
{
    pid_t *pids = NULL;
    size_t n = 0;
    struct err e;
    if (plat_find_pids(r->o.root, &pids, &n, &e) == 0)
        plat_kill_pids(pids, n, SIGKILL);
    free(pids);
}

static void on_cmd_linger(struct proc *p, void *data)
{
    struct actrun *r = data;
    proc_kill(p, SIGKILL);
    if (r->cur->chroot)
        kill_sandbox_procs(r);
}

static void on_cmd_exit(struct proc *p, void *data)
{
    struct actrun *r = data;
    const struct script *sc = r->o.reverse ? &r->cur->destroy : &r->cur->create;
    char status[128];
    struct err enter;
    int s = 0;

    if (r->cancelled) {
        err_set(&r->err, "interrupted");
        s = -ECANCELED;
    } else if (r->o.reverse && r->cur->chroot && proc_enter_error(p, &enter)) {
        /* The command could not even start inside the sandbox (its mounts
         * are gone after a reboot or a crash, or were never made): what it
         * would undo inside is gone with them, or is removed with the
         * sandbox. */
        log_warn("%s: skipping the destroy command, it cannot run in %s: %s",
                 r->cur->where ? r->cur->where : "action", r->o.root, enter.msg);
    } else if (proc_term_signal(p) || proc_exit_code(p) != 0) {
        size_t len = r->errout.len;
        if (proc_term_signal(p))
            snprintf(status, sizeof(status), "signal");
        else
            snprintf(status, sizeof(status), "%d", proc_exit_code(p));
        while (len && (r->errout.p[len - 1] == '\n' || r->errout.p[len - 1] == ' '))
            len--;
        err_set(&r->err, "%s command failed (exit code %s): %s%s%.*s",
                r->o.reverse ? "destroy" : "create", status, sc->run, len ? "\n" : "", (int)len,
                len ? r->errout.p : "");
        s = -1;
    }
    r->proc = NULL;
    proc_free(p);
    step_done(r, s);
    ref_drop(&r->ref); /* the command's hold */
}

static void start_cmd(struct actrun *r, const struct script *sc)
{
    struct strv env = {0};
    const char *argv[] = {"/bin/sh", "-ceu", sc->run, NULL};
    struct proc_opts po = {0};
    struct proc_cbs cbs = {on_cmd_data, on_cmd_exit, on_cmd_linger, r};
    struct cgroup_job *cg = NULL;
    struct launch_cgroup lc = {.dir_fd = -1};
    struct err e;

    env_from_environ(&env);
    for (size_t i = 0; r->o.env && i < r->o.env->n; i++)
        env_set(&env, r->o.env->v[i]);
    if (!r->cur->chroot)
        env_setkv(&env, "bob_sandbox_path", r->o.root);
    for (size_t i = 0; i < sc->env.n; i++)
        env_set(&env, sc->env.v[i]);

    po.argv = argv;
    po.env = (const char *const *)env.v;
    po.root = r->cur->chroot ? r->o.root : NULL;
    po.cover = r->cur->chroot ? r->o.cover : NULL;
    po.cwd = r->cur->chroot ? "/" : r->o.root;
    po.setsid = true;
    po.in = PROC_IO_NULL;
    po.out = PROC_IO_PIPE;
    po.err = PROC_IO_PIPE;
    po.drain_ms = CMD_DRAIN_MS;
    /*
     * A host command runs in the sandbox's own cgroup, so that whatever it
     * leaves running is killed by the sandbox's destroy (by any bob). A
     * chroot command has its pid namespace: it leaves nothing.
     */
    if (!r->cur->chroot) {
        char key[CGROUP_SANDBOX_KEY_LEN];
        struct err cge;
        cgroup_sandbox_key(r->o.root, key);
        if (cgroup_sandbox_open(key, &cg, &cge) == 0) {
            cgroup_job_launch(cg, &lc.dir_fd, &lc.procs_fds, &lc.n_procs);
            po.cgroup = &lc;
        } else if (cge.code != ENOTSUP) {
            log_warn("%s", cge.msg);
        }
    }
    r->errout.len = 0;
    r->proc = proc_spawn(r->o.loop, &po, &cbs, &e);
    cgroup_job_free(cg); /* its descriptors were for the start only */
    strv_free(&env);
    if (!r->proc) {
        memcpy(&r->err, &e, sizeof(e));
        step_done(r, -1);
        return;
    }
    ref_hold(&r->ref);
}

/* Starts the step for r->cur, or completes it at once when there is nothing to do. */
static void start_step(struct actrun *r)
{
    const struct action *a = r->cur;
    const struct script *sc;
    static const char *const kinds[] = {"mount", "copy", "symlink", "cmd", "macos-mdns-listener"};
    log_debug("action: %s %s %s%s%s in %s", a->where, r->o.reverse ? "undo" : "do", kinds[a->kind],
              a->dest ? " " : "", a->dest ? a->dest : "", r->o.root);
    switch (a->kind) {
    case ACTION_MOUNT:
        if (r->o.reverse)
            actions_start_unmount(r);
        else
            start_work(r, OP_MOUNT);
        return;
    case ACTION_COPY:
        start_work(r, r->o.reverse ? OP_UNCOPY : OP_COPY);
        return;
    case ACTION_SYMLINK:
        start_work(r, r->o.reverse ? OP_UNSYMLINK : OP_SYMLINK);
        return;
    case ACTION_CMD:
        sc = r->o.reverse ? &a->destroy : &a->create;
        if (!sc->run) {
            step_done(r, 0);
            return;
        }
        start_cmd(r, sc);
        return;
    case ACTION_MDNS:
        /* macOS only; elsewhere a no-op, as the action documentation says. */
        log_debug("%s: macos-mdns-listener does nothing on this OS",
                  a->where ? a->where : "action");
        step_done(r, 0);
        return;
    }
    step_done(r, 0);
}

static void step_done(struct actrun *r, int status)
{
    const struct action *a = r->cur;
    if (status < 0) {
        if (!r->o.reverse)
            r->undo_count = r->pos + (a->kind == ACTION_CMD ? 0 : 1);
        err_prefix(&r->err, "%s (%s %s)", a->where ? a->where : "action", action_kind_name(a->kind),
                   a->kind == ACTION_CMD ? (a->chroot ? "chroot" : "host")
                                         : (a->dest ? a->dest : ""));
        finish(r, status);
        return;
    }
    if (r->o.reverse) {
        r->pos--;
    } else {
        r->pos++;
        r->undo_count = r->pos;
    }
    next_step(r);
}

static void next_step(struct actrun *r)
{
    for (;;) {
        if (r->ref.free_requested) /* abandoned: nothing more starts */
            return;
        if (r->cancelled) {
            err_set(&r->err, "interrupted");
            finish(r, -ECANCELED);
            return;
        }
        if (r->o.reverse ? r->pos == 0 : r->pos >= r->o.count) {
            finish(r, 0);
            return;
        }
        r->cur = &r->o.list->v[r->o.reverse ? r->pos - 1 : r->pos];
        if (action_matches(r->cur, r->o.ctx)) {
            fault_step(r->o.reverse ? "destroy.action" : "create.action");
            break;
        }
        if (r->o.reverse) {
            r->pos--;
        } else {
            r->pos++;
            r->undo_count = r->pos;
        }
    }
    start_step(r);
}

/* The deferred first step: callbacks never run from inside actrun_start. */
static void actions_on_start(void *data)
{
    struct actrun *r = data;
    if (!r->ref.free_requested)
        next_step(r);
    ref_drop(&r->ref);
}

struct actrun *actrun_start(const struct actrun_opts *o)
{
    struct actrun *r = xcalloc(1, sizeof(*r));
    r->o = *o;
    if (r->o.count > o->list->n)
        r->o.count = o->list->n;
    r->pos = o->reverse ? r->o.count : 0;
    ref_init(&r->ref, actions_release);
    ref_hold(&r->ref);
    if (loop_defer(r->o.loop, actions_on_start, r) < 0) {
        ref_drop(&r->ref);
        ref_request_free(&r->ref);
        return NULL;
    }
    return r;
}

size_t actrun_undo_count(const struct actrun *r)
{
    return r->undo_count;
}

void actrun_cancel(struct actrun *r)
{
    if (r->finished || r->cancelled)
        return;
    r->cancelled = true;
    atomic_store(&r->cancel_flag, true);
    if (r->proc) {
        proc_kill(r->proc, SIGKILL);
        if (r->cur->chroot)
            kill_sandbox_procs(r);
    }
    /* A busy unmount waiting for its retry gives up; actions_on_unmounted follows. */
    unmount_cancel(r->unmount);
}

void actrun_free(struct actrun *r)
{
    if (!r)
        return;
    unmount_free(r->unmount); /* abandoned: no callback comes */
    r->unmount = NULL;
    ref_request_free(&r->ref);
}
