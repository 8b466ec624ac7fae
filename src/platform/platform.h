/*
 * The operating-system boundary: mounts, process discovery, safe removal
 * and path resolution inside a sandbox. Linux is implemented in linux_*.c
 * (one file per topic); another OS gets files of its own behind this same
 * header. The platform takes plain values of its own (struct
 * plat_mount_spec, paths, flags), never the configuration's types.
 *
 * Every function is synchronous and may block on the filesystem, so the
 * lifecycle calls them from the libuv thread pool (or, where they are
 * cheap and bounded, from the loop). None of them sleeps or retries:
 * retrying with backoff is the caller's job, on loop timers.
 *
 * The fault points of tests (BOB_FAULT, util/fault.h) sit here, one check
 * per kind at the start of the function that does it: "mount" (plat_mount),
 * "umount" (plat_unmount), "copy" (plat_copy), "unlink" (plat_remove and
 * plat_remove_sandbox), "symlink" (plat_symlink and plat_remove_symlink).
 *
 * Conventions: 0 on success, a negative errno on failure with `e` filled
 * with one line naming the path and the reason. "root" is the host path of
 * a sandbox (<basedir>/<id>); "guest" is an absolute path as seen inside it.
 */
#ifndef BOB_PLATFORM_H
#define BOB_PLATFORM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/util.h"

/* One-time process set-up (nothing on Linux). */
int plat_init(struct err *e);

/*
 * Resolves guest beneath root without ever leaving it: `..` and symlinks
 * (absolute or relative, made by earlier actions or by builds) that would
 * lead outside root are refused with
 * "Path escapes sandbox: <guest> resolves outside <root>".
 * Missing trailing components are allowed. On success *host is a malloc'd
 * host path (root + resolved guest path).
 */
int plat_resolve(const char *root, const char *guest, char **host, struct err *e);

/* The kinds of filesystem plat_mount makes. */
enum plat_fs {
    PLAT_FS_NONE, /* refused: "unsupported filesystem type" */
    PLAT_FS_BIND, /* a bind of host path src (a directory or a file) */
    PLAT_FS_DEV,  /* a private /dev (see plat_mount) */
    PLAT_FS_FD,   /* a bind of /dev/fd */
    PLAT_FS_NFS,  /* NFS, source src ("host:/path") */
    PLAT_FS_PROC, /* a new proc */
    PLAT_FS_TMP,  /* a new tmpfs */
};

/* One mount to make: plain values, filled by the caller from its own records. */
struct plat_mount_spec {
    enum plat_fs fs;
    const char *name; /* the filesystem as the user wrote it, for messages ("tmp", "null") */
    const char *src;  /* host path of a bind, or the NFS source; NULL otherwise */
    const char *dest; /* guest path of the mount point */
    const char *opts; /* options, comma- or space-separated ("ro,nosuid size=1m"), or NULL */
};

/*
 * Mounts spec in the sandbox at root. Creates the
 * mount point (mode 0755 directories, or an empty file when a bind source
 * is not a directory) beneath root when it is missing. Every mount is made
 * private. A read-only bind is read-only before this returns; if making it
 * read-only fails, the bind is undone. PLAT_FS_DEV builds a private /dev (tmpfs
 * with device nodes, fd/stdin/stdout/stderr links, shm, a new devpts
 * instance with ptmx); the host's /dev is never exposed.
 */
int plat_mount(const char *root, const struct plat_mount_spec *spec, struct err *e);
/*
 * Checks spec's options without mounting: a bind takes flags only, and the
 * kernel is asked about a tmp's or proc's parameters (as root, with the new
 * mount API; otherwise they are not checked here). 0, or negative with e.
 */
int plat_mount_check(const struct plat_mount_spec *spec, struct err *e);

/*
 * Unmounts everything mounted at or below the guest path dest in the
 * sandbox at root, deepest first. One attempt each: returns -EBUSY (with e
 * naming the mount and the processes holding it) when a mount is busy, so
 * that the caller can retry on a timer. Nothing mounted there: 0.
 */
int plat_unmount(const char *root, const char *dest, struct err *e);

/* One entry of the mount table. */
struct plat_mount_entry {
    int id, parent;
    char *path;   /* mount point, unescaped */
    char *fstype; /* "tmpfs", "proc", ... */
};

