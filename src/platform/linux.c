/*
 * Linux platform: lookups beneath a sandbox root, the mount table, process
 * discovery, symlinks and pruning. Mounts are in linux_mount.c, removal in
 * linux_remove.c, copying in linux_copy.c.
 *
 * Every lookup inside a sandbox is made with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) relative to an fd of the sandbox root, so that `..`
 * or a symlink (also one a build made after the check) can never lead
 * outside it: the kernel refuses the escape during the walk itself.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

int plat_init(struct err *e)
{
    return 0;
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
    lx_split(path, &todo);
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
                lx_split(target, &parts);
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

void lx_split(const char *guest, struct strv *comps)
{
    const char *p = guest;

    while (*p) {
        const char *q;
        while (*p == '/')
            p++;
        q = p;
        while (*q && *q != '/')
            q++;
        if (q > p && !(q - p == 1 && *p == '.'))
            strv_push_owned(comps, xstrndup(p, (size_t)(q - p)));
        p = q;
    }
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

    lx_split(guest, &c);
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

bool lx_path_under(const char *path, const char *base)
{
    size_t n = strlen(base);

    if (n == 1 && base[0] == '/')
        return path[0] == '/';
    return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
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
    lx_split(guest, &c);
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
    lx_split(guest, &c);
    rc = lx_lookup(&r, &c, guest, &fd, &nexist, e);
    if (rc < 0)
        goto out;
    if (tail_has_dotdot(&c, nexist)) {
        rc = lx_err(e, EINVAL, "cannot resolve %s in %s: '..' after a missing directory", guest,
                    r.path);
        goto out;
    }
    abs = lx_fd_path(fd);
    if (!abs || !lx_path_under(abs, r.canon)) {
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

/* ---- the mount table ---- */

void lx_unescape(char *s)
{
    char *w = s;

    for (char *p = s; *p;) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *w++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
            p += 4;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
}

/* Parses one mountinfo line into m; false when it is malformed. */
static bool parse_mountinfo_line(char *line, struct lx_mount *m)
{
    char *f[64];
    size_t nf = 0, dash = 0;
    struct buf opt = {0};

    for (char *p = line; *p && nf < 64;) {
        f[nf++] = p;
        while (*p && *p != ' ')
            p++;
        if (*p)
            *p++ = '\0';
    }
    for (size_t i = 6; i < nf; i++)
        if (strcmp(f[i], "-") == 0) {
            dash = i;
            break;
        }
    if (nf < 7 || dash == 0 || dash + 1 >= nf)
        return false;
    m->id = atoi(f[0]);
    m->parent = atoi(f[1]);
    lx_unescape(f[4]);
    m->path = xstrdup(f[4]);
    m->fstype = xstrdup(f[dash + 1]);
    for (size_t i = 6; i < dash; i++) {
        if (i > 6)
            buf_adds(&opt, " ");
        buf_adds(&opt, f[i]);
    }
    m->optional = opt.p ? opt.p : xstrdup("");
    return true;
}

int lx_mountinfo(struct lx_mount **vp, size_t *np, struct err *e)
{
    struct buf b = {0};
    struct lx_mount *v = NULL;
    size_t n = 0, cap = 0;
    char chunk[65536];
    ssize_t len;
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

    *vp = NULL;
    *np = 0;
    if (fd < 0)
        return err_sys(e, errno, "cannot read /proc/self/mountinfo");
    while ((len = read(fd, chunk, sizeof(chunk))) != 0) {
        if (len < 0) {
            int rc;
            if (errno == EINTR)
                continue;
            rc = err_sys(e, errno, "cannot read /proc/self/mountinfo");
            close(fd);
            buf_free(&b);
            return rc;
        }
        buf_add(&b, chunk, (size_t)len);
    }
    close(fd);
    for (char *line = b.p; line && *line;) {
        char *nl = strchr(line, '\n');
        struct lx_mount m;
        if (nl)
            *nl = '\0';
        if (parse_mountinfo_line(line, &m)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                v = xrealloc(v, cap * sizeof(*v));
            }
            v[n++] = m;
        }
        line = nl ? nl + 1 : NULL;
    }
    buf_free(&b);
    *vp = v;
    *np = n;
    return 0;
}

