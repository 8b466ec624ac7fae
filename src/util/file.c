/* Small file helpers (see file.h). */
#include "util/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes one directory of file_mkdir_p; an existing directory counts as made. */
static int file_mkdir_one(const char *dir, mode_t mode, unsigned flags, struct err *e)
{
    struct stat st;

    if (mkdir(dir, mode) == 0) {
        if ((flags & FILE_MKDIR_NO_UMASK) && chmod(dir, mode) != 0)
            return err_sys(e, errno, "cannot set the mode of directory %s", dir);
        return 0;
    }
    if (errno != EEXIST)
        return err_sys(e, errno, "cannot create directory %s", dir);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_sys(e, ENOTDIR, "cannot create directory %s", dir);
    return 0;
}

/* Walks the path prefix by prefix, making each missing directory. */
int file_mkdir_p(const char *path, mode_t mode, unsigned flags, struct err *e)
{
    char *p = xstrdup(path);
    int r = 0;

    if (!*p) {
        free(p);
        return err_sys(e, ENOENT, "cannot create directory ''");
    }
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            /* "a//b" and a trailing slash: nothing to make for an empty component. */
            if (s[-1] != '/') {
                *s = '\0';
                r = file_mkdir_one(p, mode, flags, e);
                *s = c;
                if (r < 0)
                    break;
            }
            if (!c)
                break;
        }
    }
    free(p);
    return r;
}

/* Loops over short writes and EINTR; a write of 0 bytes is an error (-EIO), not a hang. */
int file_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
