/* Unpacks the bootstrap kit into a sandbox with libarchive, safely and without chdir. */
#include "actions/bootstrap.h"

#include <archive.h>
#include <archive_entry.h>

#include "actions/archive_dl.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/ref.h"

#define BOOTSTRAP_BLOCK 65536
#define BOOTSTRAP_RETRIES 8
#define BOOTSTRAP_SHOWN 300 /* longest entry name put in a message as is */

/*
 * tar(1) as root: modes with setuid/setgid bits, numeric owners (no name
 * lookup: the sandbox's users are not the host's; ARCHIVE_EXTRACT_OWNER is
 * added only as root, as tar(1) restores owners only then), times. Not UNLINK: with
 * it libarchive removes a symlink in the middle of a path instead of
 * refusing to write through it. Not SECURE_NOABSOLUTEPATHS: every name is
 * checked here and then rewritten to an absolute path under the canonical
 * root, which the writer must accept.
 */
#define BOOTSTRAP_FLAGS                                                                            \
    (ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |               \
     ARCHIVE_EXTRACT_SECURE_NODOTDOT)

struct unpack {
    uv_work_t work;
    char *archive, *root;
    unpack_cb cb;
    void *data;
    size_t max_bytes;
    atomic_bool cancel; /* read by the thread-pool work */
    int status;
    struct err err;
    bool done;
    struct ref ref; /* util/ref.h: the owner, and the queued work until unpack_after */
};

/* A directory's times from the kit, set again at the end. */
struct dirtime {
    char *rel;
    struct timespec ts[2];
};

/* One extraction: the open archive, the disk writer and what messages need. */
struct xtract {
    const char *archive; /* as given, for messages */
    char *root;          /* canonical, no trailing slash */
    int rootfd;
    uint64_t rootmnt; /* the root's mount id: every entry must land on it */
    const atomic_bool *cancel;
    size_t max_bytes, used; /* the bound on the unpacked size, and what counted so far */
    struct archive *in, *out;
    struct err *e;
    struct dirtime *dirs; /* directory entries that already existed */
    size_t ndirs, capdirs;
};

/* Whether the caller asked the extraction to stop. */
static bool xtract_cancelled(const struct xtract *x)
{
    return x->cancel != NULL && atomic_load(x->cancel);
}

/* Fills the cancellation error and returns -ECANCELED. */
static int xtract_cancel_err(struct xtract *x)
{
    err_set(x->e, "unpack of %s cancelled", x->archive);
    x->e->code = ECANCELED;
    return -ECANCELED;
}

/*
 * Fills "cannot unpack <archive>: <entry>: <libarchive's reason>" and
 * returns -1. libarchive's messages leave the system's reason out ("Write
 * failed"), so strerror is added when it is not in the message already.
 */
static int xtract_entry_fail(struct xtract *x, const char *entry, struct archive *a)
{
    const char *msg = archive_error_string(a);
    int code = archive_errno(a);
    const char *why = code > 0 ? strerror(code) : NULL;

    if (msg == NULL)
        msg = why ? "" : "unknown error";
    if (why && strstr(msg, why) == NULL)
        err_set(x->e, "cannot unpack %s: %s: %s%s%s", x->archive, entry, msg, *msg ? ": " : "",
                why);
    else
        err_set(x->e, "cannot unpack %s: %s: %s", x->archive, entry, msg);
    x->e->code = code > 0 ? code : 0;
    return -1;
}

