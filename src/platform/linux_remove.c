/*
 * Linux removal: the safety core of teardown.
 *
 * A host file reachable through a bind mount must survive every failure
 * mode, so removal (1) refuses when /proc/self/mountinfo shows anything
 * mounted at or below the target, (2) resolves the target beneath the
 * sandbox root with openat2, so a symlink on the way cannot lead outside,
 * and (3) walks with directory fds (openat O_NOFOLLOW, unlinkat), never
 * following a symlink and checking that every directory it enters is on
 * the sandbox root's own mount. Mount ids are compared, not st_dev: a bind
 * mount of the same filesystem has the same st_dev.
 *
 * The walk is iterative and keeps at most LX_OPEN_LEVELS directory fds
 * open: deeper down, ancestors are closed and reopened through ".." on the
 * way up, checked against the device and inode recorded on the way down,
 * so a hostile tree of any depth neither overflows the stack nor runs out
 * of fds, and a directory moved meanwhile stops the removal.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"
#include "util/fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rm_level {
    int fd; /* O_RDONLY|O_DIRECTORY, or -1 while closed to save fds */
    dev_t dev;
    ino_t ino;
    char *name; /* in the parent level */
};

struct rm_walk {
    struct rm_level *lv;
    size_t depth, cap;
    const char *path; /* of level 0, for messages */
    uint64_t mnt;
    struct err *e;
};

/* The host path of entry name in the current level (name may be NULL), for messages. */
static char *walk_path(const struct rm_walk *w, const char *name)
{
    struct buf b = {0};

    buf_adds(&b, w->path);
    for (size_t i = 1; i <= w->depth; i++) {
        buf_adds(&b, "/");
        buf_adds(&b, w->lv[i].name);
    }
    if (name) {
        buf_adds(&b, "/");
        buf_adds(&b, name);
    }
    return b.p;
}

/* Sets e to "<what> <path>: <reason>" for entry name and returns -err. */
static int walk_fail(struct rm_walk *w, int err, const char *name, const char *why)
{
    char *p = walk_path(w, name);
    int rc;

    if (why)
        rc = lx_err(w->e, err, "refusing to remove %s: %s", p, why);
    else
        rc = err_sys(w->e, err, "cannot remove %s", p);
    free(p);
    return rc;
}

/* Enters child directory fd (named name) as a new level. */
static void walk_push(struct rm_walk *w, int fd, const struct stat *st, const char *name)
{
    size_t d = w->depth + 1;

    if (d == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->lv = xrealloc(w->lv, w->cap * sizeof(*w->lv));
    }
    w->lv[d].fd = fd;
    w->lv[d].dev = st->st_dev;
    w->lv[d].ino = st->st_ino;
    w->lv[d].name = xstrdup(name);
    w->depth = d;
    /* Level 0 belongs to the caller and stays open. */
    if (d > LX_OPEN_LEVELS && w->lv[d - LX_OPEN_LEVELS].fd >= 0) {
        close(w->lv[d - LX_OPEN_LEVELS].fd);
        w->lv[d - LX_OPEN_LEVELS].fd = -1;
    }
}