int plat_isolate_basedir(const char *basedir, struct err *e)
{
    struct lx_mount *v = NULL, *holder = NULL;
    size_t n = 0;
    char *canon = realpath(basedir, NULL);
    int rc;

    if (!canon)
        return err_sys(e, errno, "cannot resolve %s", basedir);
    rc = lx_mountinfo(&v, &n, e);
    if (rc < 0)
        goto out;
    /* The mount holding basedir: the longest mount point above it, the last
     * one mounted when several are stacked there. */
    for (size_t i = 0; i < n; i++)
        if (lx_path_under(canon, v[i].path) &&
            (!holder || strlen(v[i].path) >= strlen(holder->path)))
            holder = &v[i];
    if (!holder || !strstr(holder->optional, "shared:"))
        goto out; /* nothing mounted below can propagate out */
    if (strcmp(holder->path, canon) != 0 && mount(canon, canon, NULL, MS_BIND, NULL) != 0) {
        rc = err_sys(e, errno, "cannot bind %s onto itself", canon);
        goto out;
    }
    if (mount(NULL, canon, NULL, MS_PRIVATE, NULL) != 0) {
        rc = err_sys(e, errno, "cannot make %s private", canon);
        if (strcmp(holder->path, canon) != 0)
            umount2(canon, UMOUNT_NOFOLLOW);
    }
out:
    lx_mountinfo_free(v, n);
    free(canon);
    return rc;
}

void lx_mountinfo_free(struct lx_mount *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].fstype);
        free(v[i].optional);
    }
    free(v);
}

struct order {
    size_t idx, depth;
};

/* Deeper in the mount tree first; among equals, the later mounted first. */
static int cmp_order(const void *a, const void *b)
{
    const struct order *x = a, *y = b;

    if (x->depth != y->depth)
        return x->depth > y->depth ? -1 : 1;
    return x->idx > y->idx ? -1 : x->idx < y->idx ? 1 : 0;
}

void lx_mounts_select(const struct lx_mount *v, size_t n, const char *under, size_t **idx,
                      size_t *cnt)
{
    struct order *o = xcalloc(n, sizeof(*o));
    bool *sel = xcalloc(n, sizeof(*sel));
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        sel[i] = lx_path_under(v[i].path, under);
    /*
     * The depth of a mount is counted in the mount tree (its chain of
     * parents among the selected mounts), not in path components: a child
     * is always unmounted before its parent, and a mount stacked on top of
     * another (whose parent it is) before the one it hides.
     */
    for (size_t i = 0; i < n; i++) {
        size_t depth = 0, cur = i;
        if (!sel[i])
            continue;
        for (size_t steps = 0; steps < n; steps++) {
            size_t j;
            for (j = 0; j < n; j++)
                if (sel[j] && v[j].id == v[cur].parent && j != cur)
                    break;
            if (j == n)
                break;
            depth++;
            cur = j;
        }
        o[k].idx = i;
        o[k].depth = depth;
        k++;
    }
    qsort(o, k, sizeof(*o), cmp_order);
    *idx = xcalloc(k, sizeof(**idx));
    for (size_t i = 0; i < k; i++)
        (*idx)[i] = o[i].idx;
    *cnt = k;
    free(o);
    free(sel);
}

/* The canonical form of a host path: realpath when it exists, else without trailing slashes. */
static char *canonical(const char *path)
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

int plat_mounts_under(const char *under, struct plat_mount_entry **vp, size_t *np, struct err *e)
{
    struct lx_mount *m;
    size_t nm, *idx, cnt;
    char *canon;
    int rc;

    *vp = NULL;
    *np = 0;
    rc = lx_mountinfo(&m, &nm, e);
    if (rc < 0)
        return rc;
    canon = canonical(under);
    lx_mounts_select(m, nm, canon, &idx, &cnt);
    *vp = xcalloc(cnt, sizeof(**vp));
    for (size_t i = 0; i < cnt; i++) {
        struct lx_mount *s = &m[idx[i]];
        (*vp)[i].id = s->id;
        (*vp)[i].parent = s->parent;
        (*vp)[i].path = s->path;
        (*vp)[i].fstype = s->fstype;
        s->path = s->fstype = NULL;
    }
    *np = cnt;
    free(idx);
    free(canon);
    lx_mountinfo_free(m, nm);
    return 0;
}

void plat_mounts_free(struct plat_mount_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].fstype);
    }
    free(v);
}

/* ---- processes ---- */

