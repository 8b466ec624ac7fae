/*
 * Linux paths beneath a sandbox root: opening the root, resolving a guest
 * path inside it, and the helpers the other linux*.c files build on (error
 * messages, splitting and joining guest paths, mount ids of fds).
 *
 * Every lookup inside a sandbox is made with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) relative to an fd of the sandbox root, so that `..`
 * or a symlink (also one a build made after the check) can never lead
 * outside it: the kernel refuses the escape during the walk itself. Where
 * openat2 is missing (kernels before 5.6, valgrind, BOB_NO_OPENAT2) the
 * same walk is made by hand, one component at a time, each step holding a
 * descriptor (beneath_by_hand).
 *
 * The other topics of the platform have files of their own: the mount
 * table (linux_mounttab.c), mounts (linux_mount.c), processes
 * (linux_proc.c), removal (linux_remove.c), copying (linux_copy.c),
 * symlinks and pruning (linux_symlink.c), ptys (linux_pty.c). Bob's locks
 * on names (plat_name_lock) are here too.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int plat_init(struct err *e)
{
    return 0;
}

#define NAME_LOCK_DIR "/run/bob"

int plat_name_lock(const char *kind, const char *path, bool wait)
{
    struct stat st;
    char name[PATH_MAX];
    int fd, r;

    if (mkdir(NAME_LOCK_DIR, 0700) < 0 && errno != EEXIST)
        return -errno;
    /* Root's alone, or not used: never followed, nothing made in it. */
    if (lstat(NAME_LOCK_DIR, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        return -EPERM;
    snprintf(name, sizeof(name), "%s/%s-%016llx.lock", NAME_LOCK_DIR, kind,
             (unsigned long long)str_fnv1a(path));
    fd = open(name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while ((r = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) < 0 && errno == EINTR)
        ;
    if (r < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int lx_err(struct err *e, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->code = errnum;
    return -errnum;
}

#define BENEATH_MAX_LINKS 40
#define BENEATH_MAX_DEPTH 4096

/*
 * openat2(RESOLVE_BENEATH) done by hand, for kernels before 5.6 (and
 * valgrind, which does not know the call): one component at a time with
 * O_NOFOLLOW, a symlink's target spliced into the rest of the path, `..`
 * above dirfd and absolute targets refused with EXDEV, as the kernel does.
 * Each step holds a descriptor, so nothing can be swapped in between.
 */
static int beneath_by_hand(int dirfd, const char *path, int flags, uint64_t resolve)
{
    struct strv todo = {0}; /* the components still to walk, the next one last */
    int *stack = xmalloc(sizeof(int) * BENEATH_MAX_DEPTH);
    size_t depth = 0, links = 0;
    int cur = dup(dirfd), r = 0;

    if (cur < 0) {
        free(stack);
        return -errno;
    }
    path_split(path, &todo);
    for (size_t i = 0; i < todo.n / 2; i++) {
        char *t = todo.v[i];
        todo.v[i] = todo.v[todo.n - 1 - i];
        todo.v[todo.n - 1 - i] = t;
    }
    while (todo.n > 0 && r == 0) {
        char *name = todo.v[--todo.n];
        struct stat st;
        int fd;

        todo.v[todo.n] = NULL;
        if (strcmp(name, "..") == 0) {
            if (depth == 0) {
                r = -EXDEV; /* above dirfd */
            } else {
                close(cur);
                cur = stack[--depth];
            }
        } else if (strcmp(name, ".") != 0) {
            fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
            } else if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
                struct strv parts = {0};
                if ((resolve & RESOLVE_NO_SYMLINKS) || ++links > BENEATH_MAX_LINKS)
                    r = -ELOOP;
                else if (n < 0)
                    r = -errno;
                else if ((target[n] = '\0', target[0] == '/'))
                    r = -EXDEV; /* an absolute link leaves dirfd */
                path_split(target, &parts);
                for (size_t i = parts.n; r == 0 && i-- > 0;) {
                    strv_push_owned(&todo, parts.v[i]);
                    parts.v[i] = NULL;
                }
                strv_free(&parts);
            } else if (todo.n > 0 && !S_ISDIR(st.st_mode)) {
                r = -ENOTDIR;
            } else if (depth == BENEATH_MAX_DEPTH) {
                r = -ENAMETOOLONG;
            } else {
                stack[depth++] = cur;
                cur = fd;
                fd = -1;
            }
            if (fd >= 0)
                close(fd);
        }
        free(name);
    }
    if (r == 0 && (flags & O_DIRECTORY)) {
        struct stat st;
        if (fstat(cur, &st) < 0 || !S_ISDIR(st.st_mode))
            r = -ENOTDIR;
    }
    strv_free(&todo);
    while (depth > 0)
        close(stack[--depth]);
    free(stack);
    if (r < 0) {
        close(cur);
        return r;
    }
    return cur;
}

int lx_openat2(int dirfd, const char *path, int flags, uint64_t resolve)
{
    static int no_openat2 = -1;
    struct open_how how;
    long fd;

    /* BOB_NO_OPENAT2=1 takes the fallback, so that tests cover it too. */
    if (no_openat2 < 0)
        no_openat2 = getenv("BOB_NO_OPENAT2") != NULL;
    if (!no_openat2) {
        memset(&how, 0, sizeof(how));
        how.flags = (uint64_t)(flags | O_CLOEXEC);
        how.resolve = resolve;
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS)
            return fd < 0 ? -errno : (int)fd;
        no_openat2 = 1;
    }
    return beneath_by_hand(dirfd, path, flags, resolve);
}

char *lx_join(const struct strv *comps, size_t from, size_t to)
{
    struct buf b = {0};

    if (from >= to)
        return xstrdup(".");
    for (size_t i = from; i < to; i++) {
        if (i > from)
            buf_adds(&b, "/");
        buf_adds(&b, comps->v[i]);
    }
    return b.p;
}

char *lx_host(const struct lx_root *r, const char *guest)
{
    struct strv c = {0};
    char *rel, *host;

    path_split(guest, &c);
    if (c.n == 0) {
        strv_free(&c);
        return xstrdup(r->path);
    }
    rel = lx_join(&c, 0, c.n);
    host = xasprintf("%s/%s", r->path, rel);
    free(rel);
    strv_free(&c);
    return host;
}

char *lx_fd_path(int fd)
{
    char link[64], target[PATH_MAX + 1];
    ssize_t len;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    len = readlink(link, target, sizeof(target));
    if (len <= 0 || (size_t)len >= sizeof(target))
        return NULL;
    return xstrndup(target, (size_t)len);
}

char *lx_canonical(const char *path)
{
    char *p = realpath(path, NULL);
    size_t len;

    if (p)
        return p;
    len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    return xstrndup(path, len);
}

int lx_mnt_id(int fd, uint64_t *id)
{
    struct statx stx;

    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
        return -errno;
    if (!(stx.stx_mask & STATX_MNT_ID))
        return -ENOSYS;
    *id = stx.stx_mnt_id;
    return 0;
}

int plat_is_mount_root(int dirfd, const char *name)
{
    struct statx stx;

    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &stx) < 0)
        return -errno;
    if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return -ENOTSUP;
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

