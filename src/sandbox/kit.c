/* The bootstrap kit unpacked once per build, attached to each job as overlays (kit.h). */
#include "sandbox/kit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/bootstrap.h"
#include "platform/platform.h"

enum kit_state {
    KIT_UNPACKING, /* in the thread pool */
    KIT_READY,     /* unpacked and checked: attached by each pre-build */
    KIT_OFF,       /* not to be had: every job unpacks the kit (said once) */
};

struct sbx_kit {
    enum kit_state state;
    int fd;     /* the root of the tmpfs it is unpacked into, or -1 */
    char *path; /* where that tmpfs is mounted (the build's namespace): <basedir>/.kit.<pid>.<n> */
    int lockfd; /* held on that directory while the build lives (kit_prune) */
    struct strv targets; /* PREFIX and the package databases, none below another; fixed once set */
    struct unpack *unpack;
};

/* Adds guest path p to the targets unless it or a directory above it is one; drops those below it.
 */
static void kit_add_target(struct strv *t, const char *p)
{
    size_t n;
    if (!p || p[0] != '/')
        return;
    n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    if (n <= 1)
        return;
    for (size_t i = 0; i < t->n; i++) {
        size_t m = strlen(t->v[i]);
        if (m <= n && strncmp(t->v[i], p, m) == 0 && (m == n || p[m] == '/'))
            return; /* it, or below it */
    }
    for (size_t i = t->n; i-- > 0;) {
        if (strncmp(t->v[i], p, n) == 0 && t->v[i][n] == '/') {
            free(t->v[i]);
            memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
            t->n--;
        }
    }
    strv_push_owned(t, xstrndup(p, n));
}

/*
 * Removes the .kit.<pid> directories of builds that are gone: each build
 * holds a lock on its own, which the kernel drops when it dies. They are
 * empty outside their build's mount namespace; a full one is left alone.
 */