/* The pid of a /proc entry name, or 0 when it is not a process. */
static pid_t proc_pid(const char *name)
{
    unsigned long v;

    if (!str_to_uint(name, &v) || v == 0 || v > INT_MAX)
        return 0;
    return (pid_t)v;
}

/* Reads the symlink procfd/<pid>/<what> into out; drops a " (deleted)" suffix. */
static bool proc_link(int procfd, const char *pid, const char *what, char *out, size_t n)
{
    char rel[NAME_MAX + 16];
    ssize_t len;
    static const char deleted[] = " (deleted)";

    snprintf(rel, sizeof(rel), "%s/%s", pid, what);
    len = readlinkat(procfd, rel, out, n - 1);
    if (len <= 0)
        return false;
    out[len] = '\0';
    if ((size_t)len > sizeof(deleted) - 1 &&
        strcmp(out + len - (sizeof(deleted) - 1), deleted) == 0)
        out[len - (sizeof(deleted) - 1)] = '\0';
    return true;
}

/* Reads the small file procfd/<pid>/<what> (or an absolute path) into buf, NUL-terminated. */
static bool proc_read(int procfd, const char *pid, const char *what, char *buf, size_t n)
{
    char rel[NAME_MAX + 32];
    ssize_t len;
    int fd;

    snprintf(rel, sizeof(rel), "%s%s%s", pid, what[0] ? "/" : "", what);
    fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    len = read(fd, buf, n - 1);
    close(fd);
    if (len <= 0)
        return false;
    buf[len] = '\0';
    return true;
}

/* The start time of pid in clock ticks since boot (field 22 of /proc/PID/stat). */
static bool proc_start(int procfd, const char *pid, unsigned long long *ticks)
{
    char buf[1024], *p;

    if (!proc_read(procfd, pid, "stat", buf, sizeof(buf)))
        return false;
    /* "pid (comm) state ...": comm may hold spaces and ')', the last ')' ends it. */
    p = strrchr(buf, ')');
    if (!p)
        return false;
    /* Each space after ')' starts the next field: 3 (state) is after the
     * first, 22 (starttime) after the 20th. */
    for (int field = 3; field <= 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return false;
    }
    *ticks = strtoull(p + 1, NULL, 10);
    return true;
}

int plat_since_mark(pid_t first, struct plat_since *s)
{
    char name[32];

    memset(s, 0, sizeof(*s));
    s->first = first;
    s->at_ms = now_ms();
    snprintf(name, sizeof(name), "/proc/%d", (int)first);
    return proc_start(AT_FDCWD, name, &s->start) ? 0 : -1;
}

/* True when pid is a process (thread group leader), not another thread's id. */
static bool proc_is_leader(int procfd, const char *pid_name, pid_t pid)
{
    char buf[1024], *p;

    if (!proc_read(procfd, pid_name, "status", buf, sizeof(buf)))
        return false;
    p = strstr(buf, "\nTgid:");
    return p && strtol(p + 6, NULL, 10) == (long)pid;
}

/* The last pid handed out in our pid namespace, or 0. */
static pid_t last_pid(void)
{
    char buf[32];
    unsigned long v;

    if (!proc_read(AT_FDCWD, "/proc/sys/kernel/ns_last_pid", "", buf, sizeof(buf)))
        return 0;
    buf[strcspn(buf, "\n")] = '\0';
    return str_to_uint(buf, &v) && v <= INT_MAX ? (pid_t)v : 0;
}

/* Appends pid to the malloc'd list. */
static void pid_push(pid_t **pids, size_t *n, size_t *cap, pid_t pid)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *pids = xrealloc(*pids, *cap * sizeof(**pids));
    }
    (*pids)[(*n)++] = pid;
}

/* True when pid (in the sandbox) started at or after s: later tick, or same tick and not older. */
static bool started_since(int procfd, const char *name, pid_t pid, const struct plat_since *s)
{
    unsigned long long t;

    if (!proc_start(procfd, name, &t))
        return false; /* gone */
    return t > s->start || (t == s->start && pid >= s->first);
}

/* The processes at or below root; with s, only those started since s. */
static int find_pids(const char *root, const struct plat_since *s, pid_t **pids, size_t *n,
                     struct err *e)
{
    char *canon, target[PATH_MAX + 1], name[32];
    pid_t self = getpid(), last;
    size_t cap = 0;
    struct dirent *de;
    DIR *d;