/*
 * A sandbox's own root tmpfs (sandboxes.tmpfs_root). plat_root_tmpfs
 * mounts a tmpfs with source PLAT_ROOT_SOURCE and the options opts (mode
 * 0755 and size PLAT_ROOT_SIZE of the memory unless they set them) over the directory dirfd, a
 * sandbox under basedir that the caller has opened and locked. fill(fd of its root, arg) prepares
 * it (bob's marker and lock) before anyone else can see it with the new mount API, and just after
 * the mount with mount(2); a negative errno from fill fails it. On failure nothing stays mounted.
 *
 * Such a tmpfs is told by its mark, an attribute on its root that only
 * CAP_SYS_ADMIN can set (no job has it): plat_is_root_tmpfs says whether
 * entry name of dirfd is one. plat_root_tmpfs_detach, after the sweep,
 * detaches the tmpfs at path: 1 when it did, 0 when path is no mount point,
 * -EXDEV (e) when the mount there is not such a tmpfs (left as it is).
 */
#define PLAT_ROOT_SOURCE "bob-root"
#define PLAT_ROOT_SIZE "25%" /* its size unless opts give one */
int plat_root_tmpfs(const char *basedir, int dirfd, const char *opts,
                    int (*fill)(int rootfd, void *arg), void *arg, struct err *e);
bool plat_is_root_tmpfs(int dirfd, const char *name);
int plat_root_tmpfs_detach(const char *path, struct err *e);

/*
 * The bootstrap kit as overlays (linux_kit.c). plat_kit_tmpfs mounts a
 * tmpfs at host path `path` (made when missing) for the kit to be unpacked
 * into once, and gives an fd of its root; call it only in a mount
 * namespace of the process's own (plat_own_mount_ns), which the tmpfs goes
 * with. -ENOTSUP (e says why) without the new mount API or overlayfs: the
 * caller then unpacks the kit for each job. plat_kit_tmpfs_drop detaches
 * it again (overlays on it keep it until they go).
 */
int plat_kit_tmpfs(const char *path, int *fd, struct err *e);
void plat_kit_tmpfs_drop(const char *path);
/*
 * Whether the unpacked kit (kitfd) holds nothing but the targets (absolute
 * guest paths, none below another) and the directories on the way to
 * them, each target a directory: 0, or negative with e naming what is not.
 */
int plat_kit_check(int kitfd, const struct strv *targets, struct err *e);
/*
 * Mounts, in the sandbox at root, an overlay at each target: the kit's
 * directory of that name (read-only) under an upper layer in guest
 * directory <upper>/<i> (made beneath root). Undo with plat_unmount of
 * each target and plat_remove of upper. On failure nothing stays mounted.
 */
int plat_kit_attach(const char *root, int kitfd, const struct strv *targets, const char *upper,
                    struct err *e);

/*
 * Whether entry `name` of directory dirfd (not followed if a symlink) is
 * the root of a mount: 1 or 0, without reading the mount table; -ENOTSUP
 * where the kernel cannot tell (before Linux 5.8: use plat_mounts_under),
 * or a negative errno.
 */
int plat_is_mount_root(int dirfd, const char *name);

/*
 * The mounts at or below host path `under`, deepest (last mounted) first,
 * read from /proc/self/mountinfo. Free with plat_mounts_free.
 */
int plat_mounts_under(const char *under, struct plat_mount_entry **v, size_t *n, struct err *e);
void plat_mounts_free(struct plat_mount_entry *v, size_t n);

/*
 * The processes whose root directory is root or below it (processes running
 * inside the sandbox), found by scanning /proc. Never includes the caller.
 * *pids is malloc'd.
 */
int plat_find_pids(const char *root, pid_t **pids, size_t *n, struct err *e);

/*
 * "Started since": the processes a command started, told from those that
 * were there before it without a snapshot of them. A process in the
 * sandbox counts when it started after the command's first process (its
 * start time, in clock ticks, is later; or the same tick and its pid is not
 * lower). While the command is young (PLAT_SINCE_QUICK_MS), pids cannot
 * have gone round pid_max, so only the pids from the first one to the last
 * one handed out are looked at, not all of /proc.
 */
#define PLAT_SINCE_QUICK_MS 20.0
#define PLAT_SINCE_QUICK_PIDS 4096
struct plat_since {
    pid_t first;              /* the command's first process */
    unsigned long long start; /* its start time, clock ticks since boot */
    double at_ms;             /* when it was marked (now_ms) */
};
/* Marks the start of first (right after it was started, before it is reaped). */
int plat_since_mark(pid_t first, struct plat_since *s);
/* The processes at or below root that started since s; *pids is malloc'd. */
int plat_find_pids_since(const char *root, const struct plat_since *s, pid_t **pids, size_t *n,
                         struct err *e);

