/*
 * Internals shared by the Linux platform files (linux*.c) and their unit
 * tests; nothing outside src/platform/ and tests/unit/test_platform*.c
 * includes this header.
 */
#ifndef BOB_PLATFORM_LINUX_INT_H
#define BOB_PLATFORM_LINUX_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <sys/types.h>

#include "util/path.h"
#include "util/util.h"

/* The number of directory levels a tree walk keeps open (per walk). */
#define LX_OPEN_LEVELS 32

/* A sandbox root opened once, so every lookup is relative to its fd. */
struct lx_root {
    int fd;      /* O_RDONLY|O_DIRECTORY of the root, or -1 */
    char *path;  /* root as given, without trailing slashes */
    char *canon; /* its canonical host path (as /proc/self/mountinfo shows it) */
};

/*
 * Opens root (never following a symlink as its last component). Returns
 * -ENOENT with e set when it does not exist.
 */
int lx_root_open(struct lx_root *r, const char *root, struct err *e);
void lx_root_close(struct lx_root *r);

/* Sets e to the message (no strerror appended), e->code to errnum; returns -errnum. */
int lx_err(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The host path of guest in r for messages: r->path + normalised guest. */
char *lx_host(const struct lx_root *r, const char *guest);

/* openat2(2) with O_CLOEXEC added; returns the fd or a negative errno. */
int lx_openat2(int dirfd, const char *path, int flags, uint64_t resolve);
/* The resolve flags of every lookup inside a sandbox. */
#define LX_BENEATH (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

/* Joins comps[from, to) with "/"; "." when the range is empty. */
char *lx_join(const struct strv *comps, size_t from, size_t to);

/* The canonical form of a host path: realpath when it exists, else without trailing slashes. */
char *lx_canonical(const char *path);

/* The canonical path of an fd (readlink of /proc/self/fd/N), malloc'd, or NULL. */
char *lx_fd_path(int fd);

/*
 * Opens the parent directory of guest beneath r (O_PATH) and returns it in
 * *pfd with the last component in *name (malloc'd). With create, missing
 * parents are made (mode 0755 whatever the umask); without it a missing
 * parent gives -ENOENT with no message. Escapes give -EXDEV with
 * "Path escapes sandbox: <guest> resolves outside <root>". Guest "/" (no
 * last component) and a last component ".." give -EINVAL.
 */
int lx_parent(struct lx_root *r, const char *guest, bool create, int *pfd, char **name,
              struct err *e);

/*
 * Opens (O_PATH) the deepest existing prefix of comps beneath r; *nexist is
 * its number of components (comps->n when the whole path exists).
 */
int lx_lookup(struct lx_root *r, const struct strv *comps, const char *guest, int *fd,
              size_t *nexist, struct err *e);

/* The mount id of an fd (statx STATX_MNT_ID), or a negative errno. */
int lx_mnt_id(int fd, uint64_t *id);

/* Reads /proc/self/mountinfo into entries in file order (paths unescaped). */
struct lx_mount {
    int id, parent;
    char *path;
    char *fstype;
    char *optional; /* optional fields ("shared:1 master:2"), "" if none */
};
int lx_mountinfo(struct lx_mount **v, size_t *n, struct err *e);
void lx_mountinfo_free(struct lx_mount *v, size_t n);
/* Unescapes the octal escapes (\040, \011, \012, \134) of a mountinfo path in place. */
void lx_unescape(char *s);

/*
 * The indexes of the entries at or below canonical path `under`, in the
 * order they can be unmounted: children before parents, the top of a stack
 * of mounts before the one it covers. *idx is malloc'd.
 */
void lx_mounts_select(const struct lx_mount *v, size_t n, const char *under, size_t **idx,
                      size_t *cnt);

/*
 * True when mounts are made with mount(2) instead of the new mount API:
 * BOB_NO_NEWMOUNT is set, or the new API answered ENOSYS (valgrind, old
 * kernels) to an earlier mount. See linux_mount.c.
 */
bool lx_mount_classic(void);

/*
 * Unmounts everything at or below canonical host path `path` (beneath r);
 * with keep_root, not a mount at r's root itself (the sandbox's own tmpfs).
 */
int lx_unmount_under(struct lx_root *r, const char *path, bool keep_root, struct err *e);

/*
 * Empties the directory dirfd (O_RDONLY|O_DIRECTORY, on mount mnt_id)
 * without removing it: the walk behind plat_remove. `path` names dirfd in
 * messages. Exposed for the unit tests, which exercise the mount id check
 * without the mountinfo check in front of it.
 */
int lx_remove_contents(int dirfd, const char *path, uint64_t mnt_id, const atomic_bool *cancel,
                       struct err *e);

#endif