    *pids = NULL;
    *n = 0;
    canon = realpath(root, NULL);
    if (!canon) {
        if (errno == ENOENT)
            return 0;
        return err_sys(e, errno, "cannot find processes in %s", root);
    }
    if (strcmp(canon, "/") == 0) {
        free(canon);
        return lx_err(e, EINVAL, "cannot find processes in %s: it is the host's root", root);
    }
    /*
     * The quick way, for a command that ended within PLAT_SINCE_QUICK_MS:
     * every process it started has a pid from first to the last pid handed
     * out, since pids cannot have gone round pid_max in so short a time.
     * The range can also hold older processes (pids still in use are
     * skipped over, not reused) and threads (/proc/TID exists for every
     * thread, and kill(TID) would hit its whole process): the start time
     * and the thread group id sort those out.
     */
    last = s && now_ms() - s->at_ms < PLAT_SINCE_QUICK_MS ? last_pid() : 0;
    if (s && last >= s->first && last - s->first < PLAT_SINCE_QUICK_PIDS) {
        for (pid_t pid = s->first; pid <= last; pid++) {
            snprintf(name, sizeof(name), "/proc/%d", (int)pid);
            if (pid != self && proc_link(AT_FDCWD, name, "root", target, sizeof(target)) &&
                lx_path_under(target, canon) && started_since(AT_FDCWD, name, pid, s) &&
                proc_is_leader(AT_FDCWD, name, pid))
                pid_push(pids, n, &cap, pid);
        }
        free(canon);
        return 0;
    }
    d = opendir("/proc");
    if (!d) {
        int rc = err_sys(e, errno, "cannot read /proc");
        free(canon);
        return rc;
    }
    while ((de = readdir(d))) {
        pid_t pid = proc_pid(de->d_name);
        if (pid == 0 || pid == self ||
            !proc_link(dirfd(d), de->d_name, "root", target, sizeof(target)) ||
            !lx_path_under(target, canon) || (s && !started_since(dirfd(d), de->d_name, pid, s)))
            continue;
        pid_push(pids, n, &cap, pid);
    }
    closedir(d);
    free(canon);
    return 0;
}

int plat_find_pids(const char *root, pid_t **pids, size_t *n, struct err *e)
{
    return find_pids(root, NULL, pids, n, e);
}

int plat_find_pids_since(const char *root, const struct plat_since *s, pid_t **pids, size_t *n,
                         struct err *e)
{
    return find_pids(root, s, pids, n, e);
}

/* True when a mapping line of /proc/PID/maps names a file at or below canon. */
static bool maps_line_under(const char *line, const char *canon)
{
    const char *p = line;

    /* address perms offset dev inode, then the path after spaces */
    for (int field = 0; field < 5; field++) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    if (*p != '/')
        return false;
    return lx_path_under(p, canon);
}

/* True when process pid holds canon: root, cwd, an open file or a mapping. */
static bool proc_holds(int procfd, const char *pid, const char *canon)
{
    char target[PATH_MAX + 1], rel[NAME_MAX + 16];
    bool found = false;
    struct dirent *de;
    DIR *d;
    FILE *f;
    int fd;

    if ((proc_link(procfd, pid, "root", target, sizeof(target)) && lx_path_under(target, canon)) ||
        (proc_link(procfd, pid, "cwd", target, sizeof(target)) && lx_path_under(target, canon)))
        return true;
    snprintf(rel, sizeof(rel), "%s/fd", pid);
    fd = openat(procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && (d = fdopendir(fd))) {
        while (!found && (de = readdir(d))) {
            ssize_t len;
            if (de->d_name[0] == '.')
                continue;
            len = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
            if (len <= 0)
                continue;
            target[len] = '\0';
            found = lx_path_under(target, canon);
        }
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    if (found)
        return true;
    snprintf(rel, sizeof(rel), "%s/maps", pid);
    fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (f = fdopen(fd, "r"))) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while (!found && (len = getline(&line, &cap, f)) > 0) {
            if (line[len - 1] == '\n')
                line[len - 1] = '\0';
            found = maps_line_under(line, canon);
        }
        free(line);
        fclose(f);
    } else if (fd >= 0) {
        close(fd);
    }
    return found;
}

