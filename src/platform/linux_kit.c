/*
 * The bootstrap kit as overlays (platform.h, plat_kit_*). The kit is
 * unpacked once into a tmpfs of the build's own mount namespace (it goes
 * with bob, whatever kills it). A job gets the kit as one overlay at each target
 * (PREFIX, the package databases): the lower layer is the kit's directory
 * of that name, read-only, and the upper and work directories sit in the
 * sandbox (under its /.bob, which no job sees), so that what a job
 * installs is written where it was before, and goes with the overlay's
 * unmount and a removal of the upper directory. Every path is opened
 * beneath its root without following a symlink, and handed to overlayfs
 * as /proc/self/fd/N, so that neither a kit nor a build can redirect a
 * layer.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int plat_kit_tmpfs(const char *path, int *out, struct err *e)
{
    struct mount_attr priv = {.propagation = MS_PRIVATE};
    int fs, mfd = -1, tfd = -1, rc = 0;

    *out = -1;
    if (lx_mount_classic())
        return lx_err(e, ENOTSUP, "the new mount API is not in use (BOB_NO_NEWMOUNT, old kernel)");
    fs = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0)
        return lx_err(e, errno == ENODEV ? ENOTSUP : errno, "overlayfs is not available: %s",
                      strerror(errno));
    close(fs);
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return err_sys(e, errno, "cannot make %s", path);
    tfd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tfd < 0)
        return err_sys(e, errno, "cannot open %s", path);
    fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
        fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
        (mfd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV)) < 0 ||
        mount_setattr(mfd, "", AT_EMPTY_PATH, &priv, sizeof(priv)) < 0 ||
        move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        rc = err_sys(e, errno, "cannot mount a tmpfs on %s for the bootstrap kit", path);
    if (fs >= 0)
        close(fs);
    close(tfd);
    if (rc == 0 && (*out = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = err_sys(e, errno, "cannot open the tmpfs on %s", path);
    if (mfd >= 0)
        close(mfd);
    return rc;
}

void plat_kit_tmpfs_drop(const char *path)
{
    (void)umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
}

/*
 * Checks directory dfd (path `at` in the kit, "" for its root) against the
 * targets: every entry must be a target or a directory on the way to one.
 */
static int kit_check_dir(int dfd, const char *at, const struct strv *targets, struct err *e)
{
    DIR *d;
    struct dirent *de;
    int rc = 0, fd = dup(dfd);

    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return err_sys(e, errno, "cannot read the bootstrap kit at /%s", at);
    }
    while (rc == 0 && (de = readdir(d))) {
        char *path;
        bool target = false, ancestor = false;
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path = *at ? xasprintf("%s/%s", at, de->d_name) : xstrdup(de->d_name);
        for (size_t i = 0; i < targets->n; i++) {
            const char *t = targets->v[i] + 1; /* without its leading '/' */
            size_t n = strlen(path);
            target |= strcmp(t, path) == 0;
            ancestor |= strncmp(t, path, n) == 0 && t[n] == '/';
        }
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = err_sys(e, errno, "cannot read the bootstrap kit at /%s", path);
        } else if (target || ancestor) {
            if (!S_ISDIR(st.st_mode)) {
                rc = lx_err(e, ENOTDIR, "/%s in the bootstrap kit is not a directory", path);
            } else if (ancestor) {
                int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                rc = sub < 0 ? err_sys(e, errno, "cannot read the bootstrap kit at /%s", path)
                             : kit_check_dir(sub, path, targets, e);
                if (sub >= 0)
                    close(sub);
            }
        } else {
            rc =
                lx_err(e, EXDEV,
                       "the bootstrap kit has /%s, outside PREFIX and the package databases", path);
        }
        free(path);
    }
    closedir(d);
    return rc;
}

int plat_kit_check(int kitfd, const struct strv *targets, struct err *e)
{
    for (size_t i = 0; i < targets->n; i++)
        if (targets->v[i][0] != '/' || !targets->v[i][1])
            return lx_err(e, EINVAL, "bad kit target \"%s\"", targets->v[i]);
    return kit_check_dir(kitfd, "", targets, e);
}