/* Leaves the current (now empty) level and removes its directory from the parent. */
static int walk_pop(struct rm_walk *w)
{
    struct rm_level *cur = &w->lv[w->depth], *up = &w->lv[w->depth - 1];
    int rc = 0;

    if (up->fd < 0) {
        struct stat st;
        int fd = openat(cur->fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return walk_fail(w, errno, NULL, NULL);
        if (fstat(fd, &st) < 0 || st.st_dev != up->dev || st.st_ino != up->ino) {
            close(fd);
            return walk_fail(w, EXDEV, NULL, "a directory was moved during the removal");
        }
        up->fd = fd;
    }
    close(cur->fd);
    cur->fd = -1;
    if (unlinkat(up->fd, cur->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = walk_fail(w, errno, NULL, NULL);
    free(cur->name);
    cur->name = NULL;
    w->depth--;
    return rc;
}

/*
 * Removes entry name of the current level. Returns 0 when it is gone, 1
 * with *child set when it is a non-empty directory to enter, or an error.
 */
static int walk_entry(struct rm_walk *w, const char *name, unsigned char type, int *child,
                      struct stat *cst)
{
    int cur = w->lv[w->depth].fd, fd, rc;
    uint64_t mnt;
    struct stat st;

    if (type == DT_UNKNOWN) {
        if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return errno == ENOENT ? 0 : walk_fail(w, errno, name, NULL);
        type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
    }
    if (type != DT_DIR) {
        /* Files, symlinks (the link itself), devices, fifos, sockets. */
        if (unlinkat(cur, name, 0) == 0 || errno == ENOENT)
            return 0;
        if (errno != EISDIR)
            return walk_fail(w, errno, name, NULL);
    }
    /* An empty directory goes at once; a mount point gives EBUSY. */
    if (unlinkat(cur, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    if (errno == ENOTDIR)
        return unlinkat(cur, name, 0) == 0 || errno == ENOENT ? 0 : walk_fail(w, errno, name, NULL);
    if (errno != ENOTEMPTY && errno != EEXIST && errno != EBUSY)
        return walk_fail(w, errno, name, NULL);
    fd = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP) /* replaced by a file or a symlink meanwhile */
            return unlinkat(cur, name, 0) == 0 || errno == ENOENT ? 0
                                                                  : walk_fail(w, errno, name, NULL);
        return walk_fail(w, errno, name, NULL);
    }
    rc = lx_mnt_id(fd, &mnt);
    if (rc == 0 && fstat(fd, cst) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return walk_fail(w, -rc, name, NULL);
    }
    if (mnt != w->mnt) {
        close(fd);
        return walk_fail(w, EXDEV, name, "it is on another mount");
    }
    *child = fd;
    return 1;
}

int lx_remove_contents(int dirfd, const char *path, uint64_t mnt, const atomic_bool *cancel,
                       struct err *e)
{
    struct rm_walk w = {.path = path, .mnt = mnt, .e = e};
    struct stat st;
    int rc = 0;

    if (fstat(dirfd, &st) < 0)
        return err_sys(e, errno, "cannot remove %s", path);
    w.cap = 64;
    w.lv = xcalloc(w.cap, sizeof(*w.lv));
    w.lv[0] = (struct rm_level){.fd = dirfd, .dev = st.st_dev, .ino = st.st_ino};
    for (;;) {
        struct dirent *de;
        bool down = false;
        int rfd = openat(w.lv[w.depth].fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;

        if (!d) {
            rc = walk_fail(&w, errno, NULL, NULL);
            if (rfd >= 0)
                close(rfd);
            break;
        }
        /*
         * Entries are removed as they are read. After coming back from a
         * subdirectory the listing starts again: what is left is only
         * what was not reached yet.
         */
        while (rc == 0 && (errno = 0, de = readdir(d))) {
            int child = -1, r;
            struct stat cst;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (cancel && atomic_load(cancel)) {
                rc = lx_err(e, ECANCELED, "removal of %s cancelled", path);
                break;
            }
            r = walk_entry(&w, de->d_name, de->d_type, &child, &cst);
            if (r < 0) {
                rc = r;
            } else if (r == 1) {
                walk_push(&w, child, &cst, de->d_name);
                down = true;
                break;
            }
        }
        if (rc == 0 && !down && errno != 0)
            rc = walk_fail(&w, errno, NULL, NULL);
        closedir(d);
        if (rc < 0)
            break;
        if (down)
            continue;
        if (w.depth == 0)
            break;
        rc = walk_pop(&w);
        if (rc < 0)
            break;
    }
    for (size_t i = 1; i <= w.depth; i++) {
        if (w.lv[i].fd >= 0)
            close(w.lv[i].fd);
        free(w.lv[i].name);
    }
    free(w.lv);
    return rc;
}

/* Refuses (naming the mount point) when anything is mounted at or below canonical path. */
static int check_unmounted(const char *path, struct err *e)
{
    struct lx_mount *v;
    size_t n, *idx, cnt;
    int rc = lx_mountinfo(&v, &n, e);

    if (rc < 0)
        return rc;
    lx_mounts_select(v, n, path, &idx, &cnt);
    if (cnt > 0)
        /* The last in unmount order is the outermost: the most telling name. */
        rc = lx_err(e, EBUSY, "refusing to remove %s: %s is still mounted", path,
                    v[idx[cnt - 1]].path);
    free(idx);
    lx_mountinfo_free(v, n);
    return rc;
}

/*
 * Opens the sandbox root and reads its mount id. Returns 0, 1 when the root
 * does not exist (nothing to do; e is cleared), or a negative errno.
 */
static int open_root(struct lx_root *r, const char *root, uint64_t *mnt, struct err *e)
{
    int rc = lx_root_open(r, root, e);
    if (rc == -ENOENT) {
        err_clear(e);
        return 1;
    }
    if (rc < 0)
        return rc;
    rc = lx_mnt_id(r->fd, mnt);
    if (rc < 0) {
        rc = err_sys(e, -rc, "cannot find the mount id of %s", r->path);
        lx_root_close(r);
    }
    return rc;
}

/*
 * The start of a removal (plat_remove, plat_remove_sandbox): the "unlink"
 * fault point, then open_root. guest is NULL for the whole sandbox.
 */
static int rm_begin(struct lx_root *r, const char *root, const char *guest, uint64_t *mnt,
                    struct err *e)
{
    int rc = fault_check("unlink");
    if (rc < 0 && guest)
        return err_sys(e, -rc, "cannot remove %s in %s (injected)", guest, root);
    if (rc < 0)
        return err_sys(e, -rc, "cannot remove %s (injected)", root);
    return open_root(r, root, mnt, e);
}

/*
 * Removes the whole sandbox directory: its contents, then itself through
 * its parent. checked: the caller has just looked at the mount table.
 */
static int remove_root(struct lx_root *r, uint64_t mnt, bool checked, const atomic_bool *cancel,
                       struct err *e)
{
    const char *base = strrchr(r->canon, '/') + 1;
    char *dir =
        base - 1 == r->canon ? xstrdup("/") : xstrndup(r->canon, (size_t)(base - 1 - r->canon));
    struct stat st, rst;
    int pfd = -1, rc;

    rc = checked ? 0 : check_unmounted(r->canon, e);
    if (rc == 0)
        rc = lx_remove_contents(r->fd, r->canon, mnt, cancel, e);
    if (rc < 0)
        goto out;
    pfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        rc = err_sys(e, errno, "cannot remove %s", r->canon);
        goto out;
    }
    if (fstat(r->fd, &rst) < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        st.st_dev != rst.st_dev || st.st_ino != rst.st_ino) {
        rc = lx_err(e, EXDEV, "refusing to remove %s: it was moved during the removal", r->canon);
        goto out;
    }
    if (unlinkat(pfd, base, AT_REMOVEDIR) < 0)
        rc = err_sys(e, errno, "cannot remove %s", r->canon);
out:
    if (pfd >= 0)
        close(pfd);
    free(dir);
    return rc;
}

/*
 * Removes the entry `name` of the directory pfd (lstat'ed into *st), which is
 * on the sandbox's own mount rmnt: a non-directory is unlinked (a symlink
 * itself, never its target); a directory is checked to be on that mount,
 * emptied and removed.
 */
static int remove_entry(int pfd, const char *name, const struct stat *st, const char *target,
                        uint64_t rmnt, const atomic_bool *cancel, struct err *e)
{
    uint64_t dmnt;
    int dfd, rc;

    if (!S_ISDIR(st->st_mode)) {
        if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
            return err_sys(e, errno, "cannot remove %s", target);
        return 0;
    }
    dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : err_sys(e, errno, "cannot remove %s", target);
    rc = lx_mnt_id(dfd, &dmnt);
    if (rc < 0)
        rc = err_sys(e, -rc, "cannot remove %s", target);
    else if (dmnt != rmnt)
        rc = lx_err(e, EXDEV, "refusing to remove %s: it is on another mount", target);
    else
        rc = lx_remove_contents(dfd, target, rmnt, cancel, e);
    close(dfd);
    if (rc == 0 && unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = err_sys(e, errno, "cannot remove %s", target);
    return rc;
}

int plat_remove_sandbox(const char *root, const char *last, const atomic_bool *cancel,
                        struct err *e)
{
    struct lx_root r;
    uint64_t rmnt;
    struct strv names = {0};
    DIR *d;
    struct dirent *de;
    int dfd, rc;

    rc = rm_begin(&r, root, NULL, &rmnt, e);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    /* One look at the mount table for the whole sandbox. */
    rc = check_unmounted(r.canon, e);
    if (rc < 0)
        goto out;
    dfd = dup(r.fd);
    d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        rc = err_sys(e, errno, "cannot read %s", r.canon);
        if (dfd >= 0)
            close(dfd);
        goto out;
    }
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, last))
            strv_push(&names, de->d_name);
    closedir(d);
    strv_push(&names, last);
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        struct stat st;
        char *target;
        if (fstatat(r.fd, names.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT)
                rc = err_sys(e, errno, "cannot remove %s/%s", r.canon, names.v[i]);
            continue;
        }
        target = xasprintf("%s/%s", r.canon, names.v[i]);
        rc = remove_entry(r.fd, names.v[i], &st, target, rmnt, cancel, e);
        free(target);
    }
    /* Each directory removed was checked to be on the root's own mount: no second look. */
    if (rc == 0)
        rc = remove_root(&r, rmnt, true, cancel, e);
out:
    strv_free(&names);
    lx_root_close(&r);
    return rc;
}

