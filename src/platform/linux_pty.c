/*
 * A pty of the sandbox's own devpts instance (fs = "dev" mounts one at
 * /dev/pts with its ptmx): the master for bob, the slave for a shell, so
 * that the shell's terminal is a device it can see (`tty`, job control).
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef DEVPTS_SUPER_MAGIC
#define DEVPTS_SUPER_MAGIC 0x1cd1
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int plat_pty_open(const char *root, int *master, int *slave, struct err *e)
{
    struct lx_root r;
    struct strv comps = {0};
    struct statfs sfs;
    size_t nexist = 0;
    int dir = -1, m = -1, s = -1, unlock = 0, rc;

    *master = *slave = -1;
    if ((rc = lx_root_open(&r, root, e)) < 0)
        return rc;
    path_split("dev/pts", &comps);
    rc = lx_lookup(&r, &comps, "/dev/pts", &dir, &nexist, e);
    if (rc >= 0 && nexist != comps.n)
        rc = lx_err(e, ENOENT, "%s/dev/pts does not exist", r.path);
    /* Only a devpts mount: never a directory or file a build put there. */
    if (rc >= 0 && (fstatfs(dir, &sfs) != 0 || sfs.f_type != DEVPTS_SUPER_MAGIC))
        rc = lx_err(e, ENODEV, "%s/dev/pts is not a devpts mount", r.path);
    if (rc >= 0 && (m = openat(dir, "ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = err_sys(e, errno, "cannot open %s/dev/pts/ptmx", r.path);
    if (rc >= 0 && ioctl(m, TIOCSPTLCK, &unlock) != 0)
        rc = err_sys(e, errno, "cannot unlock a pty of %s", r.path);
    /* The peer by the master, not by a path a process inside could swap. */
    if (rc >= 0 && (s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        rc = err_sys(e, errno, "cannot open the peer of a pty of %s", r.path);
    if (dir >= 0)
        close(dir);
    strv_free(&comps);
    lx_root_close(&r);
    if (rc < 0) {
        if (m >= 0)
            close(m);
        return rc;
    }
    *master = m;
    *slave = s;
    return 0;
}

#endif