/*
 * Describes the processes that hold host path `path` busy (root, cwd, open
 * files or mappings at or below it) as "pid 4711 make, pid 4712 sh" into out.
 * Empty string when none is found.
 */
void plat_describe_holders(const char *path, char *out, size_t n);

/* Sends sig to every pid; pids that are already gone are not an error. */
void plat_kill_pids(const pid_t *pids, size_t n, int sig);

/*
 * Copies host path src (file or tree) to guest path dest in root: regular
 * files, directories and symlinks (never followed), with modes and mtimes;
 * sockets, fifos and devices are skipped. Parents are created 0755.
 * *cancel is read between entries: when it becomes true the copy stops
 * with -ECANCELED.
 */
int plat_copy(const char *root, const char *src, const char *dest, const atomic_bool *cancel,
              struct err *e);

/*
 * Opens a new pty of the devpts instance mounted at root/dev/pts (a private
 * /dev, fs = "dev"): *master and *slave, close-on-exec, no controlling
 * terminal taken. Fails (ENOENT, ENODEV) when there is no devpts there.
 */
int plat_pty_open(const char *root, int *master, int *slave, struct err *e);

/* Creates the symlink guest `dest` -> target in root (parents 0755). */
int plat_symlink(const char *root, const char *target, const char *dest, struct err *e);

/*
 * Removes the whole sandbox at root as plat_remove(root, "/") does, but
 * reads the mount table only once, and removes the top-level entry `last`
 * (the ".bob" marker) after every other entry and before root itself, so
 * that a sandbox whose removal fails half-way is still discoverable.
 */
int plat_remove_sandbox(const char *root, const char *last, const atomic_bool *cancel,
                        struct err *e);

/*
 * Removes the symlink guest `dest` in root (the link itself), resolving its
 * parent beneath root, so that a build that replaced a parent directory by
 * a link cannot make it remove a link on the host. A missing path, or one
 * that is not a symlink (any more), is left alone and is not an error.
 */
int plat_remove_symlink(const char *root, const char *dest, struct err *e);

/*
 * Removes guest path `guest` in root and everything below it, relative to
 * directory file descriptors: never follows a symlink (the link itself is
 * removed), never descends into a directory on another mount than root's
 * own (compared by mount id), and refuses, naming the path, when anything
 * at or below it is still mounted. A missing path is not an error.
 * guest "/" removes the whole sandbox directory root itself.
 */
int plat_remove(const char *root, const char *guest, const atomic_bool *cancel, struct err *e);

/*
 * Whether the parent directory of guest path `guest` is on the sandbox
 * root's own mount: 1 yes, 0 no (it lies inside a mount, such as a tmpfs
 * of the sandbox or a bind of a host directory), negative on error. A
 * missing parent counts as yes (there is nothing to remove).
 */
int plat_on_root_mount(const char *root, const char *guest, struct err *e);

/*
 * A lock of bob's own on a name: a file only root can open, in /run/bob,
 * named by kind and a hash of path (/run/bob/KIND-HASH.lock), so that
 * nobody else can take it and it outlives the thing named (a directory
 * removed and made again). The files stay until boot (a few bytes each):
 * removing one could race another bob taking it. wait: block until it is
 * free (for locks held for a few system calls). Returns the fd that holds
 * it, -EWOULDBLOCK when another holds it, or another negative errno when
 * there is no such lock here (not root, a read-only /run, a /run/bob that
 * is not root's alone): the caller goes on without it.
 */
int plat_name_lock(const char *kind, const char *path, bool wait);

/*
 * Makes sure that mounts made below basedir cannot propagate anywhere: if
 * the mount that holds basedir is shared (as / is on a systemd host),
 * basedir is bound onto itself once and made private. Nothing is done when
 * the propagation is already private or when basedir already is such a
 * mount. basedir must exist.
 */
int plat_isolate_basedir(const char *basedir, struct err *e);

/*
 * Moves this process into a mount namespace of its own, with every mount
 * private, so that what it mounts from now on is seen by nobody else and
 * goes away with it, also when it is SIGKILLed (a bulk build's sandboxes).
 * Must be called before any thread is started (the libuv thread pool
 * starts with the first queued work): -EINVAL otherwise.
 */
int plat_own_mount_ns(struct err *e);

/*
 * Removes the empty directories from guest path `guest` upward, stopping at
 * the first that is not empty (or at root, which is kept).
 */
void plat_prune_empty(const char *root, const char *guest);

#endif