int plat_remove(const char *root, const char *guest, const atomic_bool *cancel, struct err *e)
{
    struct lx_root r;
    struct strv c = {0};
    struct stat st;
    uint64_t rmnt, pmnt;
    char *name = NULL, *pcanon = NULL, *target = NULL;
    int pfd = -1, rc;

    rc = rm_begin(&r, root, guest, &rmnt, e);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    path_split(guest, &c);
    if (c.n == 0) {
        rc = remove_root(&r, rmnt, false, cancel, e);
        goto out;
    }
    rc = lx_parent(&r, guest, false, &pfd, &name, e);
    if (rc == -ENOENT) {
        err_clear(e);
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = errno == ENOENT ? 0 : err_sys(e, errno, "cannot remove %s", guest);
        goto out;
    }
    pcanon = lx_fd_path(pfd);
    if (!pcanon || !path_covers(r.canon, pcanon)) {
        rc = lx_err(e, EXDEV, "Path escapes sandbox: %s resolves outside %s", guest, r.path);
        goto out;
    }
    target = xasprintf("%s/%s", pcanon, name);
    rc = lx_mnt_id(pfd, &pmnt);
    if (rc < 0) {
        rc = err_sys(e, -rc, "cannot remove %s", target);
        goto out;
    }
    if (pmnt != rmnt) {
        rc = lx_err(e, EXDEV, "refusing to remove %s: it is on another mount", target);
        goto out;
    }
    rc = check_unmounted(target, e);
    if (rc < 0)
        goto out;
    rc = remove_entry(pfd, name, &st, target, rmnt, cancel, e);
out:
    if (pfd >= 0)
        close(pfd);
    free(name);
    free(pcanon);
    free(target);
    strv_free(&c);
    lx_root_close(&r);
    return rc;
}

int plat_on_root_mount(const char *root, const char *guest, struct err *e)
{
    struct lx_root r;
    uint64_t rmnt, pmnt;
    char *name = NULL;
    int pfd = -1, rc;

    rc = open_root(&r, root, &rmnt, e);
    if (rc != 0)
        return rc > 0 ? 1 : rc;
    rc = lx_parent(&r, guest, false, &pfd, &name, e);
    if (rc == -ENOENT) {
        err_clear(e);
        rc = 1;
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = lx_mnt_id(pfd, &pmnt);
    if (rc < 0) {
        rc = err_sys(e, -rc, "cannot find the mount id of %s", guest);
        goto out;
    }
    rc = pmnt == rmnt ? 1 : 0;
out:
    if (pfd >= 0)
        close(pfd);
    free(name);
    lx_root_close(&r);
    return rc;
}

#endif /* __linux__ */
