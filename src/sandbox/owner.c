/* Holding sandboxes: the lock, the owner record, the claim, discovery. */
#include "sandbox/owner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "platform/platform.h"
#include "util/fault.h"

#define OWNER_MAX_ID 1000000

/*
 * Telling a mount at <basedir>/<id>: plat_is_mount_root answers for one
 * entry without reading the mount table; on an older
 * kernel the mount points under basedir are read once, canonical, on first
 * need.
 */
struct owner_mounts {
    const char *basedir; /* NULL: a fresh directory of ours, never a mount */
    bool loaded;
    char *canon; /* realpath of basedir */
    struct plat_mount_entry *v;
    size_t n;
};

static void owner_mounts_init(const char *basedir, struct owner_mounts *m)
{
    memset(m, 0, sizeof(*m));
    m->basedir = basedir;
}

static void owner_mounts_load(struct owner_mounts *m)
{
    struct err e;
    m->loaded = true;
    m->canon = m->basedir ? realpath(m->basedir, NULL) : NULL;
    if (m->canon && plat_mounts_under(m->canon, &m->v, &m->n, &e) < 0) {
        m->v = NULL;
        m->n = 0;
    }
}

static void owner_mounts_free(struct owner_mounts *m)
{
    plat_mounts_free(m->v, m->n);
    free(m->canon);
}

/*
 * Whether entry name of the open basedir is a mount point: 0 no, 1 yes, 2
 * yes, a sandbox's own root tmpfs (plat_root_tmpfs, told by its mark).
 */
static int owner_mount_kind(struct owner_mounts *m, int basefd, const char *name)
{
    size_t len;
    int r;
    if (!m->basedir)
        return 0;
    if ((r = plat_is_mount_root(basefd, name)) >= 0)
        return r == 0 ? 0 : plat_is_root_tmpfs(basefd, name) ? 2 : 1;
    if (!m->loaded)
        owner_mounts_load(m);
    if (!m->canon)
        return 0;
    len = strlen(m->canon);
    for (size_t i = 0; i < m->n; i++) {
        const char *p = m->v[i].path;
        if (strncmp(p, m->canon, len) == 0 && p[len] == '/' && strcmp(p + len + 1, name) == 0)
            return plat_is_root_tmpfs(basefd, name) ? 2 : 1;
    }
    return 0;
}

