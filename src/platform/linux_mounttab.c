/*
 * The Linux mount table: /proc/self/mountinfo read and parsed (paths
 * unescaped), the mounts below a path put in the order they can be
 * unmounted, and the isolation of the sandboxes' base directory.
 *
 * The table is the only record of what is mounted where: unmounting and
 * removal are driven by it, never by the configuration, so that whatever a
 * crashed or older bob left mounted is still found. Reading it costs the
 * kernel time in proportion to every mount of every sandbox, so callers
 * read it once per operation (linux_mount.c, linux_remove.c).
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

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

/*
 * The mount basedir's path leads to now: its mount point (*path, to free)
 * and whether it is shared. Found by its mount id, whatever is stacked or
 * hidden; without ids (before Linux 5.8), the longest mount point above
 * it, the last mounted when several are stacked there. 1 when found, 0
 * when not, or a negative errno.
 */
static int isolate_holder(const char *canon, char **path, bool *shared, struct err *e)
{
    struct lx_mount *v = NULL, *holder = NULL;
    size_t n = 0;
    uint64_t id = 0;
    int fd = open(canon, O_PATH | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return err_sys(e, errno, "cannot open %s", canon);
    if (lx_mnt_id(fd, &id) < 0)
        id = 0;
    close(fd);
    rc = lx_mountinfo(&v, &n, e);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (id ? (uint64_t)v[i].id == id
               : path_covers(v[i].path, canon) &&
                     (!holder || strlen(v[i].path) >= strlen(holder->path)))
            holder = &v[i];
    }
    if (holder) {
        *path = xstrdup(holder->path);
        *shared = strstr(holder->optional, "shared:") != NULL;
    }
    lx_mountinfo_free(v, n);
    return holder ? 1 : 0;
}

int plat_isolate_basedir(const char *basedir, struct err *e)
{
    char *canon = realpath(basedir, NULL), *path = NULL;
    bool shared = false;
    int lockfd = -1, rc;

    if (!canon)
        return err_sys(e, errno, "cannot resolve %s", basedir);
    rc = isolate_holder(canon, &path, &shared, e);
    if (rc <= 0 || !shared)
        goto out; /* nothing mounted below can propagate out */
    /*
     * Shared: looked at again under a lock of bob's own (two bobs would
     * each bind it onto itself), never one on basedir itself, which anyone
     * may lock, and which may be a build's logdir. Held for a few system
     * calls; without it (no /run/bob of root's), unlocked as before.
     */
    lockfd = plat_name_lock("isolate", canon, true);
    free(path);
    path = NULL;
    rc = isolate_holder(canon, &path, &shared, e);
    if (rc <= 0 || !shared)
        goto out;
    rc = 0;
    if (strcmp(path, canon) != 0 && mount(canon, canon, NULL, MS_BIND, NULL) != 0) {
        rc = err_sys(e, errno, "cannot bind %s onto itself", canon);
        goto out;
    }
    if (mount("none", canon, "none", MS_PRIVATE, NULL) != 0) {
        rc = err_sys(e, errno, "cannot make %s private", canon);
        if (strcmp(path, canon) != 0)
            umount2(canon, UMOUNT_NOFOLLOW);
    }
out:
    if (lockfd >= 0)
        close(lockfd);
    free(path);
    free(canon);
    return rc < 0 ? rc : 0;
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
        sel[i] = path_covers(under, v[i].path);
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
    canon = lx_canonical(under);
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

#endif /* __linux__ */

int plat_own_mount_ns(struct err *e)
{
    if (unshare(CLONE_NEWNS) != 0)
        return err_sys(e, errno, "cannot make a mount namespace of our own");
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        return err_sys(e, errno, "cannot make the mounts of our namespace private");
    return 0;
}