/* The command name of a process ("?" when it is gone). */
static void proc_comm(int procfd, const char *pid, char *out, size_t n)
{
    char rel[NAME_MAX + 16];
    ssize_t len;
    int fd;

    snprintf(out, n, "?");
    snprintf(rel, sizeof(rel), "%s/comm", pid);
    fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    len = read(fd, out, n - 1);
    close(fd);
    if (len <= 0) {
        snprintf(out, n, "?");
        return;
    }
    out[len] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

void plat_describe_holders(const char *path, char *out, size_t n)
{
    struct strv who = {0};
    struct dirent *de;
    size_t pos = 0;
    char *canon;
    DIR *d;

    if (n == 0)
        return;
    out[0] = '\0';
    d = opendir("/proc");
    if (!d)
        return;
    canon = canonical(path);
    while ((de = readdir(d))) {
        char comm[64];
        if (proc_pid(de->d_name) == 0 || !proc_holds(dirfd(d), de->d_name, canon))
            continue;
        proc_comm(dirfd(d), de->d_name, comm, sizeof(comm));
        strv_push_owned(&who, xasprintf("pid %s %s", de->d_name, comm));
    }
    closedir(d);
    free(canon);
    /* Whole entries only; ", ..." (or "...") says that some did not fit. */
    for (size_t i = 0; i < who.n; i++) {
        const char *sep = i ? ", " : "";
        size_t need = strlen(sep) + strlen(who.v[i]);
        size_t reserve = i + 1 < who.n ? 5 : 0;
        if (pos + need + reserve < n) {
            pos += (size_t)snprintf(out + pos, n - pos, "%s%s", sep, who.v[i]);
            continue;
        }
        if (pos + 5 < n)
            snprintf(out + pos, n - pos, "%s...", sep);
        break;
    }
    strv_free(&who);
}

void plat_kill_pids(const pid_t *pids, size_t n, int sig)
{
    /* pid 0, 1 and negative values would signal groups or init: never. */
    for (size_t i = 0; i < n; i++)
        if (pids[i] > 1)
            (void)kill(pids[i], sig);
}

/* ---- symlinks and pruning ---- */

int plat_symlink(const char *root, const char *target, const char *dest, struct err *e)
{
    struct lx_root r;
    char *name = NULL;
    int pfd = -1, rc;

    rc = lx_root_open(&r, root, e);
    if (rc < 0)
        return rc;
    rc = lx_parent(&r, dest, true, &pfd, &name, e);
    if (rc == 0 && symlinkat(target, pfd, name) < 0) {
        char *host = lx_host(&r, dest);
        rc = err_sys(e, errno, "cannot create symlink %s -> %s", host, target);
        free(host);
    }
    if (pfd >= 0)
        close(pfd);
    free(name);
    lx_root_close(&r);
    return rc;
}

int plat_remove_symlink(const char *root, const char *dest, struct err *e)
{
    struct lx_root r;
    struct stat st;
    char *name = NULL;
    int pfd = -1, rc;

    rc = lx_root_open(&r, root, e);
    if (rc == -ENOENT) {
        err_clear(e);
        return 0;
    }
    if (rc < 0)
        return rc;
    rc = lx_parent(&r, dest, false, &pfd, &name, e);
    if (rc == -ENOENT) {
        err_clear(e);
        rc = 0;
    } else if (rc == 0 && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISLNK(st.st_mode) && unlinkat(pfd, name, 0) < 0 && errno != ENOENT) {
        char *host = lx_host(&r, dest);
        rc = err_sys(e, errno, "cannot remove symlink %s", host);
        free(host);
    }
    if (pfd >= 0)
        close(pfd);
    free(name);
    lx_root_close(&r);
    return rc;
}

void plat_prune_empty(const char *root, const char *guest)
{
    struct lx_root r;
    struct strv c = {0};
    struct err e;

    if (lx_root_open(&r, root, &e) < 0)
        return;
    lx_split(guest, &c);
    for (size_t k = c.n; k >= 1; k--) {
        char *sub = lx_join(&c, 0, k), *name = NULL;
        int pfd, rc = lx_parent(&r, sub, false, &pfd, &name, &e);
        free(sub);
        if (rc == -ENOENT) {
            continue;
        }
        if (rc < 0)
            break;
        /* rmdir never removes a symlink (ENOTDIR) nor a mount point (EBUSY). */
        rc = unlinkat(pfd, name, AT_REMOVEDIR);
        if (rc < 0)
            rc = -errno;
        close(pfd);
        free(name);
        if (rc < 0 && rc != -ENOENT)
            break;
    }
    strv_free(&c);
    lx_root_close(&r);
}

#endif /* __linux__ */