int lx_root_open(struct lx_root *r, const char *root, struct err *e)
{
    size_t len = strlen(root);
    int rc;

    r->fd = -1;
    r->path = r->canon = NULL;
    while (len > 1 && root[len - 1] == '/')
        len--;
    if (len == 0 || root[0] != '/')
        return lx_err(e, EINVAL, "sandbox root %s is not an absolute path", root);
    if (len == 1)
        return lx_err(e, EINVAL, "sandbox root must not be /");
    r->path = xstrndup(root, len);
    r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (r->fd < 0) {
        rc = err_sys(e, errno, "cannot open sandbox %s", r->path);
        lx_root_close(r);
        return rc;
    }
    r->canon = lx_fd_path(r->fd);
    if (!r->canon || r->canon[0] != '/' || strcmp(r->canon, "/") == 0) {
        rc = lx_err(e, EINVAL, "cannot find the canonical path of sandbox %s", r->path);
        lx_root_close(r);
        return rc;
    }
    return 0;
}

void lx_root_close(struct lx_root *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->path);
    free(r->canon);
    r->path = r->canon = NULL;
}

/* Turns a failed lookup into the message: escapes get the message of their own. */
static int lookup_err(struct lx_root *r, const char *guest, int rc, struct err *e)
{
    if (rc == -EXDEV)
        return lx_err(e, EXDEV, "Path escapes sandbox: %s resolves outside %s", guest, r->path);
    return err_sys(e, -rc, "cannot resolve %s in %s", guest, r->path);
}

int lx_lookup(struct lx_root *r, const struct strv *comps, const char *guest, int *fdp,
              size_t *nexist, struct err *e)
{
    char *p = lx_join(comps, 0, comps->n);
    int fd = lx_openat2(r->fd, p, O_PATH, LX_BENEATH), best;
    size_t k;

    free(p);
    if (fd >= 0) {
        *fdp = fd;
        *nexist = comps->n;
        return 0;
    }
    if (fd != -ENOENT)
        return lookup_err(r, guest, fd, e);
    /* Something is missing: find the deepest prefix that exists. */
    best = lx_openat2(r->fd, ".", O_PATH, LX_BENEATH);
    if (best < 0)
        return lookup_err(r, guest, best, e);
    for (k = 1; k < comps->n; k++) {
        p = lx_join(comps, 0, k);
        fd = lx_openat2(r->fd, p, O_PATH, LX_BENEATH);
        free(p);
        if (fd == -ENOENT)
            break;
        if (fd < 0) {
            close(best);
            return lookup_err(r, guest, fd, e);
        }
        close(best);
        best = fd;
    }
    *fdp = best;
    *nexist = k - 1;
    return 0;
}