static void kit_prune(const char *basedir)
{
    DIR *d = opendir(basedir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        int fd;
        if (strncmp(de->d_name, ".kit.", 5) != 0)
            continue;
        fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            (void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
}

/* Gives up the overlays for this build, saying why once. */
static void kit_off(struct sbx_kit *k, const char *why)
{
    if (k->state != KIT_OFF && why)
        log_warn("bootstrap kit: %s: it is unpacked for each job instead", why);
    k->state = KIT_OFF;
}

static void kit_on_unpacked(struct unpack *u, int status, const struct err *e, void *data)
{
    struct sbx_kit *k = data;
    struct err ce;
    unpack_free(u);
    k->unpack = NULL;
    if (status < 0)
        kit_off(k, e->msg);
    else if (plat_kit_check(k->fd, &k->targets, &ce) < 0)
        kit_off(k, ce.msg);
    else {
        k->state = KIT_READY;
        log_debug("bootstrap kit: unpacked once, overlaid from now on");
    }
    if (k->state == KIT_OFF && k->fd >= 0) {
        close(k->fd); /* no overlay uses it yet */
        k->fd = -1;
        plat_kit_tmpfs_drop(k->path);
    }
}

void sandbox_kit_prepare(struct sbx_ctx *ctx)
{
    const struct config *cfg = ctx->cfg;
    const char *no = getenv("BOB_NO_KIT_OVERLAY");
    struct sbx_kit *k;
    struct err e;

    if (!ctx->kit_reuse || ctx->kit || !cfg->bootstrap || !ctx->prefix)
        return;
    if (!ctx->own_mount_ns) {
        log_debug("bootstrap kit: unpacked for each job (no mount namespace of the build's own)");
        return;
    }
    k = ctx->kit = xcalloc(1, sizeof(*k));
    k->fd = k->lockfd = -1;
    if (no && *no && strcmp(no, "0") != 0) {
        log_debug("bootstrap kit: overlays turned off by BOB_NO_KIT_OVERLAY");
        k->state = KIT_OFF;
        return;
    }
    /* Fixed from here on: post-builds read them (sandbox_kit_targets). */
    kit_add_target(&k->targets, ctx->prefix);
    kit_add_target(&k->targets, ctx->pkg_dbdir);
    kit_add_target(&k->targets, ctx->pkg_refcount_dbdir);
    kit_prune(cfg->basedir);
    /* A directory of this build's, locked before the tmpfs covers it (see kit_prune). */
    k->lockfd = -1;
    for (int i = 0; i < 100 && k->lockfd < 0; i++) {
        free(k->path);
        k->path = xasprintf("%s/.kit.%ld.%d", cfg->basedir, (long)getpid(), i);
        if (mkdir(k->path, 0700) < 0 && errno != EEXIST)
            break;
        k->lockfd = open(k->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (k->lockfd >= 0 && flock(k->lockfd, LOCK_EX | LOCK_NB) < 0) {
            close(k->lockfd); /* another bob's (a pid of another namespace) */
            k->lockfd = -1;
        }
    }
    if (k->lockfd < 0) {
        kit_off(k, "cannot make a directory for it in the sandboxes' basedir");
        return;
    }
    if (plat_kit_tmpfs(k->path, &k->fd, &e) < 0) {
        kit_off(k, e.msg);
        return;
    }
    k->state = KIT_UNPACKING;
    log_debug("bootstrap kit: unpacking it once, for overlays on %zu director%s", k->targets.n,
              k->targets.n == 1 ? "y" : "ies");
    k->unpack = unpack_start(ctx->loop, cfg->bootstrap, k->path, cfg->bootstrap_max_size,
                             kit_on_unpacked, k);
    if (!k->unpack) {
        kit_off(k, "cannot start unpacking it once");
        close(k->fd);
        k->fd = -1;
        plat_kit_tmpfs_drop(k->path);
    }
}

bool sandbox_kit_ready(const struct sbx_ctx *ctx)
{
    return ctx->kit && ctx->kit->state == KIT_READY;
}

int sandbox_kit_attach(struct sbx_ctx *ctx, const char *root)
{
    struct err e;
    char msg[sizeof(e.msg) + 64];
    if (!sandbox_kit_ready(ctx))
        return -1;
    if (plat_kit_attach(root, ctx->kit->fd, &ctx->kit->targets, SANDBOX_KIT_UPPER, &e) == 0)
        return 0;
    snprintf(msg, sizeof(msg), "%s", e.msg);
    kit_off(ctx->kit, msg);
    return -1;
}

const struct strv *sandbox_kit_targets(const struct sbx_ctx *ctx)
{
    return ctx->kit && ctx->kit->targets.n ? &ctx->kit->targets : NULL;
}

int sandbox_kit_detach(const struct strv *targets, const char *root, struct err *e)
{
    struct stat st;
    char *upper = NULL;
    int rc = 0;

    if (!targets)
        return 0;
    /* Only where this sandbox had it attached: its upper layers are there. */
    if (plat_resolve(root, SANDBOX_KIT_UPPER, &upper, e) < 0)
        return -1;
    if (lstat(upper, &st) == 0) {
        for (size_t i = targets->n; i-- > 0 && rc == 0;)
            rc = plat_unmount(root, targets->v[i], e);
        if (rc == 0)
            rc = plat_remove(root, SANDBOX_KIT_UPPER, NULL, e);
    }
    free(upper);
    return rc;
}

void sandbox_kit_free(struct sbx_ctx *ctx)
{
    struct sbx_kit *k = ctx->kit;
    if (!k)
        return;
    if (k->unpack)
        unpack_free(k->unpack); /* cancelled: it stops between entries */
    if (k->fd >= 0)
        close(k->fd);
    if (k->path && k->fd >= 0)
        plat_kit_tmpfs_drop(k->path); /* the kit goes with the last overlay on it */
    if (k->lockfd >= 0) {
        (void)rmdir(k->path);
        close(k->lockfd);
    }
    free(k->path);
    strv_free(&k->targets);
    free(k);
    ctx->kit = NULL;
}