/* Opens (O_PATH) directory guest beneath r, made (0755, with its parents) when missing. */
static int kit_dir(struct lx_root *r, const char *guest, int *out, struct err *e)
{
    char *rel = xstrdup(guest + strspn(guest, "/")), *name = NULL;
    int fd = lx_openat2(r->fd, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW,
                        LX_BENEATH | RESOLVE_NO_SYMLINKS),
        pfd = -1, rc = 0;

    if (fd == -ENOENT && (rc = lx_parent(r, guest, true, &pfd, &name, e)) == 0) {
        if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST)
            rc = err_sys(e, errno, "cannot make %s in %s", guest, r->path);
        else if ((fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            rc = err_sys(e, errno, "cannot open %s in %s", guest, r->path);
    } else if (fd < 0 && rc == 0) {
        rc =
            err_sys(e, -fd, "cannot open %s in %s (a symlink or not a directory?)", guest, r->path);
    }
    if (pfd >= 0)
        close(pfd);
    free(name);
    free(rel);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

/* Mounts one overlay of the kit's target onto the sandbox's, its upper layer in dir updir. */
static int kit_overlay(struct lx_root *r, int kitfd, const char *target, const char *updir,
                       struct err *e)
{
    char *u = xasprintf("%s/u", updir), *w = xasprintf("%s/w", updir);
    char lower[64], upper[64], work[64];
    int lfd = -1, ufd = -1, wfd = -1, tfd = -1, fs = -1, mfd = -1, rc;
    struct mount_attr priv = {.propagation = MS_PRIVATE};
    struct statx sx;

    lfd = lx_openat2(kitfd, target + 1, O_PATH | O_DIRECTORY | O_NOFOLLOW,
                     LX_BENEATH | RESOLVE_NO_SYMLINKS);
    if (lfd < 0) {
        rc = err_sys(e, -lfd, "cannot open %s in the bootstrap kit", target);
        lfd = -1;
        goto out;
    }
    if ((rc = kit_dir(r, u, &ufd, e)) < 0 || (rc = kit_dir(r, w, &wfd, e)) < 0 ||
        (rc = kit_dir(r, target, &tfd, e)) < 0)
        goto out;
    /* Something mounted there already (a setup action's mount): never stacked on. */
    if (statx(tfd, "", AT_EMPTY_PATH, 0, &sx) == 0 &&
        (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
        (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
        rc = lx_err(e, EBUSY, "cannot mount the bootstrap kit on %s in %s: a mount is there",
                    target, r->path);
        goto out;
    }
    snprintf(lower, sizeof(lower), "/proc/self/fd/%d", lfd);
    snprintf(upper, sizeof(upper), "/proc/self/fd/%d", ufd);
    snprintf(work, sizeof(work), "/proc/self/fd/%d", wfd);
    fs = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0 ||
        fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
        fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
        fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
        (mfd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV)) < 0 ||
        mount_setattr(mfd, "", AT_EMPTY_PATH, &priv, sizeof(priv)) < 0) {
        rc = err_sys(e, errno, "cannot make the overlay of the bootstrap kit for %s in %s", target,
                     r->path);
        goto out;
    }
    if (move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        rc = err_sys(e, errno, "cannot mount the bootstrap kit on %s in %s", target, r->path);
        goto out;
    }
    /* Attached under a shared parent it would be shared: private again. */
    (void)mount_setattr(mfd, "", AT_EMPTY_PATH, &priv, sizeof(priv));
    rc = 0;
out : {
    int fds[] = {lfd, ufd, wfd, tfd, fs, mfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
}
    free(u);
    free(w);
    return rc;
}

int plat_kit_attach(const char *root, int kitfd, const struct strv *targets, const char *upper,
                    struct err *e)
{
    struct lx_root r;
    size_t done;
    int rc = lx_root_open(&r, root, e);

    if (rc < 0)
        return rc;
    for (done = 0; done < targets->n; done++) {
        char *updir = xasprintf("%s/%zu", upper, done);
        rc = kit_overlay(&r, kitfd, targets->v[done], updir, e);
        free(updir);
        if (rc < 0)
            break;
    }
    lx_root_close(&r);
    if (rc < 0) {
        struct err ign;
        while (done-- > 0)
            (void)plat_unmount(root, targets->v[done], &ign);
    }
    return rc;
}

#endif
