/* Small file helpers every layer needs: making directories, writing all of a buffer. */
#ifndef BOB_UTIL_FILE_H
#define BOB_UTIL_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "util/util.h"

/* file_mkdir_p flags. */
enum {
    /* The directories it creates get exactly the mode, whatever the umask. */
    FILE_MKDIR_NO_UMASK = 1,
};

/*
 * mkdir -p: creates path and its missing parents with mode (less the umask
 * unless FILE_MKDIR_NO_UMASK). An existing directory is fine; anything else
 * in the way (a file, a dangling symlink) fails with -ENOTDIR. Returns 0 or
 * -errno with e naming the directory that could not be made.
 */
int file_mkdir_p(const char *path, mode_t mode, unsigned flags, struct err *e);

/*
 * Writes all n bytes of buf to the blocking fd, going on after EINTR and
 * short writes. Returns 0 or -errno (-EPIPE when the reader went away).
 */
int file_write_all(int fd, const void *buf, size_t n);

#endif