/* Keeps the message on one line whatever names or libarchive put in it. */
static void bootstrap_one_line(struct err *e)
{
    for (char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* The entry's name for messages, its middle cut when it is very long. */
static char *bootstrap_shown_name(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len <= BOOTSTRAP_SHOWN)
        return xstrdup(name ? name : "");
    return xasprintf("%.*s...%s", BOOTSTRAP_SHOWN / 2, name, name + len - BOOTSTRAP_SHOWN / 2);
}

/*
 * Turns an archive name into a clean relative path ("" for the root itself)
 * or refuses it: empty, absolute, or with a ".." component. "." components
 * and repeated slashes go, so "./usr//pkg/" becomes "usr/pkg".
 */
static int bootstrap_clean_name(const char *name, bool is_link, char **out, struct err *e)
{
    const char *what = is_link ? "hard link target " : "";
    struct buf b = {0};
    const char *p = name;

    if (name == NULL || *name == '\0')
        return err_set(e, "refusing empty %s", is_link ? "hard link target" : "name");
    if (*name == '/')
        return err_set(e, "refusing absolute %s '%s'", is_link ? "hard link target" : "path", name);
    while (*p) {
        const char *s = p;
        size_t n;
        while (*p && *p != '/')
            p++;
        n = (size_t)(p - s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            buf_free(&b);
            return err_set(e, "refusing '..' in %s'%s'", what, name);
        }
        if (n > 0 && !(n == 1 && s[0] == '.')) {
            if (b.len)
                buf_add(&b, "/", 1);
            buf_add(&b, s, n);
        }
        while (*p == '/')
            p++;
    }
    *out = b.p ? b.p : xstrdup("");
    return 0;
}

/*
 * The host path of a clean relative name, or NULL when it would reach
 * PATH_MAX: libarchive shortens such paths by chdir(), which would move the
 * whole process's working directory under the other threads.
 */
static char *xtract_host_path(const struct xtract *x, const char *rel)
{
    char *p = xasprintf("%s/%s", x->root, rel);
    if (strlen(p) >= PATH_MAX) {
        free(p);
        return NULL;
    }
    return p;
}

/*
 * Opens the directory that holds rel (clean, relative to the root) without
 * following any symlink on the way; *leaf points at the last component.
 * Returns the descriptor, or -1 when a parent is missing or is not a plain
 * directory (libarchive then decides, and refuses symlinks).
 */
static int xtract_open_parent(const struct xtract *x, const char *rel, const char **leaf)
{
    char comp[NAME_MAX + 1];
    const char *p = rel, *slash;
    int fd = dup(x->rootfd);

    while (fd >= 0 && (slash = strchr(p, '/')) != NULL) {
        size_t n = (size_t)(slash - p);
        int next = -1;
        if (n < sizeof(comp)) {
            memcpy(comp, p, n);
            comp[n] = '\0';
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        close(fd);
        fd = next;
        p = slash + 1;
    }
    *leaf = p;
    return fd;
}

/*
 * The mount id of name in directory fd ("" for fd itself), not following a
 * symlink; 0 or -errno. Where statx has no mount ids (Linux before 5.8, or
 * another OS) the device number stands in, which still tells a tmpfs or a
 * bind of another filesystem, though not a bind of the root's own. This
 * stays here, not in src/platform, to keep the unpack free of the
 * platform's per-call root resolution (one statx per entry is enough).
 */
static int bootstrap_mnt_id(int fd, const char *name, uint64_t *id)
{
    int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
    struct stat st;

#if defined(__linux__) && defined(STATX_MNT_ID)
    struct statx stx;
    if (statx(fd, name, flags, STATX_MNT_ID, &stx) < 0)
        return -errno;
    if (stx.stx_mask & STATX_MNT_ID) {
        *id = stx.stx_mnt_id;
        return 0;
    }
#endif
    if (fstatat(fd, name, &st, flags) != 0)
        return -errno;
    *id = (uint64_t)st.st_dev;
    return 0;
}

/*
 * Refuses rel (clean, relative to the root) when it would land on another
 * mount than the root's own, such as a writable bind of a host directory or
 * a tmpfs: the deepest directory of its path that exists, reached without
 * following a symlink, must be on the root's mount, and so must rel itself
 * when it exists (a bind of a single file, or a directory something is
 * mounted on, is a mount of its own). A symlink or a file in the way ends
 * the walk: libarchive refuses to write through the one and replaces the
 * other inside the directory checked here. 0, or -1 with e filled.
 */
static int xtract_check_mount(struct xtract *x, const char *rel, bool is_link)
{
    const char *what = is_link ? "hard link target " : "";
    char comp[NAME_MAX + 1];
    const char *p = rel, *slash;
    bool whole = true;
    uint64_t id = 0;
    int fd = dup(x->rootfd), rc;

    if (fd < 0)
        return err_sys(x->e, errno, "cannot check the mount of %s'%s'", what, rel);
    while ((slash = strchr(p, '/')) != NULL) {
        size_t n = (size_t)(slash - p);
        int next = -1;
        if (n < sizeof(comp)) {
            memcpy(comp, p, n);
            comp[n] = '\0';
            next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            whole = false;
            break;
        }
        close(fd);
        fd = next;
        p = slash + 1;
    }
    rc = bootstrap_mnt_id(fd, "", &id);
    if (rc == 0 && id == x->rootmnt && whole) {
        rc = bootstrap_mnt_id(fd, p, &id);
        if (rc == -ENOENT) {
            rc = 0;
            id = x->rootmnt;
        }
    }
    close(fd);
    if (rc < 0)
        return err_sys(x->e, -rc, "cannot check the mount of %s'%s'", what, rel);
    if (id != x->rootmnt) {
        err_set(x->e, "refusing %s'%s': it is on another mount than the sandbox root", what, rel);
        x->e->code = EXDEV;
        return -1;
    }
    return 0;
}

/*
 * Refuses what a kit has no business creating: block and character devices
 * (a 0666 node of the host's disk would hand it to every build) and sockets
 * (which libarchive cannot make anyway). FIFOs are kept: one reaches nothing
 * beyond the filesystem it is on, and a build may make its own.
 */
static int bootstrap_check_type(struct archive_entry *ent, struct err *e)
{
    const char *what;

    switch (archive_entry_filetype(ent)) {
    case AE_IFBLK:
        what = "block device";
        break;
    case AE_IFCHR:
        what = "character device";
        break;
    case AE_IFSOCK:
        what = "socket";
        break;
    default:
        return 0;
    }
    err_set(e, "refusing %s", what);
    e->code = EPERM;
    return -1;
}

/* Fills the message of the bound on the unpacked size and returns -1. */
static int xtract_bound_fail(struct xtract *x, const char *entry)
{
    err_set(x->e,
            "cannot unpack %s: %s: unpacked size would exceed the bound of %zu bytes "
            "(pkgsrc.bootstrap_max_size)",
            x->archive, entry, x->max_bytes);
    x->e->code = EFBIG;
    return -1;
}

/*
 * Counts the entry's header and its declared size against the bound before
 * anything of it is written (libarchive would decompress the data of a
 * skipped entry too). The data itself is counted as it comes, in
 * xtract_copy_data, should it be more than declared.
 */
static int xtract_charge(struct xtract *x, struct archive_entry *ent, const char *entry,
                         uint64_t *declared)
{
    la_int64_t size = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : 0;

    *declared = size > 0 ? (uint64_t)size : 0;
    if (x->max_bytes - x->used < BOOTSTRAP_ENTRY_COST ||
        *declared > x->max_bytes - x->used - BOOTSTRAP_ENTRY_COST)
        return xtract_bound_fail(x, entry);
    x->used += BOOTSTRAP_ENTRY_COST + (size_t)*declared;
    return 0;
}

/*
 * tar(1) for a hard link whose name already exists as a non-directory: an
 * entry that names the very file it links to is skipped, anything else in
 * the way is removed, so that unpacking a kit again over itself works.
 * Returns 1 to skip the entry, 0 to go on, or -1 with e filled.
 */
static int xtract_prepare_link(struct xtract *x, const char *rel, const char *target)
{
    struct stat ds, ts;
    const char *dleaf, *tleaf;
    int dfd, tfd, r = 0;

    dfd = xtract_open_parent(x, rel, &dleaf);
    if (dfd < 0)
        return 0;
    if (fstatat(dfd, dleaf, &ds, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(ds.st_mode)) {
        close(dfd);
        return 0;
    }
    /* A target that cannot be reached safely is left to libarchive's
     * checks; then nothing is removed here. */
    tfd = xtract_open_parent(x, target, &tleaf);
    if (tfd >= 0 && fstatat(tfd, tleaf, &ts, AT_SYMLINK_NOFOLLOW) == 0) {
        if (ts.st_dev == ds.st_dev && ts.st_ino == ds.st_ino)
            r = 1;
        else if (unlinkat(dfd, dleaf, 0) != 0 && errno != ENOENT) {
            err_sys(x->e, errno, "cannot remove existing '%s'", rel);
            r = -1;
        }
    }
    if (tfd >= 0)
        close(tfd);
    close(dfd);
    return r;
}

/*
 * libarchive defers the times of a directory it creates until the end, but
 * sets those of one that already exists (from an earlier unpack, or made
 * for an earlier entry's parent) at once, and the entries written into it
 * then change its mtime. Such directories are noted here and their times
 * set again once everything is written, as tar(1) does, so that a second
 * unpack gives the same tree.
 */
static void xtract_note_dir(struct xtract *x, const char *rel, struct archive_entry *ent)
{
    struct dirtime *d;
    struct stat st;
    const char *leaf;
    int fd;

    if (!archive_entry_mtime_is_set(ent))
        return;
    fd = xtract_open_parent(x, rel, &leaf);
    if (fd < 0)
        return;
    if (fstatat(fd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        if (x->ndirs == x->capdirs) {
            x->capdirs = x->capdirs ? 2 * x->capdirs : 16;
            x->dirs = xrealloc(x->dirs, x->capdirs * sizeof(*x->dirs));
        }
        d = &x->dirs[x->ndirs++];
        d->rel = xstrdup(rel);
        d->ts[0].tv_sec = archive_entry_atime(ent);
        d->ts[0].tv_nsec =
            archive_entry_atime_is_set(ent) ? archive_entry_atime_nsec(ent) : UTIME_OMIT;
        d->ts[1].tv_sec = archive_entry_mtime(ent);
        d->ts[1].tv_nsec = archive_entry_mtime_nsec(ent);
    }
    close(fd);
}

/* Sets the noted directories' times again, not through symlinks; failures are mere warnings. */
static void xtract_fix_dir_times(struct xtract *x)
{
    for (size_t i = 0; i < x->ndirs; i++) {
        const char *leaf;
        struct stat st;
        int fd = xtract_open_parent(x, x->dirs[i].rel, &leaf);
        if (fd < 0)
            continue;
        if (fstatat(fd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            (void)utimensat(fd, leaf, x->dirs[i].ts, AT_SYMLINK_NOFOLLOW);
        close(fd);
    }
}

/*
 * Copies the entry's data to the disk writer, checking for cancellation
 * between blocks and the bound on the unpacked size for data beyond what
 * the header declared. Any writer status but ARCHIVE_OK fails: libarchive
 * reports a failed write(2) (ENOSPC, EIO) and a short one as ARCHIVE_WARN.
 */
static int xtract_copy_data(struct xtract *x, const char *entry, uint64_t declared)
{
    uint64_t got = 0;
    const void *buf;
    size_t size;
    la_int64_t off;

    for (;;) {
        int r;
        la_ssize_t w;
        if (xtract_cancelled(x))
            return xtract_cancel_err(x);
        r = archive_read_data_block(x->in, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY)
            return xtract_entry_fail(x, entry, x->in);
        if (size == 0)
            continue;
        got += size;
        if (got > declared) {
            if (got - declared > x->max_bytes - x->used)
                return xtract_bound_fail(x, entry);
            x->used += (size_t)(got - declared);
            declared = got;
        }
        w = archive_write_data_block(x->out, buf, size, off);
        if (w != ARCHIVE_OK)
            return xtract_entry_fail(x, entry, x->out);
    }
}

/* Checks, rewrites and writes one entry. */
static int xtract_entry(struct xtract *x, struct archive_entry *ent)
{
    const char *name = archive_entry_pathname(ent);
    const char *link = archive_entry_hardlink(ent);
    char *entry = bootstrap_shown_name(name);
    char *rel = NULL, *host = NULL, *trel = NULL, *thost = NULL;
    uint64_t declared;
    int r = -1, w;

    if (xtract_charge(x, ent, entry, &declared) < 0)
        goto out;
    if (bootstrap_clean_name(name, false, &rel, x->e) < 0)
        goto refused;
    if (bootstrap_check_type(ent, x->e) < 0)
        goto refused;
    if (*rel == '\0') {
        /* "./": the sandbox root itself, whose mode and owner are bob's,
         * not the kit's; the tar crate bob uses skips it too. */
        if (link == NULL && archive_entry_filetype(ent) == AE_IFDIR) {
            r = 0;
            goto out;
        }
        err_set(x->e, "refusing '%s': it names the root itself", entry);
        goto refused;
    }
    if ((host = xtract_host_path(x, rel)) == NULL) {
        err_set(x->e, "name too long");
        goto refused;
    }
    if (xtract_check_mount(x, rel, false) < 0)
        goto refused;
    if (link != NULL) {
        if (bootstrap_clean_name(link, true, &trel, x->e) < 0)
            goto refused;
        if (*trel == '\0') {
            err_set(x->e, "refusing hard link to the root '%s'", link);
            goto refused;
        }
        if ((thost = xtract_host_path(x, trel)) == NULL) {
            err_set(x->e, "hard link target too long");
            goto refused;
        }
        if (xtract_check_mount(x, trel, true) < 0)
            goto refused;
        r = xtract_prepare_link(x, rel, trel);
        if (r < 0)
            goto refused;
        if (r == 1) {
            r = 0;
            goto out;
        }
        archive_entry_copy_hardlink(ent, thost);
    }
    if (link == NULL && archive_entry_filetype(ent) == AE_IFDIR)
        xtract_note_dir(x, rel, ent);
    archive_entry_copy_pathname(ent, host);

    /* Graded as bsdtar does for its exit status: any writer status but
     * ARCHIVE_OK fails. A warning there means an entry that is not what the
     * kit says: data cut short, or a mode, owner or time not restored. */
    w = archive_write_header(x->out, ent);
    if (w != ARCHIVE_OK) {
        r = xtract_entry_fail(x, entry, x->out);
        goto out;
    }
    r = xtract_copy_data(x, entry, declared);
    if (r < 0)
        goto out;
    w = archive_write_finish_entry(x->out);
    r = w != ARCHIVE_OK ? xtract_entry_fail(x, entry, x->out) : 0;
    goto out;

refused:
    err_prefix(x->e, "cannot unpack %s: %s", x->archive, entry);
    r = -1;
out:
    free(entry);
    free(rel);
    free(host);
    free(trel);
    free(thost);
    return r;
}

/* Reads the headers one by one and extracts each entry. */
static int xtract_all(struct xtract *x)
{
    struct archive_entry *ent;
    bool first = true;
    int retries = 0;

    for (;;) {
        int r;
        if (xtract_cancelled(x))
            return xtract_cancel_err(x);
        r = archive_read_next_header(x->in, &ent);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r == ARCHIVE_RETRY && ++retries < BOOTSTRAP_RETRIES)
            continue;
        if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY) {
            const char *msg = archive_error_string(x->in);
            /* Before the first entry the file is not a readable archive. */
            err_set(x->e, "cannot %s %s: %s", first ? "open bootstrap" : "unpack", x->archive,
                    msg ? msg : "unknown error");
            x->e->code = archive_errno(x->in) > 0 ? archive_errno(x->in) : 0;
            return -1;
        }
        /* ARCHIVE_WARN: the entry is usable; the warning is dropped. */
        retries = 0;
        first = false;
        if (xtract_cancelled(x))
            return xtract_cancel_err(x);
        r = xtract_entry(x, ent);
        if (r < 0)
            return r;
    }
}

int bootstrap_extract(const char *archive, const char *root, size_t max_bytes,
                      const atomic_bool *cancel, struct err *e)
{
    struct xtract x = {.archive = archive, .rootfd = -1, .cancel = cancel, .e = e};
    struct stat st;
    int fd, r = -1;
    int flags = BOOTSTRAP_FLAGS | (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0);

    if (archive_dl_load(e) < 0)
        return -1;
    fd = open(archive, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, errno, "cannot open bootstrap %s", archive);
    if (fstat(fd, &st) != 0) {
        r = err_sys(e, errno, "cannot open bootstrap %s", archive);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        r = err_sys(e, EISDIR, "cannot open bootstrap %s", archive);
        goto out;
    }
    x.max_bytes = max_bytes;
    if (x.max_bytes == 0) {
        uint64_t size = S_ISREG(st.st_mode) && st.st_size > 0 ? (uint64_t)st.st_size : 0;
        x.max_bytes = BOOTSTRAP_MAX_FLOOR;
        if (size > (uint64_t)SIZE_MAX / BOOTSTRAP_MAX_RATIO)
            x.max_bytes = SIZE_MAX;
        else if (size * BOOTSTRAP_MAX_RATIO > BOOTSTRAP_MAX_FLOOR)
            x.max_bytes = (size_t)size * BOOTSTRAP_MAX_RATIO;
    }
    x.root = realpath(root, NULL);
    if (x.root == NULL) {
        r = err_sys(e, errno, "cannot unpack %s: %s", archive, root);
        goto out;
    }
    if (strcmp(x.root, "/") == 0) {
        r = err_set(e, "cannot unpack %s: refusing to unpack into /", archive);
        goto out;
    }
    x.rootfd = open(x.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x.rootfd < 0) {
        r = err_sys(e, errno, "cannot unpack %s: %s", archive, root);
        goto out;
    }
    r = bootstrap_mnt_id(x.rootfd, "", &x.rootmnt);
    if (r < 0) {
        r = err_sys(e, -r, "cannot unpack %s: %s", archive, root);
        goto out;
    }
    r = -1;

    x.in = archive_read_new();
    x.out = archive_write_disk_new();
    if (x.in == NULL || x.out == NULL) {
        r = err_sys(e, ENOMEM, "cannot unpack %s", archive);
        goto out;
    }
    archive_read_support_filter_all(x.in);
    /* tar only (ustar, pax, GNU): format_all would take mtree too, whose
     * "archive" names files on the host to copy into the sandbox. */
    archive_read_support_format_tar(x.in);
    if (archive_read_open_fd(x.in, fd, BOOTSTRAP_BLOCK) != ARCHIVE_OK) {
        const char *msg = archive_error_string(x.in);
        r = err_set(e, "cannot open bootstrap %s: %s", archive, msg ? msg : "unknown error");
        goto out;
    }
    archive_write_disk_set_options(x.out, flags);
    /* A kit stored inside the sandbox must not overwrite itself. */
    archive_write_disk_set_skip_file(x.out, (la_int64_t)st.st_dev, (la_int64_t)st.st_ino);

    r = xtract_all(&x);
    if (r == 0) {
        /* Directories get their final modes and times here. */
        int c = archive_write_close(x.out);
        if (c != ARCHIVE_OK) {
            const char *msg = archive_error_string(x.out);
            r = err_set(e, "cannot unpack %s: %s", archive, msg ? msg : "unknown error");
            e->code = archive_errno(x.out) > 0 ? archive_errno(x.out) : 0;
        } else {
            xtract_fix_dir_times(&x);
        }
    }

out:
    if (x.in)
        archive_read_free(x.in);
    if (x.out)
        archive_write_free(x.out);
    if (x.rootfd >= 0)
        close(x.rootfd);
    for (size_t i = 0; i < x.ndirs; i++)
        free(x.dirs[i].rel);
    free(x.dirs);
    free(x.root);
    close(fd);
    if (r < 0)
        bootstrap_one_line(e);
    return r;
}

/* Thread pool: the whole extraction. */
static void unpack_work(uv_work_t *w)
{
    struct unpack *u = w->data;
    err_clear(&u->err);
    u->status = bootstrap_extract(u->archive, u->root, u->max_bytes, &u->cancel, &u->err);
}

/* Frees the unpack's memory. */
static void unpack_release(struct ref *r)
{
    struct unpack *u = REF_CONTAINER(r, struct unpack, ref);
    free(u->archive);
    free(u->root);
    free(u);
}

/* On the loop: reports the result once (unless freed), then drops the work's hold. */
static void unpack_after(uv_work_t *w, int status)
{
    struct unpack *u = w->data;

    if (status == UV_ECANCELED) {
        err_set(&u->err, "unpack of %s cancelled", u->archive);
        u->err.code = ECANCELED;
        u->status = -ECANCELED;
    }
    u->done = true;
    if (!u->ref.free_requested && u->cb)
        u->cb(u, u->status, u->status < 0 ? &u->err : NULL, u->data);
    ref_drop(&u->ref); /* the work's hold, last: the callback may have freed it */
}

struct unpack *unpack_start(uv_loop_t *loop, const char *archive, const char *root,
                            size_t max_bytes, unpack_cb cb, void *data)
{
    struct unpack *u = xcalloc(1, sizeof(*u));

    atomic_init(&u->cancel, false);
    u->archive = xstrdup(archive);
    u->root = xstrdup(root);
    u->max_bytes = max_bytes;
    u->cb = cb;
    u->data = data;
    u->work.data = u;
    ref_init(&u->ref, unpack_release);
    if (uv_queue_work(loop, &u->work, unpack_work, unpack_after) != 0) {
        ref_request_free(&u->ref);
        return NULL;
    }
    ref_hold(&u->ref);
    return u;
}

void unpack_cancel(struct unpack *u)
{
    if (u == NULL || u->done)
        return;
    atomic_store(&u->cancel, true);
    /* Succeeds only while the work is still queued; a running one sees
     * the flag. */
    uv_cancel((uv_req_t *)&u->work);
}

void unpack_free(struct unpack *u)
{
    if (u == NULL)
        return;
    if (!u->done)
        unpack_cancel(u);
    ref_request_free(&u->ref);
}
