/*
 * Who holds a sandbox. A running bob holds every sandbox it uses with an
 * exclusive flock on a descriptor of the sandbox directory <basedir>/<id>
 * itself, which it keeps open while it uses it: the kernel drops the lock
 * when bob dies, so there is no stale pid to guess about. The directory is
 * locked rather than .bob because a job cannot replace its own root, while
 * it can replace /.bob. The lock is taken before .bob exists: a claim makes
 * .bob-claim (holding the owner record) under the lock and renames it to
 * .bob, so no other bob ever sees a half-claimed sandbox unlocked.
 *
 * .bob/owner holds "<pid> <command>" ("4711 build"); it is believed only
 * while the lock is held, and only when /proc/locks names the same pid (a
 * job could have written it). Everything here opens the sandbox and its
 * markers without following a symlink, and a mount at <basedir>/<id>
 * itself is never taken for a sandbox, unless it is the sandbox's own root
 * tmpfs (sandboxes.tmpfs_root, PLAT_ROOT_SOURCE): then the lock and .bob
 * are on that tmpfs, and the claimed directory beneath it keeps its own
 * .bob until the tmpfs is detached, last of all.
 */
#ifndef BOB_OWNER_H
#define BOB_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/util.h"

#define OWNER_MARKER ".bob"
#define OWNER_CLAIM ".bob-claim"

/* The holder of a sandbox, as far as it can be told. */
struct owner_holder {
    pid_t pid;    /* 0: not known */
    char cmd[64]; /* "build", "sandbox run"; "" when the record is missing or not believed */
};

/*
 * Opens <basedir>/<id> as a sandbox directory: a real directory (never
 * through a symlink), not a mount point. 0 with *fd, -ENOENT when missing,
 * -ENOTDIR for a symlink or a file, -EXDEV for a mount point.
 */
int owner_open_root(const char *basedir, unsigned id, int *fd);
/* The .bob directory of an open sandbox (never a symlink): a descriptor, or -errno. */
int owner_open_marker(int rootfd);
/*
 * Takes the lock on an open sandbox for this process and writes the owner
 * record (cmd) when there is a .bob directory. -EWOULDBLOCK when another
 * process holds it (h filled).
 */
int owner_lock(int rootfd, const char *cmd, struct owner_holder *h);
/* Whoever holds the lock on an open sandbox, without taking it: false when nobody does. */
bool owner_holder(int rootfd, struct owner_holder *h);
/* "sandbox 3: in use by bob build (pid 4711)" into e; returns -EBUSY. */
int owner_refuse(unsigned id, const struct owner_holder *h, struct err *e);
/*
 * Claims the lowest free id under basedir (which must exist): the returned
 * *fd holds the lock, and <basedir>/<id>/.bob exists with the owner record.
 * A directory with files of someone else's (no .bob) is never claimed.
 */
int owner_claim(const char *basedir, const char *cmd, unsigned *id, int *fd, struct err *e);
/*
 * Prepares the fresh root tmpfs of a claimed sandbox (the fill of
 * plat_root_tmpfs): takes the lock on its root (rootfd) and makes .bob
 * with the owner record, so that the sandbox is held and marked the moment
 * the tmpfs hides the claimed directory. *lockfd: the locked descriptor.
 */
int owner_adopt(int rootfd, const char *cmd, int *lockfd);
/*
 * The ids of the sandboxes under basedir, ascending: real directories, no
 * mount point, with a .bob (a directory, or what a job replaced it with).
 */
int owner_discover(const char *basedir, unsigned **ids, size_t *n, struct err *e);
/*
 * Removes what an interrupted create or destroy left: stale claim dirs and
 * empty numbered directories without .bob, each under its lock (a held one
 * is left alone). With report, a symlink, file or mount at <basedir>/<id>
 * is named in a warning and left as it is.
 */
void owner_prune(const char *basedir, bool report);

#endif