/* Opens entry name of the open basedir as a sandbox directory (see owner_open_root). */
static int owner_open_entry(int basefd, struct owner_mounts *m, const char *name, int *fd)
{
    struct stat st;
    if (fstatat(basefd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (owner_mount_kind(m, basefd, name) == 1)
        return -EXDEV;
    *fd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return *fd < 0 ? -errno : 0;
}

int owner_open_root(const char *basedir, unsigned id, int *fd)
{
    struct owner_mounts m;
    char name[16];
    int basefd = open(basedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;
    if (basefd < 0)
        return -errno;
    snprintf(name, sizeof(name), "%u", id);
    owner_mounts_init(basedir, &m);
    r = owner_open_entry(basefd, &m, name, fd);
    owner_mounts_free(&m);
    close(basefd);
    return r;
}

int owner_open_marker(int rootfd)
{
    int fd = openat(rootfd, OWNER_MARKER, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* The owner record: "<pid> <cmd>", padded with blanks to a fixed size, and a newline. */
#define OWNER_REC 64

/*
 * Writes the record as dirfd/owner. The record left by the last holder is
 * overwritten in place when it is a plain file of ours (one pwrite, no
 * change to the directory: a rename costs ext4 a journal commit, a fifth of
 * a `sandbox run`); otherwise a new file replaces it. A reader racing the
 * overwrite may see a mix of two records: it is only a description, the
 * lock is what counts.
 */
static int owner_write(int dirfd, const char *cmd)
{
    char line[OWNER_REC + 1];
    struct stat st;
    int fd, n, r = 0;
    n = snprintf(line, sizeof(line), "%ld %s", (long)getpid(), cmd && *cmd ? cmd : "bob");
    if (n < 0 || n > OWNER_REC - 1)
        n = OWNER_REC - 1;
    memset(line + n, ' ', (size_t)(OWNER_REC - 1 - n));
    line[OWNER_REC - 1] = '\n';
    fd = openat(dirfd, "owner", O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
                  st.st_size == OWNER_REC && pwrite(fd, line, OWNER_REC, 0) == OWNER_REC;
        if (close(fd) == 0 && ok)
            return 0;
    }
    (void)unlinkat(dirfd, "owner.new", 0);
    fd = openat(dirfd, "owner.new", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (write(fd, line, OWNER_REC) != OWNER_REC)
        r = errno ? -errno : -EIO;
    if (close(fd) != 0 && r == 0)
        r = -errno;
    if (r == 0 && renameat(dirfd, "owner.new", dirfd, "owner") != 0)
        r = -errno;
    if (r < 0)
        (void)unlinkat(dirfd, "owner.new", 0);
    return r;
}

/* Reads the owner record of the sandbox (never through a symlink); false when there is none. */
static bool owner_read(int rootfd, pid_t *pid, char *cmd, size_t cap)
{
    char buf[128], *sp, *end;
    struct stat st;
    ssize_t n;
    long v;
    int bfd = owner_open_marker(rootfd), fd;
    if (bfd < 0)
        return false;
    fd = openat(bfd, "owner", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    close(bfd);
    if (fd < 0)
        return false;
    n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof(buf) - 1) : -1;
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    v = strtol(buf, &sp, 10);
    if (sp == buf || *sp != ' ' || v <= 0)
        return false;
    sp++;
    end = strchr(sp, '\n');
    if (end)
        *end = '\0';
    for (end = sp + strlen(sp); end > sp && end[-1] == ' ';)
        *--end = '\0'; /* the padding */
    /* A job may have written it: printable characters only. */
    for (char *p = sp; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    *pid = (pid_t)v;
    snprintf(cmd, cap, "%s", sp);
    return true;
}

/* The pid holding a flock on the inode st, from /proc/locks (0 when none is seen). */
static pid_t owner_locks_pid(const struct stat *st)
{
    FILE *f = fopen("/proc/locks", "re");
    char line[256];
    pid_t found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f)) {
        char type[16];
        int pid;
        unsigned maj, min;
        unsigned long ino;
        if (strstr(line, "->")) /* a waiter, not the holder */
            continue;
        if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", type, &pid, &maj, &min, &ino) != 5)
            continue;
        if (strcmp(type, "FLOCK") == 0 && pid > 0 && maj == major(st->st_dev) &&
            min == minor(st->st_dev) && ino == st->st_ino)
            found = pid;
    }
    fclose(f);
    return found;
}

bool owner_holder(int rootfd, struct owner_holder *h)
{
    struct stat st;
    pid_t rpid = 0;
    char rcmd[sizeof(h->cmd)] = "";
    bool rec;
    memset(h, 0, sizeof(*h));
    if (fstat(rootfd, &st) < 0)
        return false;
    h->pid = owner_locks_pid(&st);
    rec = owner_read(rootfd, &rpid, rcmd, sizeof(rcmd));
    if (h->pid == 0)
        return false;
    if (rec && rpid == h->pid)
        snprintf(h->cmd, sizeof(h->cmd), "%s", rcmd);
    return true;
}

/* Fills h for a sandbox whose lock we could not take. */
static void owner_held(int rootfd, struct owner_holder *h)
{
    pid_t rpid = 0;
    char rcmd[sizeof(h->cmd)] = "";
    if (owner_holder(rootfd, h))
        return;
    /* Held, but the holder is not in our /proc/locks (another pid namespace): the record. */
    if (owner_read(rootfd, &rpid, rcmd, sizeof(rcmd))) {
        h->pid = rpid;
        snprintf(h->cmd, sizeof(h->cmd), "%s", rcmd);
    }
}

int owner_lock(int rootfd, const char *cmd, struct owner_holder *h)
{
    int bfd;
    memset(h, 0, sizeof(*h));
    if (flock(rootfd, LOCK_EX | LOCK_NB) != 0) {
        int r = -errno;
        if (r == -EWOULDBLOCK)
            owner_held(rootfd, h);
        return r;
    }
    bfd = owner_open_marker(rootfd);
    if (bfd >= 0) {
        (void)owner_write(bfd, cmd); /* only a description: the lock is what counts */
        close(bfd);
    }
    return 0;
}

int owner_refuse(unsigned id, const struct owner_holder *h, struct err *e)
{
    if (h->pid && h->cmd[0])
        err_set(e, "sandbox %u: in use by bob %s (pid %ld)", id, h->cmd, (long)h->pid);
    else if (h->pid)
        err_set(e, "sandbox %u: in use by pid %ld", id, (long)h->pid);
    else
        err_set(e, "sandbox %u: in use by another process", id);
    return -EBUSY;
}

/* Removes a stale claim dir (its owner record and itself) of a root we hold. */
static void owner_clear_claim(int rootfd)
{
    int cfd = openat(rootfd, OWNER_CLAIM, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd >= 0) {
        (void)unlinkat(cfd, "owner", 0);
        (void)unlinkat(cfd, "owner.new", 0);
        close(cfd);
    }
    (void)unlinkat(rootfd, OWNER_CLAIM, AT_REMOVEDIR);
}

/*
 * Of a root we hold the lock on: 1 when it is a sandbox (.bob, whatever it
 * is), 0 when empty once stale claims are gone, -1 when it has files of
 * someone else's.
 */
static int owner_root_kind(int rootfd)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int dfd, kind = 0;
    if (fstatat(rootfd, OWNER_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return 1;
    /* Anyone claiming holds the lock we hold now: a claim dir is stale. */
    owner_clear_claim(rootfd);
    dfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    while (kind == 0 && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            kind = -1;
    closedir(d);
    return kind;
}

/* Makes .bob of a locked, empty root: .bob-claim with the owner record, renamed. */
static int owner_mark(int rootfd, const char *cmd)
{
    int cfd, r;
    if (mkdirat(rootfd, OWNER_CLAIM, 0755) != 0)
        return -errno;
    cfd = openat(rootfd, OWNER_CLAIM, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0) {
        r = -errno;
        owner_clear_claim(rootfd);
        return r;
    }
    (void)fchmod(cfd, 0755);
    r = owner_write(cfd, cmd);
    close(cfd);
    if (r == 0 && renameat2(rootfd, OWNER_CLAIM, rootfd, OWNER_MARKER, RENAME_NOREPLACE) != 0)
        r = -errno;
    if (r < 0)
        owner_clear_claim(rootfd);
    return r;
}

int owner_claim(const char *basedir, const char *cmd, unsigned *id, int *out, struct err *e)
{
    struct owner_mounts m = {0};
    bool have_mounts = false;
    int basefd = open(basedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
    if (basefd < 0)
        return err_sys(e, errno, "cannot open %s", basedir);
    for (unsigned i = 0; i < OWNER_MAX_ID; i++) {
        char name[16];
        int fd, kind;
        bool fresh;
        snprintf(name, sizeof(name), "%u", i);
        if ((r = fault_check("mkdir")) < 0) {
            err_sys(e, -r, "cannot create %s/%s (injected)", basedir, name);
            goto out;
        }
        fresh = mkdirat(basefd, name, 0755) == 0;
        if (!fresh && errno != EEXIST) {
            r = err_sys(e, errno, "cannot create %s/%s", basedir, name);
            goto out;
        }
        if (!fresh && !have_mounts) {
            owner_mounts_init(basedir, &m);
            have_mounts = true;
        }
        r = owner_open_entry(basefd, have_mounts ? &m : &(struct owner_mounts){0}, name, &fd);
        if (r == -ENOENT) { /* pruned meanwhile by another bob: again */
            i--;
            continue;
        }
        if (r < 0) /* a symlink, a file or a mount: not ours */
            continue;
        if (fresh)
            (void)fchmod(fd, 0755);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd); /* held by a running bob */
            continue;
        }
        kind = owner_root_kind(fd);
        if (kind == 0) {
            r = owner_mark(fd, cmd);
            if (r == 0) {
                *id = i;
                *out = fd;
                goto out;
            }
            if (r != -EEXIST && r != -ENOENT) {
                err_sys(e, -r, "cannot create %s/%s/%s", basedir, name, OWNER_MARKER);
                close(fd);
                goto out;
            }
        }
        close(fd);
    }
    r = err_set(e, "no free sandbox id under %s", basedir);
out:
    if (have_mounts)
        owner_mounts_free(&m);
    close(basefd);
    return r;
}

int owner_adopt(int rootfd, const char *cmd, int *lockfd)
{
    int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;
    if (fd < 0)
        return -errno;
    r = flock(fd, LOCK_EX | LOCK_NB) != 0 ? -errno : owner_mark(fd, cmd);
    if (r < 0) {
        close(fd);
        return r;
    }
    *lockfd = fd;
    return 0;
}

static int owner_cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* The numeric entries of basedir ("07" and "7" are one id). */
static bool owner_entry_id(const char *name, unsigned *id)
{
    unsigned long v;
    if (!str_to_uint(name, &v) || v >= OWNER_MAX_ID)
        return false;
    *id = (unsigned)v;
    return true;
}

int owner_discover(const char *basedir, unsigned **ids, size_t *n, struct err *e)
{
    struct owner_mounts m;
    DIR *d = opendir(basedir);
    struct dirent *de;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return err_sys(e, errno, "cannot read %s", basedir);
    }
    owner_mounts_init(basedir, &m);
    while ((de = readdir(d))) {
        unsigned v;
        struct stat st;
        int fd;
        bool dup = false, marked;
        if (!owner_entry_id(de->d_name, &v) || owner_open_entry(dirfd(d), &m, de->d_name, &fd) < 0)
            continue;
        /* A .bob a job replaced by a file or a link still marks a sandbox (never followed). */
        marked = fstatat(fd, OWNER_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0;
        close(fd);
        for (size_t i = 0; i < *n; i++)
            dup |= (*ids)[i] == v;
        if (!marked || dup)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *ids = xrealloc(*ids, cap * sizeof(**ids));
        }
        (*ids)[(*n)++] = v;
    }
    owner_mounts_free(&m);
    closedir(d);
    if (*n)
        qsort(*ids, *n, sizeof(**ids), owner_cmp_uint);
    return 0;
}

void owner_prune(const char *basedir, bool report)
{
    struct owner_mounts m;
    DIR *d = opendir(basedir);
    struct dirent *de;
    if (!d)
        return;
    owner_mounts_init(basedir, &m);
    while ((de = readdir(d))) {
        unsigned v;
        struct stat st, now;
        int fd, r;
        if (!owner_entry_id(de->d_name, &v))
            continue;
        r = owner_open_entry(dirfd(d), &m, de->d_name, &fd);
        if (r == -ENOTDIR || r == -EXDEV) {
            if (report)
                log_warn("%s/%s is %s, not a sandbox: left as it is", basedir, de->d_name,
                         r == -EXDEV ? "a mount point" : "not a directory");
            continue;
        }
        if (r < 0)
            continue;
        /* Only under its lock, and only if it is still the entry we opened. */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && owner_root_kind(fd) == 0 && fstat(fd, &st) == 0 &&
            fstatat(dirfd(d), de->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_ino == now.st_ino && st.st_dev == now.st_dev)
            (void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR); /* fails unless empty */
        close(fd);
    }
    owner_mounts_free(&m);
    closedir(d);
}
