/*
 * Linux mounts. Every mount is made on an O_PATH fd of its mount point,
 * resolved beneath the sandbox root (openat2 RESOLVE_BENEATH, or its
 * fallback) so that a symlink made by a build never leads out of it, by one
 * of two backends behind mount_make():
 *
 * - The new mount API (the default). The mount is built detached
 *   (fsopen/fsconfig/fsmount, or open_tree(OPEN_TREE_CLONE) for a bind),
 *   filled (fs = "dev") and given its attributes (read-only, nosuid, ...)
 *   and private propagation while still invisible, then attached with
 *   move_mount onto the mount point's fd and made private again. If any
 *   step fails before the attach, closing the detached mount's fd
 *   dissolves it; a bad option fails before the mount point is created.
 *
 * - mount(2), once the new API answered ENOSYS (valgrind 3.19 does not
 *   know it; mount_setattr needs Linux 5.12, while the statx mount ids used
 *   here and by removal need 5.8 anyway), or when BOB_NO_NEWMOUNT is set
 *   (read once), so that the tests cover it; tests/e2e/t_valgrind.sh runs
 *   it under valgrind. The target is /proc/self/fd/N of the mount point's
 *   fd, which mount(2) resolves to exactly the directory the fd refers to.
 *   mount(2) gives no handle of the new mount: its path is opened again
 *   through the parent directory, which leads to the top of the stack of
 *   mounts there, checked to be a mount other than the one the point was
 *   on and to be at that very path (no read of the whole mount table, which
 *   made N mounts cost O(N^2)). It is then made private (MS_PRIVATE),
 *   filled (fs = "dev"), and a bind gets its attributes by
 *   MS_REMOUNT|MS_BIND|MS_RDONLY|... keeping the flags it has from its
 *   source. So, unlike with the new API, a mount is visible for a moment
 *   before it is private, and a read-only bind or a /dev before its
 *   attributes apply. A new filesystem gets its attributes in the mount
 *   call, and its options as one comma-separated string; the kernel's
 *   reason for refusing one only reaches the kernel log, so the error names
 *   the options, and the mount point made for it stays (empty, removed with
 *   the sandbox).
 *
 * In both, a failure after the mount is attached unmounts it again (for a
 * /dev, with its shm and pts): whatever fails, nothing stays mounted.
 *
 * Private propagation means that nothing mounted later inside a sandbox
 * mount propagates anywhere. The attach itself is still propagated by the
 * parent mount: when the sandbox directory sits on a shared mount with
 * peers, each peer gets a copy until the unmount (which removes the copies
 * too). Only a private mount at or above the sandbox root prevents that.
 *
 * fs = "fd" binds /dev/fd as bob does; on Linux that is /proc/self/fd, so
 * the bind shows the fd directory of this process, not the caller's.
 * fs = "dev" provides the per-process /dev/fd link instead.
 *
 * Unmounting is driven by /proc/self/mountinfo and goes through an fd of
 * the mount point's parent (umount2 of /proc/self/fd/N/name with
 * UMOUNT_NOFOLLOW), opened beneath the root without following any symlink,
 * so a build that replaces a directory by a symlink cannot redirect it.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"
#include "util/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Mount options split into mount attributes and filesystem parameters. */
struct mopts {
    uint64_t set, clr;
    struct strv data; /* "key=value" or "flag", for fsconfig */
};

