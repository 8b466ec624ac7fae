/*
 * Linux copy: a host file or tree into a sandbox, like bob's copy action.
 *
 * The destination is resolved beneath the sandbox root (missing parents are
 * made 0755) and everything below it is created relative to directory fds
 * with O_NOFOLLOW / O_EXCL, so nothing is ever written through a symlink.
 * Regular files, directories and symlinks (copied as links) keep their
 * mode, owner and times; sockets, fifos and devices are skipped. The data
 * goes through copy_file_range (sendfile, then read/write as fallbacks).
 * The walk is iterative with a bounded number of open fds, like removal.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"
#include "util/fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

struct cp_level {
    int sfd, dfd; /* -1 while closed to save fds */
    dev_t sdev, ddev;
    ino_t sino, dino;
    struct stat sst; /* of the source directory */
    bool attrs;      /* give the destination directory the source's attributes */
    struct strv names;
    size_t next;
    char *name; /* in the parent level */
};

struct cp_walk {
    struct cp_level *lv;
    size_t depth, cap;
    const char *src, *dest; /* host paths of level 0, for messages */
    struct err *e;
};

/* "<base>/<level names>/<name>" for messages. */
static char *cp_path(const struct cp_walk *w, const char *base, const char *name)
{
    struct buf b = {0};

    buf_adds(&b, base);
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

static int cp_fail(struct cp_walk *w, int err, const char *name)
{
    char *s = cp_path(w, w->src, name), *d = cp_path(w, w->dest, name);
    int rc = err_sys(w->e, err, "cannot copy %s to %s", s, d);

    free(s);
    free(d);
    return rc;
}

/* The names in directory fd, except "." and "..". */
static int read_names(int fd, struct strv *names)
{
    struct dirent *de;
    int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;

    if (!d) {
        rc = -errno;
        if (rfd >= 0)
            close(rfd);
        return rc;
    }
    while ((errno = 0, de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            strv_push(names, de->d_name);
    if (errno)
        rc = -errno;
    closedir(d);
    return rc;
}

/* Copies the data of in to out. */
static int copy_data(int in, int out)
{
    char buf[65536];
    ssize_t n;
    bool first = true;

    for (;;) {
        n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n > 0) {
            first = false;
            continue;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (!first || (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
                       errno != EOPNOTSUPP && errno != EBADF && errno != EPERM))
            return -errno;
        break;
    }
    for (first = true;;) {
        n = sendfile(out, in, NULL, 1 << 30);
        if (n > 0) {
            first = false;
            continue;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (!first || (errno != EINVAL && errno != ENOSYS))
            return -errno;
        break;
    }
    while ((n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t m = write(out, buf + off, (size_t)(n - off));
            if (m < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            off += m;
        }
    }
    return 0;
}

/* Removes a non-directory at dfd/name so it can be replaced; a directory is an error. */
static int clear_entry(int dfd, const char *name)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    return -errno;
}

/* Owner (when permitted), mode and times of st onto fd. */
static int set_attrs(int fd, const struct stat *st)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};

    /* As root the owner is kept; otherwise (EPERM) the copy is ours. */
    if (fchown(fd, st->st_uid, st->st_gid) < 0 && errno != EPERM)
        return -errno;
    /* After the chown, which clears the set-id bits. */
    if (fchmod(fd, st->st_mode & 07777) < 0)
        return -errno;
    if (futimens(fd, ts) < 0)
        return -errno;
    return 0;
}

/* Copies the regular file in (with stat st) to dfd/name. */
static int copy_file(int in, const struct stat *st, int dfd, const char *name)
{
    int out, rc;

    rc = clear_entry(dfd, name);
    if (rc < 0)
        return rc;
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    if (out < 0)
        return -errno;
    rc = copy_data(in, out);
    if (rc == 0)
        rc = set_attrs(out, st);
    if (close(out) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* Copies the symlink sfd/name (with stat st) as a link to dfd/name. */
static int copy_link(int sfd, const char *name, const struct stat *st, int dfd)
{
    char target[PATH_MAX + 1];
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    ssize_t len = readlinkat(sfd, name, target, sizeof(target));
    int rc;

    if (len < 0)
        return -errno;
    if ((size_t)len >= sizeof(target))
        return -ENAMETOOLONG;
    target[len] = '\0';
    rc = clear_entry(dfd, name);
    if (rc < 0)
        return rc;
    if (symlinkat(target, dfd, name) < 0)
        return -errno;
    if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
        return -errno;
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    return 0;
}

/* Makes (or reuses) directory dfd/name and opens it. */
static int open_dest_dir(int dfd, const char *name)
{
    int fd;

    if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
        return -errno;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR || errno == ELOOP ? -EEXIST : -errno;
    return fd;
}

/* Enters a new level (fds sfd, dfd); closes the fds of a level far above. */
static int cp_push(struct cp_walk *w, int sfd, int dfd, const struct stat *sst, const char *name)
{
    struct stat dst;
    struct cp_level *l;
    size_t d = w->depth + 1;
    int rc;

    if (fstat(dfd, &dst) < 0) {
        rc = -errno;
        close(sfd);
        close(dfd);
        return rc;
    }
    if (d == w->cap) {
        w->cap *= 2;
        w->lv = xrealloc(w->lv, w->cap * sizeof(*w->lv));
    }
    l = &w->lv[d];
    memset(l, 0, sizeof(*l));
    l->sfd = sfd;
    l->dfd = dfd;
    l->sdev = sst->st_dev;
    l->sino = sst->st_ino;
    l->ddev = dst.st_dev;
    l->dino = dst.st_ino;
    l->sst = *sst;
    l->attrs = true;
    l->name = xstrdup(name);
    w->depth = d;
    rc = read_names(sfd, &l->names);
    if (d > LX_OPEN_LEVELS && w->lv[d - LX_OPEN_LEVELS].sfd >= 0) {
        struct cp_level *far = &w->lv[d - LX_OPEN_LEVELS];
        close(far->sfd);
        close(far->dfd);
        far->sfd = far->dfd = -1;
    }
    return rc;
}

/* Reopens fd's parent through "..", checking that it is still the recorded directory. */
static int reopen_parent(int fd, dev_t dev, ino_t ino)
{
    struct stat st;
    int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (pfd < 0)
        return -errno;
    if (fstat(pfd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
        close(pfd);
        return -EXDEV;
    }
    return pfd;
}

/* Leaves the current level (its attributes set) for its parent. */
static int cp_pop(struct cp_walk *w)
{
    struct cp_level *cur = &w->lv[w->depth], *up = &w->lv[w->depth - 1];
    int rc = 0;

    if (up->sfd < 0) {
        up->sfd = reopen_parent(cur->sfd, up->sdev, up->sino);
        up->dfd = up->sfd < 0 ? -1 : reopen_parent(cur->dfd, up->ddev, up->dino);
        if (up->sfd < 0 || up->dfd < 0)
            rc = up->sfd < 0 ? up->sfd : up->dfd;
    }
    close(cur->sfd);
    close(cur->dfd);
    strv_free(&cur->names);
    free(cur->name);
    memset(cur, 0, sizeof(*cur));
    w->depth--;
    return rc;
}

/* Copies one entry of the current level; may enter a new level. */
static int cp_entry(struct cp_walk *w, const char *name)
{
    struct cp_level *l = &w->lv[w->depth];
    struct stat st;
    int fd, dfd, rc;

    if (fstatat(l->sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno; /* vanished meanwhile */
    if (S_ISLNK(st.st_mode))
        return copy_link(l->sfd, name, &st, l->dfd);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return 0; /* sockets, fifos and devices are skipped */
    fd = openat(l->sfd, name,
                O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
                    (S_ISDIR(st.st_mode) ? O_DIRECTORY : O_NONBLOCK));
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        close(fd);
        return 0; /* replaced by something else meanwhile */
    }
    if (S_ISREG(st.st_mode)) {
        rc = copy_file(fd, &st, l->dfd, name);
        close(fd);
        return rc;
    }
    dfd = open_dest_dir(l->dfd, name);
    if (dfd < 0) {
        close(fd);
        return dfd;
    }
    return cp_push(w, fd, dfd, &st, name);
}

/* Copies the tree below level 0 (already open in w). */
static int cp_tree(struct cp_walk *w, const atomic_bool *cancel)
{
    int rc = 0;

    for (;;) {
        struct cp_level *l = &w->lv[w->depth];
        if (l->next < l->names.n) {
            const char *name = l->names.v[l->next++];
            size_t depth = w->depth;
            if (cancel && atomic_load(cancel))
                return lx_err(w->e, ECANCELED, "copy of %s to %s cancelled", w->src, w->dest);
            rc = cp_entry(w, name);
            if (rc < 0) {
                /* cp_push may have entered the level already: name the entry from its parent. */
                while (w->depth > depth)
                    (void)cp_pop(w);
                return cp_fail(w, -rc, name);
            }
            continue;
        }
        if (l->attrs && (rc = set_attrs(l->dfd, &l->sst)) < 0)
            return cp_fail(w, -rc, NULL);
        if (w->depth == 0)
            return 0;
        rc = cp_pop(w);
        if (rc < 0)
            return cp_fail(w, -rc, NULL);
    }
}

int plat_copy(const char *root, const char *src, const char *dest, const atomic_bool *cancel,
              struct err *e)
{
    struct lx_root r;
    struct cp_walk w = {.src = src, .e = e};
    struct stat st;
    struct strv c = {0};
    char *name = NULL, *host = NULL;
    int pfd = -1, sfd = -1, dfd = -1, rc;

    if ((rc = fault_check("copy")) < 0)
        return err_sys(e, -rc, "cannot copy %s to %s in %s (injected)", src, dest, root);
    rc = lx_root_open(&r, root, e);
    if (rc < 0)
        return rc;
    host = lx_host(&r, dest);
    w.dest = host;
    /*
     * The source itself is followed when it is a symlink (like cp -H);
     * nothing below it is. It is checked before it is opened: opening a
     * device or a fifo could have effects of its own.
     */
    if (stat(src, &st) < 0) {
        rc = err_sys(e, errno, "cannot copy %s to %s", src, host);
        goto out;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        rc = lx_err(e, EINVAL, "cannot copy %s to %s: not a regular file or directory", src, host);
        goto out;
    }
    sfd = open(src, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (sfd < 0 || fstat(sfd, &st) < 0) {
        rc = err_sys(e, errno, "cannot copy %s to %s", src, host);
        goto out;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        rc = lx_err(e, EINVAL, "cannot copy %s to %s: not a regular file or directory", src, host);
        goto out;
    }
    if (cancel && atomic_load(cancel)) {
        rc = lx_err(e, ECANCELED, "copy of %s to %s cancelled", src, host);
        goto out;
    }
    path_split(dest, &c);
    if (c.n == 0) {
        /* Into the sandbox root itself: a directory only, and the root keeps its attributes. */
        if (!S_ISDIR(st.st_mode)) {
            rc = lx_err(e, EISDIR, "cannot copy %s to %s: it is the sandbox root", src, host);
            goto out;
        }
        dfd = openat(r.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            rc = err_sys(e, errno, "cannot copy %s to %s", src, host);
            goto out;
        }
    } else {
        rc = lx_parent(&r, dest, true, &pfd, &name, e);
        if (rc < 0)
            goto out;
        if (S_ISREG(st.st_mode)) {
            rc = copy_file(sfd, &st, pfd, name);
            if (rc < 0)
                rc = err_sys(e, -rc, "cannot copy %s to %s", src, host);
            goto out;
        }
        dfd = open_dest_dir(pfd, name);
        if (dfd < 0) {
            rc = err_sys(e, -dfd, "cannot copy %s to %s", src, host);
            goto out;
        }
    }
    w.cap = 64;
    w.lv = xcalloc(w.cap, sizeof(*w.lv));
    w.lv[0].sfd = sfd;
    w.lv[0].dfd = dfd;
    w.lv[0].sst = st;
    w.lv[0].attrs = c.n > 0;
    sfd = dfd = -1; /* owned by the walk now */
    rc = read_names(w.lv[0].sfd, &w.lv[0].names);
    if (rc < 0)
        rc = err_sys(e, -rc, "cannot copy %s to %s", src, host);
    else
        rc = cp_tree(&w, cancel);
    for (size_t i = 0; i <= w.depth; i++) {
        if (w.lv[i].sfd >= 0)
            close(w.lv[i].sfd);
        if (w.lv[i].dfd >= 0)
            close(w.lv[i].dfd);
        strv_free(&w.lv[i].names);
        free(w.lv[i].name);
    }
    free(w.lv);
out:
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    if (pfd >= 0)
        close(pfd);
    free(name);
    free(host);
    strv_free(&c);
    lx_root_close(&r);
    return rc;
}

#endif /* __linux__ */
