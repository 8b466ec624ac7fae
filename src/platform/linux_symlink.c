/*
 * Linux symlinks inside a sandbox, and the pruning of the empty directories
 * an undo leaves: symlink actions make and remove their link through an fd
 * of its parent resolved beneath the root, so that a build that replaced a
 * parent directory by a link cannot make them write or remove on the host.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"
#include "util/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The "symlink" fault point, shared by making (verb "create") and removing a link. */
static int symlink_fault(const char *root, const char *dest, const char *verb, struct err *e)
{
    int rc = fault_check("symlink");
    return rc < 0 ? err_sys(e, -rc, "cannot %s symlink %s in %s (injected)", verb, dest, root) : 0;
}

int plat_symlink(const char *root, const char *target, const char *dest, struct err *e)
{
    struct lx_root r;
    char *name = NULL;
    int pfd = -1, rc;

    if ((rc = symlink_fault(root, dest, "create", e)) < 0)
        return rc;
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

    if ((rc = symlink_fault(root, dest, "remove", e)) < 0)
        return rc;
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
    path_split(guest, &c);
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