static const struct {
    const char *name;
    uint64_t set, clr;
} flag_opts[] = {
    {"ro", MOUNT_ATTR_RDONLY, 0},
    {"rw", 0, MOUNT_ATTR_RDONLY},
    {"nosuid", MOUNT_ATTR_NOSUID, 0},
    {"suid", 0, MOUNT_ATTR_NOSUID},
    {"nodev", MOUNT_ATTR_NODEV, 0},
    {"dev", 0, MOUNT_ATTR_NODEV},
    {"noexec", MOUNT_ATTR_NOEXEC, 0},
    {"exec", 0, MOUNT_ATTR_NOEXEC},
    {"noatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
    {"relatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"strictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"atime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"nodiratime", MOUNT_ATTR_NODIRATIME, 0},
    {"diratime", 0, MOUNT_ATTR_NODIRATIME},
    {"nosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0},
    {"symfollow", 0, MOUNT_ATTR_NOSYMFOLLOW},
    {"defaults", 0, 0},
    {"bind", 0, 0},
};

/* Splits opts on spaces and commas; later flags override earlier ones. */
static void parse_opts(const char *opts, struct mopts *m)
{
    const char *p = opts ? opts : "";

    memset(m, 0, sizeof(*m));
    while (*p) {
        size_t len = strcspn(p, " ,\t");
        bool flag = false;
        if (len == 0) {
            p++;
            continue;
        }
        for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++) {
            if (strlen(flag_opts[i].name) == len && strncmp(p, flag_opts[i].name, len) == 0) {
                /* A flag undoes an earlier opposite one ("ro,rw" is rw). */
                m->set = (m->set & ~flag_opts[i].clr) | flag_opts[i].set;
                m->clr = (m->clr & ~flag_opts[i].set) | flag_opts[i].clr;
                flag = true;
                break;
            }
        }
        if (!flag)
            strv_push_owned(&m->data, xstrndup(p, len));
        p += len;
    }
}

/* Appends the filesystem's own error log (fsopen fd) to why. */
static void fs_log(int fsfd, char *why, size_t n)
{
    char msg[512];
    ssize_t len;
    size_t pos = strlen(why);

    while ((len = read(fsfd, msg, sizeof(msg) - 1)) > 0) {
        msg[len] = '\0';
        msg[strcspn(msg, "\n")] = '\0';
        /* "e tmpfs: Bad value for 'size'": drop the severity letter. */
        pos += (size_t)snprintf(why + pos, pos < n ? n - pos : 0, " (%s)",
                                len > 2 && msg[1] == ' ' ? msg + 2 : msg);
        if (pos >= n)
            break;
    }
}

/* Creates a detached mount of filesystem type with the given parameters. */
static int fs_create(const char *type, const char *source, const struct strv *data, int *mfd,
                     char *why, size_t whyn)
{
    int fs, rc;

    why[0] = '\0';
    fs = fsopen(type, FSOPEN_CLOEXEC);
    if (fs < 0)
        return -errno;
    if (source && fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
        goto fail;
    for (size_t i = 0; i < data->n; i++) {
        char *eq = strchr(data->v[i], '=');
        if (eq) {
            char *key = xstrndup(data->v[i], (size_t)(eq - data->v[i]));
            rc = fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0);
            free(key);
        } else {
            rc = fsconfig(fs, FSCONFIG_SET_FLAG, data->v[i], NULL, 0);
        }
        if (rc < 0)
            goto fail;
    }
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        goto fail;
    *mfd = fsmount(fs, FSMOUNT_CLOEXEC, 0);
    if (*mfd < 0)
        goto fail;
    close(fs);
    return 0;
fail:
    rc = -errno;
    fs_log(fs, why, whyn);
    close(fs);
    return rc;
}

/* Sets attributes and propagation on a mount fd (detached or attached). */
static int set_attr(int mfd, uint64_t set, uint64_t clr, uint64_t propagation)
{
    struct mount_attr a;

    memset(&a, 0, sizeof(a));
    a.attr_set = set;
    a.attr_clr = clr;
    a.propagation = propagation;
    if (mount_setattr(mfd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
        return -errno;
    return 0;
}

/*
 * Opens (O_PATH) the mount point guest beneath r, creating it when it is
 * missing: a 0755 directory, or an empty file when dir is false.
 */
static int mount_point(struct lx_root *r, const char *guest, bool dir, int *tfd, struct err *e)
{
    struct strv c = {0};
    char *rel, *name = NULL, *host = lx_host(r, guest);
    int fd, pfd = -1, rc = 0;

    path_split(guest, &c);
    rel = lx_join(&c, 0, c.n);
    fd = lx_openat2(r->fd, rel, O_PATH, LX_BENEATH);
    if (fd == -EXDEV) {
        rc = lx_err(e, EXDEV, "Path escapes sandbox: %s resolves outside %s", guest, r->path);
    } else if (fd == -ENOENT) {
        rc = lx_parent(r, guest, true, &pfd, &name, e);
        if (rc == 0 && dir) {
            int nfd;
            if (mkdirat(pfd, name, 0755) < 0)
                rc = err_sys(e, errno, "cannot create mount point %s", host);
            else if ((nfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                rc = err_sys(e, errno, "cannot open mount point %s", host);
            else if (fchmod(nfd, 0755) < 0 || close(nfd) < 0)
                rc = err_sys(e, errno, "cannot set the mode of %s", host);
        } else if (rc == 0) {
            int nfd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (nfd < 0)
                rc = err_sys(e, errno, "cannot create mount point %s", host);
            else if (fchmod(nfd, 0644) < 0 || close(nfd) < 0)
                rc = err_sys(e, errno, "cannot set the mode of %s", host);
        }
        if (rc == 0) {
            fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                rc = err_sys(e, errno, "cannot open mount point %s", host);
        }
    } else if (fd < 0) {
        rc = err_sys(e, -fd, "cannot open mount point %s", host);
    }
    if (pfd >= 0)
        close(pfd);
    free(name);
    free(rel);
    free(host);
    strv_free(&c);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    *tfd = fd;
    return 0;
}

/*
 * Opens (O_PATH) the parent directory of canonical path mp, which is r's
 * root or below it (path_covers), without following any symlink below the
 * root; *name is mp's last component. Returns the fd or a negative errno.
 */
static int canon_parent(struct lx_root *r, const char *mp, const char **name)
{
    char *dir;
    int pfd;

    if (strcmp(mp, r->canon) == 0) {
        /* The sandbox root itself is a mount point: its parent is outside. */
        *name = strrchr(mp, '/') + 1;
        dir = mp == *name - 1 ? xstrdup("/") : xstrndup(mp, (size_t)(*name - 1 - mp));
        pfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
            pfd = -errno;
    } else {
        const char *rel = mp + strlen(r->canon) + 1;
        const char *slash = strrchr(rel, '/');
        *name = slash ? slash + 1 : rel;
        dir = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup(".");
        /* mountinfo paths are canonical: any symlink on the way is new. */
        pfd = lx_openat2(r->fd, dir, O_PATH | O_DIRECTORY, LX_BENEATH | RESOLVE_NO_SYMLINKS);
    }
    free(dir);
    return pfd;
}

/* Unmounts the mount on top of canonical path mp, through an fd of its parent. */
static int umount_one(struct lx_root *r, const char *mp, struct err *e)
{
    char path[PATH_MAX + 64];
    const char *name;
    int pfd, rc = 0;

    if (!path_covers(r->canon, mp))
        return lx_err(e, EINVAL, "cannot unmount %s: it is not in sandbox %s", mp, r->path);
    pfd = canon_parent(r, mp, &name);
    if (pfd < 0)
        return err_sys(e, -pfd, "cannot unmount %s", mp);
    snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", pfd, name);
    if (umount2(path, UMOUNT_NOFOLLOW) < 0) {
        int err = errno;
        if (err == EBUSY) {
            char who[1024];
            plat_describe_holders(mp, who, sizeof(who));
            rc = lx_err(e, EBUSY, "cannot unmount %s: busy (%s)", mp,
                        who[0] ? who : "no process found holding it");
        } else {
            rc = err_sys(e, err, "cannot unmount %s", mp);
        }
    }
    close(pfd);
    return rc;
}

/* True when mount id is still in the mount table. */
static bool still_mounted(int id)
{
    struct lx_mount *v;
    size_t n;
    bool found = false;
    struct err e;

    if (lx_mountinfo(&v, &n, &e) < 0)
        return true;
    for (size_t i = 0; i < n && !found; i++)
        found = v[i].id == id;
    lx_mountinfo_free(v, n);
    return found;
}

int lx_unmount_under(struct lx_root *r, const char *path, bool keep_root, struct err *e)
{
    struct lx_mount *v;
    size_t n, *idx, cnt;
    int rc;

    rc = lx_mountinfo(&v, &n, e);
    if (rc < 0)
        return rc;
    lx_mounts_select(v, n, path, &idx, &cnt);
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        struct lx_mount *m = &v[idx[i]];
        if (keep_root && strcmp(m->path, r->canon) == 0)
            continue;
        rc = umount_one(r, m->path, e);
        /* Gone meanwhile (another destroy, or hidden under a stack): not an error. */
        if ((rc == -EINVAL || rc == -ENOENT) && !still_mounted(m->id)) {
            err_clear(e);
            rc = 0;
        }
    }
    free(idx);
    lx_mountinfo_free(v, n);
    return rc;
}

/* Unmounts the attached mounts ids[] (in that order): the rollback of a failed plat_mount. */
static void unmount_ids(struct lx_root *r, const uint64_t *ids, size_t nids)
{
    struct lx_mount *v;
    size_t n;
    struct err e;

    if (lx_mountinfo(&v, &n, &e) < 0)
        return;
    for (size_t k = 0; k < nids; k++)
        for (size_t i = 0; i < n; i++)
            if ((uint64_t)v[i].id == ids[k]) {
                (void)umount_one(r, v[i].path, &e);
                break;
            }
    lx_mountinfo_free(v, n);
}

/*
 * A mount to make: a bind of a host path, or a new filesystem; its
 * attributes; and for fs = "dev" a function that fills its root before
 * the attributes ("ro") apply.
 */
struct mspec {
    const char *bind;          /* the path a bind clones, or NULL for a new filesystem */
    const char *type, *source; /* the new filesystem's type and source */
    const struct strv *data;   /* its parameters, "key=value" or "flag" */
    uint64_t set, clr;         /* MOUNT_ATTR_* to set and to clear */
    int (*fill)(int rootfd, const char *host, void *arg, struct err *e);
    void *arg;               /* fill's */
    const char *what, *host; /* for messages: the filesystem and the mount point */
    bool stage;              /* mount(2): made and filled beside the point, then moved onto it */
};

/* ---- backend 1: the new mount API ---- */

/*
 * Builds s detached in *mfd: cloned or created, filled, with its
 * attributes and private propagation, all before anyone can see it.
 */
static int newapi_prepare(const struct mspec *s, int *mfd, struct err *e)
{
    char why[512] = "";
    int fd = -1, rc;

    if (s->bind) {
        fd = open_tree(AT_FDCWD, s->bind, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
            return err_sys(e, errno, "cannot mount %s on %s: cannot clone %s", s->what, s->host,
                           s->bind);
    } else {
        rc = fs_create(s->type, s->source, s->data, &fd, why, sizeof(why));
        if (rc < 0)
            return lx_err(e, -rc, "cannot mount %s on %s: %s%s", s->what, s->host, strerror(-rc),
                          why);
    }
    /* Filled first: "ro" applies to the mount, which would refuse mknod. */
    rc = s->fill ? s->fill(fd, s->host, s->arg, e) : 0;
    if (rc == 0 && (rc = set_attr(fd, s->set, s->clr, MS_PRIVATE)) < 0)
        rc = err_sys(e, -rc, "cannot mount %s on %s: cannot set its options", s->what, s->host);
    if (rc < 0) {
        close(fd); /* dissolves the detached mount */
        return rc;
    }
    *mfd = fd;
    return 0;
}

/*
 * Attaches the detached mount mfd onto tfd and makes it private. The
 * propagation is set again after the attach: a mount attached under a
 * shared parent becomes shared itself. On failure it is unmounted again.
 */
static int newapi_attach(struct lx_root *r, int mfd, int tfd, uint64_t *id, const char *what,
                         const char *host, struct err *e)
{
    int rc;

    if (move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return err_sys(e, errno, "cannot mount %s on %s", what, host);
    rc = lx_mnt_id(mfd, id);
    if (rc < 0)
        return err_sys(e, -rc, "cannot find the mount id of %s", host);
    rc = set_attr(mfd, 0, 0, MS_PRIVATE);
    if (rc < 0) {
        unmount_ids(r, id, 1);
        return err_sys(e, -rc, "cannot make the mount on %s private", host);
    }
    return 0;
}

/* ---- backend 2: mount(2) ---- */

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000 /* Linux 5.10; not in glibc 2.36's headers */
#endif

/* The mount attributes as mount(2) and statvfs flags (the atime mode apart). */
static const struct {
    uint64_t attr;
    unsigned long ms, st;
} attr_flags[] = {
    {MOUNT_ATTR_RDONLY, MS_RDONLY, ST_RDONLY},
    {MOUNT_ATTR_NOSUID, MS_NOSUID, ST_NOSUID},
    {MOUNT_ATTR_NODEV, MS_NODEV, ST_NODEV},
    {MOUNT_ATTR_NOEXEC, MS_NOEXEC, ST_NOEXEC},
    {MOUNT_ATTR_NODIRATIME, MS_NODIRATIME, ST_NODIRATIME},
    {MOUNT_ATTR_NOSYMFOLLOW, MS_NOSYMFOLLOW, ST_NOSYMFOLLOW},
};

/* The attributes of a mount whose statvfs flags are st. */
static uint64_t st_attrs(unsigned long st)
{
    uint64_t a = st & ST_NOATIME    ? MOUNT_ATTR_NOATIME
                 : st & ST_RELATIME ? MOUNT_ATTR_RELATIME
                                    : MOUNT_ATTR_STRICTATIME;

    for (size_t i = 0; i < sizeof(attr_flags) / sizeof(attr_flags[0]); i++)
        if (st & attr_flags[i].st)
            a |= attr_flags[i].attr;
    return a;
}

/* The mount(2) flags of attributes, the atime mode always named (relatime by default). */
static unsigned long ms_flags(uint64_t attrs)
{
    uint64_t atime = attrs & MOUNT_ATTR__ATIME;
    unsigned long ms = atime == MOUNT_ATTR_NOATIME       ? MS_NOATIME
                       : atime == MOUNT_ATTR_STRICTATIME ? MS_STRICTATIME
                                                         : MS_RELATIME;

    for (size_t i = 0; i < sizeof(attr_flags) / sizeof(attr_flags[0]); i++)
        if (attrs & attr_flags[i].attr)
            ms |= attr_flags[i].ms;
    return ms;
}

/*
 * mount(2) gives no handle of the mount it made on tfd: opens its root by
 * looking tfd's path up again through the parent directory (the top of the
 * stack of mounts there), checked to be another mount than tfd's and to be
 * at that very path. *id is set once the mount is found (0 before), so
 * that a later failure can unmount it.
 */
static int classic_find(struct lx_root *r, int tfd, int *rootfd, uint64_t *id, const char *host,
                        struct err *e)
{
    uint64_t under, got;
    const char *name;
    char *canon = lx_fd_path(tfd), *now = NULL;
    int fd, rc = 0;

    *id = 0;
    if (!canon || !path_covers(r->canon, canon)) {
        free(canon);
        return lx_err(e, EXDEV, "cannot find the new mount on %s: it is not in sandbox %s", host,
                      r->path);
    }
    rc = lx_mnt_id(tfd, &under);
    if (rc < 0) {
        rc = err_sys(e, -rc, "cannot find the mount id of %s", host);
        goto out;
    }
    /*
     * The path, looked up again through its parent, now leads to the top of
     * the stack of mounts there: the new one. No read of the whole mount
     * table (one per mount made N mounts cost O(N^2)): its id differs from
     * the mount the point was on, and the fd is still at that very path.
     */
    fd = canon_parent(r, canon, &name);
    if (fd >= 0) {
        int pfd = fd;
        fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        fd = fd < 0 ? -errno : fd;
        close(pfd);
    }
    if (fd < 0) {
        rc = err_sys(e, -fd, "cannot open the new mount on %s", host);
        goto out;
    }
    if ((rc = lx_mnt_id(fd, &got)) < 0 || got == under) {
        close(fd);
        rc = lx_err(e, ENOENT, "cannot find the new mount on %s", host);
        goto out;
    }
    *id = got; /* found: a later failure unmounts it */
    now = lx_fd_path(fd);
    if (!now || strcmp(now, canon) != 0) {
        close(fd);
        rc = lx_err(e, EAGAIN, "cannot open the new mount on %s: its mount point was replaced",
                    host);
        goto out;
    }
    *rootfd = fd;
out:
    free(now);
    free(canon);
    return rc;
}

/*
 * Mounts s on tfd with mount(2) through /proc/self/fd/N, finds the new
 * mount, makes it private, fills it, and sets the attributes of a bind (or
 * of a filled mount) with a remount that keeps its other flags; a new
 * filesystem gets them in the mount call. A failure after the mount call
 * unmounts it again. On success *rootfd is an O_PATH fd of its root.
 */
static int classic_attach(struct lx_root *r, const struct mspec *s, int tfd, int *rootfd,
                          uint64_t *id, struct err *e)
{
    bool remount = (s->bind || s->fill) && (s->set | s->clr);
    unsigned long flags = s->bind ? MS_BIND : s->fill ? 0 : ms_flags(s->set);
    /*
     * The kernel ignores the type of a bind, a remount and a propagation
     * change, but valgrind reads it as a string: "none", as mount(8) does.
     */
    const char *type = s->bind ? "none" : s->type;
    char target[64];
    struct buf data = {0};
    struct statvfs sv;
    int rc;

    for (size_t i = 0; !s->bind && i < s->data->n; i++) {
        buf_adds(&data, i ? "," : "");
        buf_adds(&data, s->data->v[i]);
    }
    snprintf(target, sizeof(target), "/proc/self/fd/%d", tfd);
    if (mount(s->bind ? s->bind : s->source, target, type, flags, data.p) < 0) {
        int err = errno;
        /* The kernel's reason is only in its log: name the options instead. */
        rc = lx_err(e, err, "cannot mount %s on %s: %s%s%s%s", s->what, s->host, strerror(err),
                    data.len ? " (options " : "", data.len ? data.p : "", data.len ? ")" : "");
        buf_free(&data);
        return rc;
    }
    buf_free(&data);
    rc = classic_find(r, tfd, rootfd, id, s->host, e);
    if (rc == 0) {
        snprintf(target, sizeof(target), "/proc/self/fd/%d", *rootfd);
        if (mount(NULL, target, "none", MS_PRIVATE, NULL) < 0)
            rc = err_sys(e, errno, "cannot make the mount on %s private", s->host);
        else if (s->fill)
            rc = s->fill(*rootfd, s->host, s->arg, e);
    }
    if (rc == 0 && remount &&
        (fstatvfs(*rootfd, &sv) < 0 ||
         mount(NULL, target, "none",
               MS_REMOUNT | MS_BIND | ms_flags((st_attrs(sv.f_flag) & ~s->clr) | s->set),
               NULL) < 0))
        rc = err_sys(e, errno, "cannot mount %s on %s: cannot set its options", s->what, s->host);
    if (rc < 0) {
        if (*rootfd >= 0)
            close(*rootfd);
        *rootfd = -1;
        if (*id)
            unmount_ids(r, id, 1);
    }
    return rc;
}

/* Where classic_staged makes a mount before it moves it onto its point. */
#define STAGE_DIR ".bob-stage"

/*
 * mount(2) for a mount that must not be seen at its point before it is
 * filled (a sandbox's own root tmpfs: its mark, lock and .bob): made on
 * STAGE_DIR, a directory made inside the point (the locked, claimed
 * directory, which nobody else enters), filled there, and only then moved
 * onto the point (MS_MOVE). Killed before the move, it is a mount below a
 * stale sandbox, which destroy's sweep unmounts; killed after, the
 * sandbox is complete. The new API needs none of this: it fills the
 * mount detached.
 */
static int classic_staged(struct lx_root *r, const struct mspec *s, int tfd, int *rootfd,
                          uint64_t *id, struct err *e)
{
    char src[64], dst[64];
    int sfd, rc;

    if (mkdirat(tfd, STAGE_DIR, 0700) < 0)
        return err_sys(e, errno, "cannot create %s/%s", s->host, STAGE_DIR);
    sfd = openat(tfd, STAGE_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        rc = err_sys(e, errno, "cannot open %s/%s", s->host, STAGE_DIR);
    } else {
        rc = classic_attach(r, s, sfd, rootfd, id, e);
        close(sfd);
    }
    if (rc == 0) {
        fault_step("create.rootmove");
        snprintf(src, sizeof(src), "/proc/self/fd/%d", *rootfd);
        snprintf(dst, sizeof(dst), "/proc/self/fd/%d", tfd);
        /* "none": valgrind reads the ignored type as a string (see classic_attach). */
        if (mount(src, dst, "none", MS_MOVE, NULL) < 0) {
            rc = err_sys(e, errno, "cannot mount %s on %s: cannot move it there", s->what, s->host);
            close(*rootfd);
            *rootfd = -1;
            unmount_ids(r, id, 1);
        }
    }
    /* Beneath the mount now: through tfd, the directory itself. */
    (void)unlinkat(tfd, STAGE_DIR, AT_REMOVEDIR);
    return rc;
}

/* 1 when mounts are made with mount(2), 0 with the new API, -1 until known. */
static atomic_int classic = -1;

bool lx_mount_classic(void)
{
    int unknown = -1;

    /* BOB_NO_NEWMOUNT=1 takes mount(2), so that tests cover it too. */
    if (atomic_load(&classic) < 0)
        atomic_compare_exchange_strong(&classic, &unknown, getenv("BOB_NO_NEWMOUNT") != NULL);
    return atomic_load(&classic) == 1;
}

/*
 * Makes mount s on a mount point: guest path dest beneath r (made when
 * missing: a directory, or an empty file when dir is false), or, when
 * under >= 0, the directory dest of the mount whose root is under (the
 * shm and pts of a /dev). On success *id is the new mount's id and, when
 * rootfd is not NULL, *rootfd an fd of its root (the caller closes it).
 * Whatever fails, nothing stays mounted.
 */
static int mount_make(struct lx_root *r, const struct mspec *s, int under, const char *dest,
                      bool dir, int *rootfd, uint64_t *id, struct err *e)
{
    int mfd = -1, tfd = -1, rc = 0;

    /* Built before the mount point exists, so that a bad option creates nothing. */
    if (!lx_mount_classic()) {
        rc = newapi_prepare(s, &mfd, e);
        if (rc == -ENOSYS) {
            /* valgrind, or a kernel without (all of) the new API: mount(2) from now on. */
            log_debug("the new mount API is not available (%s): using mount(2)", e->msg);
            atomic_store(&classic, 1);
            err_clear(e);
            rc = 0;
        }
        if (rc < 0)
            return rc;
    }
    if (under >= 0) {
        tfd = openat(under, dest, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tfd < 0)
            rc = err_sys(e, errno, "cannot open %s", s->host);
    } else {
        rc = mount_point(r, dest, dir, &tfd, e);
    }
    if (rc == 0 && mfd >= 0)
        rc = newapi_attach(r, mfd, tfd, id, s->what, s->host, e);
    else if (rc == 0 && s->stage)
        rc = classic_staged(r, s, tfd, &mfd, id, e);
    else if (rc == 0)
        rc = classic_attach(r, s, tfd, &mfd, id, e);
    if (tfd >= 0)
        close(tfd);
    if (rc == 0 && rootfd) {
        *rootfd = mfd;
        mfd = -1;
    }
    if (mfd >= 0)
        close(mfd);
    return rc;
}

/* The device nodes of a private /dev: same numbers as the host's (these defaults otherwise). */
static const struct {
    const char *name;
    unsigned major, minor;
} dev_nodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
    const char *name, *target;
} dev_links[] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
};

/* Fills the /dev tmpfs whose root is rootfd (detached, with the new API). */
static int dev_populate(int rootfd, const char *host, void *arg, struct err *e)
{
    (void)arg;
    for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
        char hostnode[64];
        struct stat st;
        dev_t rdev = makedev(dev_nodes[i].major, dev_nodes[i].minor);
        snprintf(hostnode, sizeof(hostnode), "/dev/%s", dev_nodes[i].name);
        if (stat(hostnode, &st) == 0 && S_ISCHR(st.st_mode))
            rdev = st.st_rdev;
        /* mknod, not a bind of the host's node: a chmod inside stays inside. */
        if (mknodat(rootfd, dev_nodes[i].name, S_IFCHR | 0666, rdev) < 0 ||
            fchmodat(rootfd, dev_nodes[i].name, 0666, 0) < 0)
            return err_sys(e, errno, "cannot create %s/%s", host, dev_nodes[i].name);
    }
    for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
        if (symlinkat(dev_links[i].target, rootfd, dev_links[i].name) < 0)
            return err_sys(e, errno, "cannot create %s/%s", host, dev_links[i].name);
    if (mkdirat(rootfd, "shm", 0755) < 0 || mkdirat(rootfd, "pts", 0755) < 0 ||
        fchmodat(rootfd, "shm", 0755, 0) < 0 || fchmodat(rootfd, "pts", 0755, 0) < 0)
        return err_sys(e, errno, "cannot create directories in %s", host);
    return 0;
}

/* Mounts a new filesystem on directory `sub` of the attached /dev (devfd, its root). */
static int dev_sub(struct lx_root *r, int devfd, const char *sub, const char *type,
                   const char *const *params, uint64_t attrs, uint64_t *id, const char *host,
                   struct err *e)
{
    struct strv data = {0};
    char *where = xasprintf("%s/%s", host, sub);
    struct mspec s = {
        .type = type, .source = type, .data = &data, .set = attrs, .what = type, .host = where};
    int rc;

    for (size_t i = 0; params[i]; i++)
        strv_push(&data, params[i]);
    rc = mount_make(r, &s, devfd, sub, true, NULL, id, e);
    strv_free(&data);
    free(where);
    return rc;
}

/*
 * A private /dev: a tmpfs with the usual nodes and links, a tmpfs on shm
 * and a new devpts instance on pts (ptmx -> pts/ptmx), so that a pty opened
 * inside comes from the sandbox's own instance.
 */
static int mount_dev(struct lx_root *r, const char *dest, const char *host, const struct mopts *mo,
                     struct err *e)
{
    static const char *const shm[] = {"mode=1777", NULL};
    static const char *const pts[] = {"newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL};
    struct strv data = {0};
    struct mspec s = {.type = "tmpfs",
                      .source = "tmpfs",
                      .data = &data,
                      .set = mo->set | MOUNT_ATTR_NOSUID,
                      .clr = mo->clr & ~MOUNT_ATTR_NOSUID,
                      .fill = dev_populate,
                      .what = "dev",
                      .host = host};
    uint64_t ids[3];
    size_t nids = 0;
    bool has_mode = false;
    int devfd = -1, rc;

    for (size_t i = 0; i < mo->data.n; i++) {
        strv_push(&data, mo->data.v[i]);
        has_mode = has_mode || str_startswith(mo->data.v[i], "mode=");
    }
    if (!has_mode)
        strv_push(&data, "mode=755");
    rc = mount_make(r, &s, -1, dest, true, &devfd, &ids[0], e);
    if (rc < 0)
        goto out;
    nids = 1;
    rc = dev_sub(r, devfd, "shm", "tmpfs", shm, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, &ids[1], host,
                 e);
    if (rc == 0) {
        nids = 2;
        rc = dev_sub(r, devfd, "pts", "devpts", pts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &ids[2],
                     host, e);
    }
    if (rc < 0) {
        /* Undo the attached part, innermost first. */
        uint64_t undo[2];
        size_t k = 0;
        if (nids == 2)
            undo[k++] = ids[1];
        undo[k++] = ids[0];
        unmount_ids(r, undo, k);
    }
out:
    if (devfd >= 0)
        close(devfd);
    strv_free(&data);
    return rc;
}

/*
 * Mounts a type filesystem with these parameters in a child of ours, in a
 * mount namespace of its own that goes with it: 0, the kernel's negative
 * errno, or -EPERM when it cannot tell (no namespace to be had). Nothing is
 * mounted anywhere else.
 */
static int check_in_child(const char *type, const struct strv *data)
{
    struct buf opts = {0};
    int st, rc;
    pid_t pid;

    for (size_t i = 0; i < data->n; i++) {
        buf_adds(&opts, i ? "," : "");
        buf_adds(&opts, data->v[i]);
    }
    pid = fork();
    if (pid == 0) {
        /* No namespace of its own here (a chroot, no mount namespaces left): cannot tell. */
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(EPERM);
        if (mount(type, "/", type, MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.p) < 0)
            _exit(errno > 0 && errno < 256 ? errno : EINVAL);
        _exit(0);
    }
    buf_free(&opts);
    if (pid < 0)
        return -errno;
    while ((rc = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (rc < 0)
        return -errno;
    return WIFEXITED(st) ? -WEXITSTATUS(st) : -EINTR;
}

int plat_mount_check(const struct plat_mount_spec *spec, struct err *e)
{
    struct mopts mo;
    char why[512] = "";
    int rc = 0, fd = -1;
    const char *type;

    parse_opts(spec->opts, &mo);
    switch (spec->fs) {
    case PLAT_FS_BIND:
    case PLAT_FS_FD:
        /* A bind takes the flags only (ro, nosuid, ...): anything else would be ignored. */
        if (mo.data.n)
            rc = lx_err(e, EINVAL,
                        "option '%s' does not apply to a bind mount (ro, rw, nosuid, nodev, "
                        "noexec, noatime, relatime, nosymfollow and their opposites do)",
                        mo.data.v[0]);
        break;
    case PLAT_FS_TMP:
    case PLAT_FS_PROC:
        /*
         * The kernel says, as it would at the mount, without mounting
         * anything; without the new API, by a mount in a child's own mount
         * namespace. BOB_NO_NEWMOUNT only chooses how mounts are made.
         */
        type = spec->fs == PLAT_FS_TMP ? "tmpfs" : "proc";
        /* BOB_FAULT=newapi plays a kernel without it. */
        rc = fault_check("newapi") < 0 ? -ENOSYS
                                       : fs_create(type, type, &mo.data, &fd, why, sizeof(why));
        if (rc == -ENOSYS)
            rc = check_in_child(type, &mo.data);
        if (rc == -EPERM)
            rc = 0; /* not root: cannot tell here */
        else if (rc < 0)
            rc = lx_err(e, -rc, "invalid options '%s' for %s: %s%s", spec->opts ? spec->opts : "",
                        spec->name ? spec->name : type, strerror(-rc), why);
        if (fd >= 0)
            close(fd);
        break;
    default: /* nfs needs its server; dev takes no options */
        break;
    }
    strv_free(&mo.data);
    return rc;
}

int plat_mount(const char *root, const struct plat_mount_spec *spec, struct err *e)
{
    struct lx_root r;
    struct mopts mo;
    struct mspec s = {0};
    struct stat st;
    const char *dest = spec->dest, *src = spec->src;
    const char *fsname = spec->name ? spec->name : "filesystem";
    char *host = NULL;
    bool dir = true;
    uint64_t id;
    int rc;

    log_debug("mount: %s%s%s on %s in %s%s%s", fsname, src ? " " : "", src ? src : "", dest, root,
              spec->opts ? " with " : "", spec->opts ? spec->opts : "");

    if ((rc = fault_check("mount")) < 0)
        return err_sys(e, -rc, "cannot mount %s in %s (injected)", dest ? dest : "(none)", root);
    if (!dest)
        return lx_err(e, EINVAL, "cannot mount %s: no mount point given", fsname);
    rc = lx_root_open(&r, root, e);
    if (rc < 0)
        return rc;
    host = lx_host(&r, dest);
    parse_opts(spec->opts, &mo);
    s.data = &mo.data;
    s.set = mo.set;
    s.clr = mo.clr;
    s.what = fsname;
    s.host = host;

    switch (spec->fs) {
    case PLAT_FS_BIND:
    case PLAT_FS_FD:
        /* fd: /dev/fd is /proc/self/fd, so this binds the fd directory of this process. */
        s.bind = spec->fs == PLAT_FS_FD ? "/dev/fd" : src;
        if (mo.data.n) {
            rc = lx_err(e, EINVAL, "cannot mount %s on %s: unknown option '%s'", fsname, host,
                        mo.data.v[0]);
            goto out;
        }
        if (!s.bind || stat(s.bind, &st) < 0) {
            rc = err_sys(e, s.bind ? errno : EINVAL, "cannot mount %s on %s: source %s", fsname,
                         host, s.bind ? s.bind : "(none)");
            goto out;
        }
        dir = S_ISDIR(st.st_mode);
        break;
    case PLAT_FS_TMP:
    case PLAT_FS_PROC:
    case PLAT_FS_NFS:
        s.type = spec->fs == PLAT_FS_TMP ? "tmpfs" : spec->fs == PLAT_FS_PROC ? "proc" : "nfs";
        s.source = spec->fs == PLAT_FS_NFS ? src : s.type;
        break;
    case PLAT_FS_DEV:
        rc = mount_dev(&r, dest, host, &mo, e);
        goto out;
    case PLAT_FS_NONE:
    default:
        rc = lx_err(e, EINVAL, "cannot mount %s on %s: unsupported filesystem type", fsname, host);
        goto out;
    }
    rc = mount_make(&r, &s, -1, dest, dir, NULL, &id, e);
out:
    strv_free(&mo.data);
    free(host);
    lx_root_close(&r);
    return rc;
}

int plat_unmount(const char *root, const char *dest, struct err *e)
{
    struct lx_root r;
    struct strv c = {0};
    size_t nexist;
    char *canon = NULL;
    int fd = -1, rc;

    if ((rc = fault_check("umount")) < 0)
        return err_sys(e, -rc, "cannot unmount %s in %s (injected)", dest, root);
    rc = lx_root_open(&r, root, e);
    if (rc == -ENOENT) {
        err_clear(e);
        return 0;
    }
    if (rc < 0)
        return rc;
    path_split(dest, &c);
    rc = lx_lookup(&r, &c, dest, &fd, &nexist, e);
    if (rc < 0 || nexist < c.n)
        goto out; /* a missing path is not a mount point: nothing to do */
    canon = lx_fd_path(fd);
    if (!canon || !path_covers(r.canon, canon)) {
        rc = lx_err(e, EXDEV, "Path escapes sandbox: %s resolves outside %s", dest, r.path);
        goto out;
    }
    /*
     * Fast path, for the usual undo of one mount action: while the path is
     * the root of a mount, unmount it, without reading the mount table
     * (which costs the kernel time in proportion to every mount of every
     * sandbox). Mounts below it, or a busy one, take the slow path; a path
     * that is not a mount root has nothing to undo here, and whatever might
     * be mounted below it is found by the sandbox's final sweep (dest "/").
     */
    while (c.n > 0) {
        struct statx stx;
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, 0, &stx) < 0 ||
            !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
            break;
        if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
            rc = 0;
            goto out;
        }
        close(fd);
        fd = -1;
        if (umount_one(&r, canon, e) < 0)
            break;
        rc = lx_lookup(&r, &c, dest, &fd, &nexist, e);
        if (rc < 0 || nexist < c.n)
            goto out;
    }
    if (fd >= 0)
        close(fd);
    fd = -1;
    err_clear(e);
    /* The sweep (dest "/") leaves the root's own tmpfs to the removal (plat_root_tmpfs_detach). */
    rc = lx_unmount_under(&r, canon, c.n == 0, e);
out:
    if (fd >= 0)
        close(fd);
    free(canon);
    strv_free(&c);
    lx_root_close(&r);
    return rc;
}

/* ---- a sandbox's own root tmpfs (sandboxes.tmpfs_root) ---- */

struct root_fill {
    int (*fill)(int rootfd, void *arg);
    void *arg;
};

/* The mark of a sandbox's own root tmpfs: only CAP_SYS_ADMIN sets a trusted.* attribute. */
#define ROOT_XATTR "trusted.bob"
#define ROOT_XATTR_VALUE "root"

static int root_fill(int rootfd, const char *host, void *arg, struct err *e)
{
    struct root_fill *f = arg;
    int fd, rc = 0;
    fault_step("create.rootmark");
    fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        rc = -errno;
    else if (fault_check("xattr") < 0)
        rc = -ENOTSUP; /* as on a kernel without tmpfs attributes (CONFIG_TMPFS_XATTR) */
    else if (fsetxattr(fd, ROOT_XATTR, ROOT_XATTR_VALUE, strlen(ROOT_XATTR_VALUE), 0) < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0) {
        fault_step("create.rootfill");
        rc = f->fill(rootfd, f->arg);
    }
    return rc < 0 ? err_sys(e, -rc, "cannot prepare the tmpfs on %s", host) : 0;
}

/* Whether open directory fd is the root of a sandbox's own tmpfs (its mark). */
static bool root_marked(int fd)
{
    struct statfs sf;
    char v[16];
    ssize_t n;
    if (fstatfs(fd, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
        return false;
    n = fgetxattr(fd, ROOT_XATTR, v, sizeof(v));
    return n == (ssize_t)strlen(ROOT_XATTR_VALUE) && memcmp(v, ROOT_XATTR_VALUE, (size_t)n) == 0;
}

bool plat_is_root_tmpfs(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    bool r = fd >= 0 && root_marked(fd);
    if (fd >= 0)
        close(fd);
    return r;
}

int plat_root_tmpfs(const char *basedir, int dirfd, const char *opts,
                    int (*fill)(int rootfd, void *arg), void *arg, struct err *e)
{
    struct root_fill f = {fill, arg};
    struct lx_root r;
    struct mopts mo;
    struct mspec s;
    char *host = lx_fd_path(dirfd);
    uint64_t id = 0;
    bool mode = false, size = false;
    int rc = lx_root_open(&r, basedir, e);

    if (rc < 0) {
        free(host);
        return rc;
    }
    parse_opts(opts, &mo);
    for (size_t i = 0; i < mo.data.n; i++) {
        mode |= strncmp(mo.data.v[i], "mode=", 5) == 0;
        size |=
            strncmp(mo.data.v[i], "size=", 5) == 0 || strncmp(mo.data.v[i], "nr_blocks=", 10) == 0;
    }
    if (!mode)
        strv_push(&mo.data, "mode=0755");
    /* A quarter of the memory unless told: a hostile job filling its root cannot take it all. */
    if (!size)
        strv_push(&mo.data, "size=" PLAT_ROOT_SIZE);
    memset(&s, 0, sizeof(s));
    s.type = "tmpfs";
    s.source = PLAT_ROOT_SOURCE;
    s.data = &mo.data;
    s.set = mo.set;
    s.clr = mo.clr;
    s.fill = root_fill;
    s.arg = &f;
    s.what = "tmpfs";
    s.host = host ? host : basedir;
    s.stage = true;
    /* Onto the locked directory itself, never onto whatever its name leads to now. */
    rc = mount_make(&r, &s, dirfd, ".", true, NULL, &id, e);
    strv_free(&mo.data);
    free(host);
    lx_root_close(&r);
    return rc;
}

int plat_root_tmpfs_detach(const char *path, struct err *e)
{
    struct statx stx;
    struct lx_root r;
    char target[PATH_MAX + 64];
    const char *name;
    bool known;
    int pfd, rc;

    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0)
        return errno == ENOENT ? 0 : err_sys(e, errno, "cannot examine %s", path);
    known = stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT;
    if (known && !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        return 0; /* a plain directory: the usual sandbox */
    if ((rc = lx_root_open(&r, path, e)) < 0)
        return rc;
    if (!root_marked(r.fd)) {
        lx_root_close(&r);
        /* Before Linux 5.8 a directory without the mark is no tmpfs of ours. */
        return known ? lx_err(e, EXDEV,
                              "%s is a mount of someone else's, not the sandbox's own tmpfs", path)
                     : 0;
    }
    /*
     * Detached: the lock bob holds on its root keeps it busy. The sweep has
     * unmounted everything below it and the kill rounds found no process
     * in it, so nothing of the host's goes with it.
     */
    pfd = canon_parent(&r, r.canon, &name);
    if (pfd < 0)
        rc = err_sys(e, -pfd, "cannot open the directory of %s", r.canon);
    else {
        snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", pfd, name);
        rc = umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0
                 ? err_sys(e, errno, "cannot unmount the tmpfs on %s", r.canon)
                 : 1;
        close(pfd);
    }
    lx_root_close(&r);
    return rc;
}

#endif /* __linux__ */