/* True when any of comps[from, n) is "..": a missing directory cannot be walked up from. */
static bool tail_has_dotdot(const struct strv *c, size_t from)
{
    for (size_t i = from; i < c->n; i++)
        if (strcmp(c->v[i], "..") == 0)
            return true;
    return false;
}

/* Makes the directory name in dirfd, mode 0755 whatever the umask; returns its fd. */
static int make_dir(int dirfd, const char *name, const char *host, struct err *e)
{
    int fd;
    bool made = mkdirat(dirfd, name, 0755) == 0;

    if (!made && errno != EEXIST)
        return err_sys(e, errno, "cannot create directory %s", host);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, errno, "cannot create directory %s", host);
    if (made && fchmod(fd, 0755) < 0) {
        int rc = err_sys(e, errno, "cannot set the mode of %s", host);
        close(fd);
        return rc;
    }
    return fd;
}

int lx_parent(struct lx_root *r, const char *guest, bool create, int *pfd, char **name,
              struct err *e)
{
    struct strv c = {0}, pc = {0};
    size_t nexist;
    int fd = -1, rc;
    struct stat st;

    *pfd = -1;
    *name = NULL;
    path_split(guest, &c);
    if (c.n == 0 || strcmp(c.v[c.n - 1], "..") == 0) {
        rc = lx_err(e, EINVAL, "invalid path %s in sandbox %s", guest, r->path);
        goto out;
    }
    for (size_t i = 0; i + 1 < c.n; i++)
        strv_push(&pc, c.v[i]);
    rc = lx_lookup(r, &pc, guest, &fd, &nexist, e);
    if (rc < 0)
        goto out;
    if (nexist < pc.n) {
        if (tail_has_dotdot(&pc, nexist)) {
            rc = lx_err(e, EINVAL, "cannot resolve %s in %s: '..' after a missing directory", guest,
                        r->path);
            goto out;
        }
        if (!create) {
            rc = lx_err(e, ENOENT, "%s: No such file or directory", guest);
            goto out;
        }
        for (size_t i = nexist; i < pc.n; i++) {
            char *rel = lx_join(&pc, 0, i + 1);
            char *host = xasprintf("%s/%s", r->path, rel);
            int nfd = make_dir(fd, pc.v[i], host, e);
            free(rel);
            free(host);
            if (nfd < 0) {
                rc = nfd;
                goto out;
            }
            close(fd);
            fd = nfd;
        }
    }
    if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
        rc = lx_err(e, ENOTDIR, "cannot resolve %s in %s: a parent is not a directory", guest,
                    r->path);
        goto out;
    }
    *pfd = fd;
    fd = -1;
    *name = xstrdup(c.v[c.n - 1]);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    strv_free(&c);
    strv_free(&pc);
    return rc;
}

int plat_resolve(const char *root, const char *guest, char **host, struct err *e)
{
    struct lx_root r;
    struct strv c = {0};
    struct buf b = {0};
    size_t nexist;
    char *abs = NULL;
    int fd = -1, rc;

    *host = NULL;
    rc = lx_root_open(&r, root, e);
    if (rc < 0)
        return rc;
    path_split(guest, &c);
    rc = lx_lookup(&r, &c, guest, &fd, &nexist, e);
    if (rc < 0)
        goto out;
    if (tail_has_dotdot(&c, nexist)) {
        rc = lx_err(e, EINVAL, "cannot resolve %s in %s: '..' after a missing directory", guest,
                    r.path);
        goto out;
    }
    abs = lx_fd_path(fd);
    if (!abs || !path_covers(r.canon, abs)) {
        rc = lx_err(e, EXDEV, "Path escapes sandbox: %s resolves outside %s", guest, r.path);
        goto out;
    }
    buf_adds(&b, r.path);
    buf_adds(&b, abs + strlen(r.canon));
    for (size_t i = nexist; i < c.n; i++) {
        buf_adds(&b, "/");
        buf_adds(&b, c.v[i]);
    }
    *host = b.p;
    b.p = NULL;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(abs);
    buf_free(&b);
    strv_free(&c);
    lx_root_close(&r);
    return rc;
}

#endif /* __linux__ */
