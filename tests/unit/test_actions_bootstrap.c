/*
 * Unit tests of src/actions/bootstrap.c: kits are written in the test with
 * libarchive's writer under a mkdtemp directory (<base>/arch), unpacked into
 * <base>/root, and <base>/host stands for the host outside the sandbox.
 * Ownership and setuid need root; as another user that test skips itself.
 * Cancellation is made deterministic by feeding the archive through a FIFO
 * and setting the flag before the rest of the bytes exist. The kit cases of
 * containment (a full disk, devices, binds and tmpfs inside the root, bombs)
 * mount inside the root as root; tests/run-private runs the binary in a
 * private mount namespace, so a failing test leaves no mount behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "actions/bootstrap.h"

static char g_top[64];   /* the test's mkdtemp directory */
static char g_base[80];  /* <top>/t, so that "../x" from it is still the test's own */
static char g_root[128]; /* <base>/root: the sandbox */
static char g_host[128]; /* <base>/host: outside the sandbox, holds "secret" */
static char g_arch[128]; /* <base>/arch: the kits */

/* ---- helpers ---- */

/* Joins dir and rel into one of a few rotating static buffers. */
static char *path_in(const char *dir, const char *rel)
{
    static char bufs[8][PATH_MAX * 2];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, rel);
    return b;
}

#define R(rel) path_in(g_root, rel)
#define H(rel) path_in(g_host, rel)
#define A(rel) path_in(g_arch, rel)

/* Creates a file with the given contents. */
static void write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(close(fd), 0);
}

/* The file's contents (at most 255 bytes) into a static buffer, or NULL. */
static const char *read_small(const char *path)
{
    static char buf[256];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

/* A whole file into memory. */
static unsigned char *read_all(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    p = xmalloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The sorted names in a directory, joined by commas. */
static const char *names(const char *dir)
{
    static char out[4096];
    struct strv v = {0};
    struct dirent *d;
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    while ((d = readdir(dp)) != NULL)
        if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, ".."))
            strv_push(&v, d->d_name);
    closedir(dp);
    strv_sort(&v);
    out[0] = '\0';
    for (size_t i = 0; i < v.n; i++) {
        if (i)
            strncat(out, ",", sizeof(out) - strlen(out) - 1);
        strncat(out, v.v[i], sizeof(out) - strlen(out) - 1);
    }
    strv_free(&v);
    return out;
}

/* A byte of the repeatable filler used for file data without explicit contents. */
static unsigned char filler(size_t i)
{
    return (unsigned char)('a' + (i * 7 + i / 4096) % 26);
}

/*
 * One archive entry: 'f' file, 'd' directory, 'l' symlink, 'h' hard link,
 * 'b' block device, 'c' character device, 'p' FIFO (size: the device number).
 */
struct ent {
    char type;
    const char *path;
    unsigned mode;    /* permission bits, setuid & co included */
    const char *data; /* contents of a file, target of a link */
    size_t size;      /* size of filler data when data is NULL */
    long uid, gid;
    time_t mtime; /* 0: a fixed default */
};

#define DEFAULT_MTIME 1500000000

/* Writes a pax tar (gzip'd or plain) of the entries. */
static void make_archive(const char *path, const struct ent *ents, size_t n, bool gzip)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    if (gzip)
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const struct ent *en = &ents[i];
        struct archive_entry *e = archive_entry_new();
        size_t size = 0;
        archive_entry_set_pathname(e, en->path);
        archive_entry_set_uid(e, en->uid);
        archive_entry_set_gid(e, en->gid);
        archive_entry_set_mtime(e, en->mtime ? en->mtime : DEFAULT_MTIME, 0);
        switch (en->type) {
        case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, en->mode);
            break;
        case 'f':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, en->mode);
            size = en->data ? strlen(en->data) : en->size;
            break;
        case 'l':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_symlink(e, en->data);
            break;
        case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, en->mode ? en->mode : 0644);
            archive_entry_set_hardlink(e, en->data);
            break;
        case 'b':
        case 'c':
        case 'p':
            archive_entry_set_filetype(e, en->type == 'b'   ? AE_IFBLK
                                          : en->type == 'c' ? AE_IFCHR
                                                            : AE_IFIFO);
            archive_entry_set_perm(e, en->mode);
            archive_entry_set_rdev(e, (dev_t)en->size);
            break;
        default:
            fail_msg("bad entry type %c", en->type);
        }
        archive_entry_set_size(e, (la_int64_t)size);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (en->data && en->type == 'f') {
            assert_int_equal(archive_write_data(a, en->data, size), (la_ssize_t)size);
        } else if (size) {
            unsigned char chunk[65536];
            for (size_t done = 0; done < size;) {
                size_t k = size - done < sizeof(chunk) ? size - done : sizeof(chunk);
                for (size_t j = 0; j < k; j++)
                    chunk[j] = filler(done + j);
                assert_int_equal(archive_write_data(a, chunk, k), (la_ssize_t)k);
                done += k;
            }
        }
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    assert_int_equal(archive_write_free(a), ARCHIVE_OK);
}

#define MAKE_KIT(path, ents) make_archive(path, ents, sizeof(ents) / sizeof(ents[0]), true)

/* Unpacks and returns the status, the message in e. */
static int extract(const char *kit, struct err *e)
{
    err_clear(e);
    return bootstrap_extract(kit, g_root, 0, NULL, e);
}

static int remove_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int chmod_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    if (flag == FTW_D)
        chmod(p, 0700);
    return 0;
}

/* Removes a tree without following symlinks. */
static void rm_rf(const char *dir)
{
    nftw(dir, chmod_cb, 16, FTW_PHYS);
    nftw(dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct strv g_snap;
static size_t g_snap_skip;

/* One line per object under the root: everything but the inode number. */
static int snap_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    char line[PATH_MAX + 512], target[PATH_MAX];
    uint64_t h = 1469598103934665603ull;

    if (strlen(p) <= g_snap_skip)
        return 0; /* the root itself */
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(p, target, sizeof(target) - 1);
        target[n < 0 ? 0 : n] = '\0';
    } else {
        target[0] = '\0';
    }
    if (S_ISREG(st->st_mode)) {
        unsigned char buf[4096];
        ssize_t n;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            for (ssize_t i = 0; i < n; i++)
                h = (h ^ buf[i]) * 1099511628211ull;
        close(fd);
    }
    snprintf(line, sizeof(line), "%s mode=%o owner=%ld:%ld size=%lld mtime=%lld nlink=%lu %s %llx",
             p + g_snap_skip, (unsigned)st->st_mode, (long)st->st_uid, (long)st->st_gid,
             (long long)st->st_size, (long long)st->st_mtime, (unsigned long)st->st_nlink, target,
             (unsigned long long)h);
    strv_push(&g_snap, line);
    return 0;
}

/* The whole tree under the root as one sorted text. */
static char *snapshot(void)
{
    struct buf b = {0};
    g_snap_skip = strlen(g_root);
    assert_int_equal(nftw(g_root, snap_cb, 16, FTW_PHYS), 0);
    strv_sort(&g_snap);
    for (size_t i = 0; i < g_snap.n; i++)
        buf_printf(&b, "%s\n", g_snap.v[i]);
    strv_free(&g_snap);
    return b.p ? b.p : xstrdup("");
}

/* Asserts that nothing changed outside the root: the base and host listings and the secret. */
static void assert_host_intact(void)
{
    struct stat st;
    assert_string_equal(names(g_base), "arch,host,root");
    assert_string_equal(names(g_host), "secret");
    assert_string_equal(read_small(H("secret")), "host secret\n");
    assert_int_equal(lstat(H("secret"), &st), 0);
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(st.st_mode & 07777, 0644);
}

/* Asserts a plain refusal (not a cancellation) with exactly this message. */
static void assert_refused(int r, const struct err *e, const char *msg)
{
    assert_true(r < 0);
    assert_int_not_equal(r, -ECANCELED);
    assert_string_equal(e->msg, msg);
}

static bool is_root(void)
{
    return geteuid() == 0;
}

/* ---- the FIFO feeder: an archive that arrives in two parts ---- */

struct feeder {
    const char *fifo;
    unsigned char *bytes;
    size_t len, split; /* bytes[0..split) first, the rest after the flag is set */
    const char *watch; /* before the rest: wait until this file has watch_size bytes */
    off_t watch_size;
    atomic_bool *flag;  /* set before the rest is written (may be NULL) */
    volatile bool *go;  /* do not open the FIFO before *go (may be NULL) */
    volatile bool stop; /* give up opening */
    bool watched;       /* the watched size was seen before the deadline */
    pthread_t th;
};

/* Writes everything, stopping quietly when the reader went away. */
static void write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *feeder_run(void *arg)
{
    struct feeder *f = arg;
    double deadline = now_ms() + 30000;
    int fd = -1;

    while (f->go && !*f->go && !f->stop)
        usleep(1000);
    while (!f->stop && now_ms() < deadline) {
        fd = open(f->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 || errno != ENXIO)
            break;
        usleep(1000);
    }
    if (fd < 0)
        return NULL;
    fcntl(fd, F_SETFL, 0);
    write_all(fd, f->bytes, f->split);
    if (f->watch) {
        struct stat st;
        while (now_ms() < deadline) {
            if (stat(f->watch, &st) == 0 && st.st_size >= f->watch_size) {
                f->watched = true;
                break;
            }
            usleep(1000);
        }
    }
    if (f->flag)
        atomic_store(f->flag, true);
    write_all(fd, f->bytes + f->split, f->len - f->split);
    close(fd);
    return NULL;
}

/* Makes the FIFO <arch>/fifo and starts feeding it with the archive at kit. */
static void feeder_start(struct feeder *f, const char *kit, size_t split)
{
    static char fifo[PATH_MAX];
    snprintf(fifo, sizeof(fifo), "%s", A("fifo"));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    f->fifo = fifo;
    f->bytes = read_all(kit, &f->len);
    f->split = split ? split : f->len;
    assert_true(f->split <= f->len);
    assert_int_equal(pthread_create(&f->th, NULL, feeder_run, f), 0);
}

static void feeder_join(struct feeder *f)
{
    f->stop = true;
    assert_int_equal(pthread_join(f->th, NULL), 0);
    free(f->bytes);
}

/* The offset of the (ustar) header block of the entry called name. */
static size_t header_offset(const char *kit, const char *name)
{
    size_t len, off;
    unsigned char *p = read_all(kit, &len);
    for (off = 0; off + 512 <= len; off += 512)
        if (memcmp(p + off, name, strlen(name) + 1) == 0)
            break;
    free(p);
    assert_true(off + 512 <= len);
    return off;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    snprintf(g_top, sizeof(g_top), "/tmp/bob-bootstrap-XXXXXX");
    if (!mkdtemp(g_top))
        return -1;
    chmod(g_top, 0755);
    snprintf(g_base, sizeof(g_base), "%s/t", g_top);
    if (mkdir(g_base, 0755))
        return -1;
    snprintf(g_root, sizeof(g_root), "%s/root", g_base);
    snprintf(g_host, sizeof(g_host), "%s/host", g_base);
    snprintf(g_arch, sizeof(g_arch), "%s/arch", g_base);
    if (mkdir(g_root, 0751) || mkdir(g_host, 0755) || mkdir(g_arch, 0755))
        return -1;
    chmod(g_root, 0751);
    write_file(H("secret"), "host secret\n");
    return 0;
}

static int teardown(void **state)
{
    /* What a failed containment test left mounted goes first, deepest first. */
    static const char *const mounts[] = {"mnt/host", "hostfile", "tmp", ""};
    for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
        (void)umount2(R(mounts[i]), MNT_DETACH);
    rm_rf(g_top);
    return 0;
}

/* ---- tests ---- */

/* Directories, contents, modes, a symlink, a hard link and times come out exactly. */
static void test_kit_contents(void **state)
{
    const struct ent kit[] = {
        {.type = 'd', .path = "./", .mode = 0700},
        {.type = 'd', .path = "usr", .mode = 0755, .mtime = 1000000000},
        {.type = 'd', .path = "usr/pkg", .mode = 0755},
        {.type = 'd', .path = "usr/pkg/bin", .mode = 0750, .mtime = 1111111111},
        {.type = 'f',
         .path = "usr/pkg/bin/tool",
         .mode = 0755,
         .data = "#!/bin/sh\necho tool\n",
         .mtime = 1234567890},
        {.type = 'f', .path = "usr/pkg/etc/secret.conf", .mode = 0600, .data = "secret=1\n"},
        {.type = 'l', .path = "usr/pkg/bin/alias", .data = "tool"},
        {.type = 'h', .path = "usr/pkg/bin/tool2", .data = "usr/pkg/bin/tool"},
        {.type = 'd', .path = "usr/pkg/ro", .mode = 0555},
        {.type = 'f', .path = "usr/pkg/ro/file", .mode = 0444, .data = "ro\n"},
        {.type = 'f', .path = "./usr//pkg/./dotted", .mode = 0640, .data = "dot\n"},
        {.type = 'f', .path = "usr/pkg/empty", .mode = 0644, .data = ""},
        {.type = 'f', .path = "usr/pkg/big", .mode = 0644, .size = 300000},
    };
    struct stat st, st2;
    struct err e;
    unsigned char *big;
    size_t len;

    MAKE_KIT(A("kit.tgz"), kit);
    assert_int_equal(extract(A("kit.tgz"), &e), 0);

    /* "./" is the sandbox root: its mode is bob's, not the kit's. */
    assert_int_equal(stat(g_root, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0751);
    assert_string_equal(names(g_root), "usr");
    assert_string_equal(names(R("usr/pkg")), "big,bin,dotted,empty,etc,ro");

    assert_string_equal(read_small(R("usr/pkg/bin/tool")), "#!/bin/sh\necho tool\n");
    assert_string_equal(read_small(R("usr/pkg/etc/secret.conf")), "secret=1\n");
    assert_string_equal(read_small(R("usr/pkg/ro/file")), "ro\n");
    assert_string_equal(read_small(R("usr/pkg/dotted")), "dot\n");
    assert_string_equal(read_small(R("usr/pkg/empty")), "");
    big = read_all(R("usr/pkg/big"), &len);
    assert_int_equal(len, 300000);
    for (size_t i = 0; i < len; i++)
        if (big[i] != filler(i))
            fail_msg("big differs at byte %zu", i);
    free(big);

    assert_int_equal(lstat(R("usr/pkg/bin/tool"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(st.st_mtime, 1234567890);
    assert_int_equal(st.st_nlink, 2);
    assert_int_equal(lstat(R("usr/pkg/bin/tool2"), &st2), 0);
    assert_int_equal(st2.st_ino, st.st_ino);
    assert_int_equal(st2.st_dev, st.st_dev);

    assert_int_equal(lstat(R("usr/pkg/etc/secret.conf"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(lstat(R("usr/pkg/dotted"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(lstat(R("usr/pkg/ro/file"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0444);

    /* Directory modes and times are applied after their contents. */
    assert_int_equal(lstat(R("usr/pkg/ro"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0555);
    assert_int_equal(lstat(R("usr/pkg/bin"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(st.st_mtime, 1111111111);
    assert_int_equal(lstat(R("usr"), &st), 0);
    assert_int_equal(st.st_mtime, 1000000000);

    {
        char target[64];
        ssize_t n = readlink(R("usr/pkg/bin/alias"), target, sizeof(target) - 1);
        assert_int_equal(n, 4);
        target[n] = '\0';
        assert_string_equal(target, "tool");
    }
    assert_host_intact();
}

/* As root: numeric owners, setuid and setgid bits are kept (also on symlinks and hard links). */
static void test_kit_owner_setuid(void **state)
{
    const struct ent kit[] = {
        {.type = 'd', .path = "bin", .mode = 0755, .uid = 0, .gid = 0},
        {.type = 'f', .path = "bin/su", .mode = 04755, .data = "su\n", .uid = 1234, .gid = 5678},
        {.type = 'f', .path = "bin/sg", .mode = 02711, .data = "sg\n", .uid = 0, .gid = 5678},
        {.type = 'd', .path = "var", .mode = 0755},
        {.type = 'd', .path = "var/games", .mode = 02775, .uid = 1234, .gid = 5678},
        {.type = 'f',
         .path = "var/games/score",
         .mode = 0664,
         .data = "0\n",
         .uid = 4321,
         .gid = 5678},
        {.type = 'l', .path = "bin/link", .data = "su", .uid = 1234, .gid = 5678},
        {.type = 'h', .path = "bin/su2", .data = "bin/su"},
    };
    struct stat st;
    struct err e;

    if (!is_root()) {
        print_message("skipped: needs root to give files other owners and keep setuid bits\n");
        skip();
    }
    MAKE_KIT(A("kit.tgz"), kit);
    assert_int_equal(extract(A("kit.tgz"), &e), 0);

    assert_int_equal(lstat(R("bin/su"), &st), 0);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(st.st_mode & 07777, 04755);
    assert_int_equal(lstat(R("bin/su2"), &st), 0);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_mode & 07777, 04755);
    assert_int_equal(st.st_nlink, 2);
    assert_int_equal(lstat(R("bin/sg"), &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(st.st_mode & 07777, 02711);
    assert_int_equal(lstat(R("var/games"), &st), 0);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(st.st_mode & 07777, 02775);
    assert_int_equal(lstat(R("var/games/score"), &st), 0);
    assert_int_equal(st.st_uid, 4321);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(lstat(R("bin/link"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    assert_host_intact();
}

/* A second (and third) unpack over the tree succeeds and gives the same tree (bob fe24750/d380b0b).
 */
static void test_twice(void **state)
{
    const struct ent kit[] = {
        {.type = 'f', .path = "a", .mode = 0644, .data = "A\n"},
        {.type = 'h', .path = "b", .data = "a"},
        {.type = 'd', .path = "d", .mode = 0750},
        {.type = 'f', .path = "d/f", .mode = 0640, .data = "F\n"},
        {.type = 'h', .path = "d/g", .data = "d/f"},
        {.type = 'h', .path = "c", .data = "b"},
        {.type = 'l', .path = "s", .data = "a"},
    };
    struct stat sa, sb, sc;
    struct err e;
    char *one, *two, *three;

    MAKE_KIT(A("kit.tgz"), kit);
    assert_int_equal(extract(A("kit.tgz"), &e), 0);
    one = snapshot();
    assert_non_null(strstr(one, "/a mode=100644"));
    assert_non_null(strstr(one, "nlink=3"));
    assert_int_equal(extract(A("kit.tgz"), &e), 0);
    two = snapshot();
    assert_string_equal(one, two);

    /* Something else in the way of the links is replaced by the link, even a
     * symlink to the host: the symlink goes, not what it points to. */
    assert_int_equal(unlink(R("b")), 0);
    write_file(R("b"), "other\n");
    assert_int_equal(unlink(R("c")), 0);
    assert_int_equal(symlink(H("secret"), R("c")), 0);
    assert_int_equal(extract(A("kit.tgz"), &e), 0);
    three = snapshot();
    assert_string_equal(one, three);
    assert_int_equal(lstat(R("a"), &sa), 0);
    assert_int_equal(lstat(R("b"), &sb), 0);
    assert_int_equal(lstat(R("c"), &sc), 0);
    assert_int_equal(sa.st_ino, sb.st_ino);
    assert_int_equal(sa.st_ino, sc.st_ino);
    assert_string_equal(read_small(R("c")), "A\n");
    assert_host_intact();
    free(one);
    free(two);
    free(three);
}

/* A hard link that names its own target is skipped, not unlinked (tar(1) behaviour). */
static void test_link_to_itself(void **state)
{
    const struct ent kit[] = {
        {.type = 'f', .path = "a", .mode = 0600, .data = "A\n"},
        {.type = 'h', .path = "a", .data = "a"},
        {.type = 'h', .path = "./b", .data = "./a"},
        {.type = 'h', .path = "b", .data = "a"},
    };
    struct stat sa, sb;
    struct err e;

    MAKE_KIT(A("kit.tgz"), kit);
    assert_int_equal(extract(A("kit.tgz"), &e), 0);
    assert_int_equal(extract(A("kit.tgz"), &e), 0);
    assert_string_equal(read_small(R("a")), "A\n");
    assert_int_equal(lstat(R("a"), &sa), 0);
    assert_int_equal(lstat(R("b"), &sb), 0);
    assert_int_equal(sa.st_ino, sb.st_ino);
    assert_int_equal(sa.st_nlink, 2);
    assert_int_equal(sa.st_mode & 07777, 0600);
}

/* How many times name was removed from the directory watched by fd since the last call. */
static int count_deletes(int fd, const char *name)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int count = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if ((ev->mask & IN_DELETE) && ev->len && strcmp(ev->name, name) == 0)
                count++;
            p += sizeof(*ev) + ev->len;
        }
    }
    return count;
}

/*
 * A hard link whose name is already that very file is left alone, and
 * anything else in its way is removed once (seen through inotify, since
 * unlinking and linking again would give the same tree).
 */
static void test_link_same_inode_skipped(void **state)
{
    const struct ent kit[] = {
        {.type = 'f', .path = "a", .mode = 0644, .data = "A\n"},
        {.type = 'h', .path = "b", .data = "a"},
        {.type = 'h', .path = "b", .data = "a"},
        {.type = 'h', .path = "./b", .data = "./a"},
    };
    struct stat sa, sb;
    struct err e;
    int fd;

    MAKE_KIT(A("kit.tgz"), kit);
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(inotify_add_watch(fd, g_root, IN_DELETE) >= 0);

    assert_int_equal(extract(A("kit.tgz"), &e), 0);
    assert_int_equal(count_deletes(fd, "b"), 0);
    /* Again: "a" is a new file, so the first "b" is replaced, the others are skipped. */
    assert_int_equal(extract(A("kit.tgz"), &e), 0);
    assert_int_equal(count_deletes(fd, "b"), 1);
    close(fd);
    assert_int_equal(lstat(R("a"), &sa), 0);
    assert_int_equal(lstat(R("b"), &sb), 0);
    assert_int_equal(sa.st_ino, sb.st_ino);
    assert_int_equal(sa.st_nlink, 2);
}

/* '..' anywhere in a name is refused and nothing lands outside the root. */
static void test_dotdot(void **state)
{
    static const char *bad[] = {"../x", "a/../../x", "a/b/../../../x", "..", "a/.."};
    struct err e;
    char msg[1024];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct ent kit[] = {
            {.type = 'f', .path = "ok", .mode = 0644, .data = "ok\n"},
            {.type = 'f', .path = bad[i], .mode = 0644, .data = "evil\n"},
        };
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: %s: refusing '..' in '%s'", A("kit.tgz"),
                 bad[i], bad[i]);
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
        assert_string_equal(read_small(R("ok")), "ok\n");
        assert_false(exists(path_in(g_base, "x")));
        assert_false(exists(path_in(g_base, "../x")));
        assert_host_intact();
    }
    assert_string_equal(names(g_root), "ok");
}

/* Absolute names are refused, whether they point into the test directory or at /. */
static void test_absolute(void **state)
{
    char top[64], abs_top[128], msg[1024];
    struct err e;

    snprintf(top, sizeof(top), "/bob-bootstrap-abs-%ld", (long)getpid());
    snprintf(abs_top, sizeof(abs_top), "%s/path", top);
    {
        const struct ent kit[] = {{.type = 'f', .path = H("new"), .mode = 0644, .data = "evil\n"}};
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: %s: refusing absolute path '%s'",
                 A("kit.tgz"), H("new"), H("new"));
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
    }
    {
        const struct ent kit[] = {{.type = 'd', .path = "/", .mode = 0755},
                                  {.type = 'f', .path = abs_top, .mode = 0644, .data = "evil\n"}};
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: /: refusing absolute path '/'", A("kit.tgz"));
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
    }
    {
        const struct ent kit[] = {{.type = 'f', .path = abs_top, .mode = 0644, .data = "evil\n"}};
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: %s: refusing absolute path '%s'",
                 A("kit.tgz"), abs_top, abs_top);
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
    }
    assert_false(exists(top));
    assert_string_equal(names(g_root), "");
    assert_host_intact();
}

/* Writes through a symlink (from the kit or already on disk) are refused. */
static void test_symlink_escape(void **state)
{
    char top[64], evil[128], prefix[1024];
    struct err e;
    int r;

    snprintf(top, sizeof(top), "bob-bootstrap-evil-%ld", (long)getpid());
    snprintf(evil, sizeof(evil), "top/%s", top);

    /* link -> .. then link/evil */
    {
        const struct ent kit[] = {{.type = 'l', .path = "up", .data = ".."},
                                  {.type = 'f', .path = "up/evil", .mode = 0644, .data = "evil\n"}};
        MAKE_KIT(A("kit.tgz"), kit);
        r = extract(A("kit.tgz"), &e);
        snprintf(prefix, sizeof(prefix), "cannot unpack %s: up/evil: ", A("kit.tgz"));
        assert_true(r < 0 && r != -ECANCELED);
        assert_true(str_startswith(e.msg, prefix));
        assert_non_null(strstr(e.msg, "symlink"));
        assert_false(exists(path_in(g_base, "evil")));
        assert_host_intact();
    }
    /* top -> / then top/<name> */
    {
        const struct ent kit[] = {{.type = 'l', .path = "top", .data = "/"},
                                  {.type = 'f', .path = evil, .mode = 0644, .data = "evil\n"}};
        char slash_evil[128];
        snprintf(slash_evil, sizeof(slash_evil), "/%s", top);
        MAKE_KIT(A("kit.tgz"), kit);
        r = extract(A("kit.tgz"), &e);
        assert_true(r < 0 && r != -ECANCELED);
        assert_non_null(strstr(e.msg, "symlink"));
        assert_false(exists(slash_evil));
        assert_host_intact();
    }
    /* a directory and a hard link through an absolute symlink to the host */
    {
        const struct ent kit[] = {
            {.type = 'f', .path = "a", .mode = 0644, .data = "A\n"},
            {.type = 'l', .path = "hostdir", .data = g_host},
            {.type = 'h', .path = "hostdir/lnk", .data = "a"},
        };
        MAKE_KIT(A("kit.tgz"), kit);
        r = extract(A("kit.tgz"), &e);
        snprintf(prefix, sizeof(prefix), "cannot unpack %s: hostdir/lnk: ", A("kit.tgz"));
        assert_true(r < 0 && r != -ECANCELED);
        assert_true(str_startswith(e.msg, prefix));
        assert_host_intact();
    }
    {
        const struct ent kit[] = {
            {.type = 'l', .path = "hostdir", .data = g_host},
            {.type = 'd', .path = "hostdir/sub", .mode = 0755},
        };
        MAKE_KIT(A("kit.tgz"), kit);
        r = extract(A("kit.tgz"), &e);
        assert_true(r < 0 && r != -ECANCELED);
        /* the pax writer stores directory names with a trailing slash */
        snprintf(prefix, sizeof(prefix), "cannot unpack %s: hostdir/sub/: ", A("kit.tgz"));
        assert_true(str_startswith(e.msg, prefix));
        assert_non_null(strstr(e.msg, "symlink"));
        assert_host_intact();
    }
    /* a hard link whose target goes through a symlink to the host */
    {
        const struct ent kit[] = {
            {.type = 'l', .path = "up2", .data = "../host"},
            {.type = 'h', .path = "stolen", .data = "up2/secret"},
        };
        MAKE_KIT(A("kit.tgz"), kit);
        r = extract(A("kit.tgz"), &e);
        snprintf(prefix, sizeof(prefix), "cannot unpack %s: stolen: ", A("kit.tgz"));
        assert_true(r < 0 && r != -ECANCELED);
        assert_true(str_startswith(e.msg, prefix));
        assert_false(exists(R("stolen")));
        assert_host_intact();
    }
    /* a symlink already on disk */
    {
        const struct ent kit[] = {
            {.type = 'f', .path = "pre/secret", .mode = 0644, .data = "overwritten\n"}};
        assert_int_equal(symlink(g_host, R("pre")), 0);
        MAKE_KIT(A("kit.tgz"), kit);
        r = extract(A("kit.tgz"), &e);
        snprintf(prefix, sizeof(prefix), "cannot unpack %s: pre/secret: ", A("kit.tgz"));
        assert_true(r < 0 && r != -ECANCELED);
        assert_true(str_startswith(e.msg, prefix));
        assert_non_null(strstr(e.msg, "symlink"));
        assert_host_intact();
    }
}

/* Hard links to '..' or absolute targets are refused before anything is linked. */
static void test_hardlink_bad_target(void **state)
{
    char msg[1024];
    struct err e;
    {
        const struct ent kit[] = {{.type = 'h', .path = "h1", .data = "../host/secret"}};
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg),
                 "cannot unpack %s: h1: refusing '..' in hard link target '../host/secret'",
                 A("kit.tgz"));
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
    }
    {
        const struct ent kit[] = {{.type = 'h', .path = "h2", .data = H("secret")}};
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: h2: refusing absolute hard link target '%s'",
                 A("kit.tgz"), H("secret"));
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
    }
    {
        const struct ent kit[] = {{.type = 'h', .path = "h3", .data = "./"}};
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: h3: refusing hard link to the root './'",
                 A("kit.tgz"));
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
    }
    {
        /* a link to something that is not there */
        const struct ent kit[] = {{.type = 'h', .path = "h4", .data = "missing"}};
        MAKE_KIT(A("kit.tgz"), kit);
        assert_true(extract(A("kit.tgz"), &e) < 0);
        assert_true(str_startswith(e.msg, "cannot unpack "));
        assert_non_null(strstr(e.msg, ": h4: "));
    }
    assert_string_equal(names(g_root), "");
    assert_host_intact();
}

/* Missing, unreadable, non-archive and truncated kits, and a missing root, fail clearly. */
static void test_bad_archives(void **state)
{
    char msg[1024];
    struct err e;
    int r;

    snprintf(msg, sizeof(msg), "cannot open bootstrap %s: No such file or directory",
             A("missing.tgz"));
    r = extract(A("missing.tgz"), &e);
    assert_int_equal(r, -ENOENT);
    assert_string_equal(e.msg, msg);

    snprintf(msg, sizeof(msg), "cannot open bootstrap %s: Is a directory", g_arch);
    assert_int_equal(extract(g_arch, &e), -EISDIR);
    assert_string_equal(e.msg, msg);

    write_file(A("text"), "this is not an archive, only some text that goes on\n");
    snprintf(msg, sizeof(msg), "cannot open bootstrap %s: ", A("text"));
    r = extract(A("text"), &e);
    assert_true(r < 0 && r != -ECANCELED);
    assert_true(str_startswith(e.msg, msg));
    assert_true(strlen(e.msg) > strlen(msg));
    print_message("non-archive: %s\n", e.msg);

    /* A kit cut in the middle of its second entry. */
    {
        const struct ent kit[] = {
            {.type = 'f', .path = "one", .mode = 0644, .data = "one\n"},
            {.type = 'f', .path = "two", .mode = 0644, .size = 1 << 20},
            {.type = 'f', .path = "three", .mode = 0644, .data = "three\n"},
        };
        size_t len;
        unsigned char *p;
        int fd;
        make_archive(A("full.tar"), kit, 3, false);
        p = read_all(A("full.tar"), &len);
        fd = open(A("cut.tar"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, p, len / 2), (ssize_t)(len / 2));
        close(fd);
        free(p);
        snprintf(msg, sizeof(msg), "cannot unpack %s: two: ", A("cut.tar"));
        r = extract(A("cut.tar"), &e);
        assert_true(r < 0 && r != -ECANCELED);
        assert_true(str_startswith(e.msg, msg));
        print_message("truncated: %s\n", e.msg);
        assert_string_equal(read_small(R("one")), "one\n");
        assert_false(exists(R("three")));

        /* the same kit with a missing root */
        err_clear(&e);
        r = bootstrap_extract(A("full.tar"), R("nonexistent"), 0, NULL, &e);
        snprintf(msg, sizeof(msg), "cannot unpack %s: %s: No such file or directory", A("full.tar"),
                 R("nonexistent"));
        assert_int_equal(r, -ENOENT);
        assert_string_equal(e.msg, msg);

        /* and into / */
        err_clear(&e);
        r = bootstrap_extract(A("full.tar"), "/", 0, NULL, &e);
        assert_true(r < 0);
        assert_non_null(strstr(e.msg, "refusing to unpack into /"));
    }
    assert_host_intact();
}

/* A name reaching PATH_MAX is refused: libarchive would chdir() for it. */
static void test_name_too_long(void **state)
{
    char cwd1[PATH_MAX], cwd2[PATH_MAX];
    struct buf name = {0};
    struct err e;
    int r;

    while (name.len < PATH_MAX + 100)
        buf_adds(&name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/");
    buf_adds(&name, "file");
    {
        const struct ent kit[] = {{.type = 'f', .path = "ok", .mode = 0644, .data = "ok\n"},
                                  {.type = 'f', .path = name.p, .mode = 0644, .data = "deep\n"}};
        MAKE_KIT(A("kit.tgz"), kit);
    }
    assert_non_null(getcwd(cwd1, sizeof(cwd1)));
    r = extract(A("kit.tgz"), &e);
    assert_non_null(getcwd(cwd2, sizeof(cwd2)));
    assert_string_equal(cwd1, cwd2);
    assert_true(r < 0 && r != -ECANCELED);
    assert_non_null(strstr(e.msg, ": name too long"));
    assert_string_equal(names(g_root), "ok");
    buf_free(&name);
}

/* ---- containment: disks, devices, mounts, bombs ---- */

/* Skips the calling test unless it runs as root (it mounts). */
#define NEED_ROOT(why)                                                                             \
    do {                                                                                           \
        if (!is_root()) {                                                                          \
            print_message("skipped: needs root to %s\n", why);                                     \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Mounts a tmpfs with the given options at path. */
static void mount_tmpfs(const char *path, const char *opts)
{
    if (mount("bob-test", path, "tmpfs", 0, opts) != 0)
        fail_msg("mount tmpfs on %s: %s", path, strerror(errno));
}

/* Binds src onto dest (writable, as a careless config would). */
static void mount_bind(const char *src, const char *dest)
{
    if (mount(src, dest, NULL, MS_BIND, NULL) != 0)
        fail_msg("bind %s on %s: %s", src, dest, strerror(errno));
}

static void unmount(const char *path)
{
    assert_int_equal(umount2(path, MNT_DETACH), 0);
}

/* A kit bigger than the disk fails naming the file and the reason; nothing is cut silently. */
static void test_disk_full(void **state)
{
    const struct ent kit[] = {
        {.type = 'f', .path = "small", .mode = 0644, .data = "small\n"},
        {.type = 'd', .path = "usr", .mode = 0755},
        {.type = 'f', .path = "usr/big", .mode = 0644, .size = 4 << 20},
        {.type = 'f', .path = "after", .mode = 0644, .data = "after\n"},
    };
    char prefix[1024];
    struct err e;
    int r;

    NEED_ROOT("mount a small tmpfs");
    MAKE_KIT(A("kit.tgz"), kit);
    mount_tmpfs(g_root, "size=1m,mode=0751");
    r = extract(A("kit.tgz"), &e);
    print_message("full disk: %s\n", e.msg);
    snprintf(prefix, sizeof(prefix), "cannot unpack %s: usr/big: ", A("kit.tgz"));
    assert_true(r < 0 && r != -ECANCELED);
    assert_true(str_startswith(e.msg, prefix));
    assert_non_null(strstr(e.msg, strerror(ENOSPC)));
    assert_int_equal(e.code, ENOSPC);
    assert_string_equal(read_small(R("small")), "small\n");
    assert_false(exists(R("after")));
    unmount(g_root);
    assert_host_intact();
}

/* Block and character devices are refused, by name, before anything is made; a FIFO is fine. */
static void test_devices_refused(void **state)
{
    static const struct {
        char type;
        const char *path, *what;
        unsigned maj, min;
    } devs[] = {{'b', "sda", "block device", 8, 0},
                {'c', "dev/mem", "character device", 1, 1},
                {'c', "./dev//kmsg", "character device", 1, 11}};
    char msg[1024];
    struct stat st;
    struct err e;

    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        const struct ent kit[] = {{.type = devs[i].type,
                                   .path = devs[i].path,
                                   .mode = 0666,
                                   .size = makedev(devs[i].maj, devs[i].min)}};
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: %s: refusing %s", A("kit.tgz"), devs[i].path,
                 devs[i].what);
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
        assert_int_equal(e.code, EPERM);
        assert_string_equal(names(g_root), "");
    }
    {
        /* Among other entries: those before it stay, the device and those after do not come. */
        const struct ent kit[] = {
            {.type = 'f', .path = "ok", .mode = 0644, .data = "ok\n"},
            {.type = 'b', .path = "disk", .mode = 0666, .size = makedev(8, 0)},
            {.type = 'f', .path = "later", .mode = 0644, .data = "later\n"},
        };
        MAKE_KIT(A("kit.tgz"), kit);
        snprintf(msg, sizeof(msg), "cannot unpack %s: disk: refusing block device", A("kit.tgz"));
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
        assert_string_equal(names(g_root), "ok");
    }
    {
        const struct ent kit[] = {{.type = 'p', .path = "fifo", .mode = 0600}};
        MAKE_KIT(A("kit.tgz"), kit);
        assert_int_equal(extract(A("kit.tgz"), &e), 0);
        assert_int_equal(lstat(R("fifo"), &st), 0);
        assert_true(S_ISFIFO(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
    }
    assert_host_intact();
}

/*
 * Entries that would land on another mount than the root's are refused: a
 * writable bind of a host directory inside the root (into it, below it,
 * the mount point itself), a bind of a host file, a tmpfs, and hard links
 * into or out of them. The host stays as it was; an ordinary kit next to
 * the mounts still unpacks.
 */
static void test_other_mounts_refused(void **state)
{
    static const struct {
        struct ent ent;
        const char *rel; /* the refused path */
        bool link;       /* refused as a hard link target */
    } cases[] = {
        {{.type = 'f', .path = "mnt/host/secret", .mode = 0644, .data = "overwritten\n"},
         "mnt/host/secret",
         false},
        {{.type = 'f', .path = "mnt/host/new", .mode = 0644, .data = "new\n"},
         "mnt/host/new",
         false},
        {{.type = 'f', .path = "mnt/host/sub/deep/file", .mode = 0644, .data = "x\n"},
         "mnt/host/sub/deep/file",
         false},
        {{.type = 'd', .path = "mnt/host", .mode = 0700}, "mnt/host", false},
        {{.type = 'd', .path = "mnt/host/dir", .mode = 0700}, "mnt/host/dir", false},
        {{.type = 'l', .path = "mnt/host/evil", .data = "/etc/passwd"}, "mnt/host/evil", false},
        {{.type = 'p', .path = "./mnt//host/fifo", .mode = 0600}, "mnt/host/fifo", false},
        {{.type = 'f', .path = "hostfile", .mode = 0644, .data = "overwritten\n"},
         "hostfile",
         false},
        {{.type = 'h', .path = "mnt/host/link", .data = "plain"}, "mnt/host/link", false},
        {{.type = 'h', .path = "stolen", .data = "mnt/host/secret"}, "mnt/host/secret", true},
        {{.type = 'h', .path = "stolen2", .data = "hostfile"}, "hostfile", true},
        {{.type = 'f', .path = "tmp/file", .mode = 0644, .data = "x\n"}, "tmp/file", false},
        {{.type = 'd', .path = "tmp", .mode = 0700}, "tmp", false},
    };
    char msg[1024];
    struct stat st;
    struct err e;

    NEED_ROOT("bind host directories into the root");
    assert_int_equal(mkdir(R("mnt"), 0755), 0);
    assert_int_equal(mkdir(R("mnt/host"), 0755), 0);
    assert_int_equal(mkdir(R("tmp"), 0755), 0);
    write_file(R("hostfile"), "");
    write_file(R("plain"), "plain\n");
    mount_bind(g_host, R("mnt/host"));
    mount_bind(H("secret"), R("hostfile"));
    mount_tmpfs(R("tmp"), "size=1m,mode=0755");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ent kit[] = {cases[i].ent};
        MAKE_KIT(A("kit.tgz"), kit);
        /* (the tar writer gives directories a trailing slash) */
        snprintf(msg, sizeof(msg),
                 "cannot unpack %s: %s%s: refusing %s'%s': it is on another mount than the "
                 "sandbox root",
                 A("kit.tgz"), cases[i].ent.path, cases[i].ent.type == 'd' ? "/" : "",
                 cases[i].link ? "hard link target " : "", cases[i].rel);
        assert_refused(extract(A("kit.tgz"), &e), &e, msg);
        assert_int_equal(e.code, EXDEV);
        assert_host_intact();
        assert_int_equal(stat(g_host, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_string_equal(names(R("tmp")), "");
        assert_int_equal(stat(R("tmp"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
    }
    assert_string_equal(names(g_root), "hostfile,mnt,plain,tmp");

    {
        /* Through a symlink in the kit that points into the bind: libarchive's refusal. */
        const struct ent kit[] = {
            {.type = 'l', .path = "sym", .data = "mnt/host"},
            {.type = 'f', .path = "sym/secret", .mode = 0644, .data = "overwritten\n"},
        };
        char prefix[1024];
        int r;
        MAKE_KIT(A("kit.tgz"), kit);
        r = extract(A("kit.tgz"), &e);
        snprintf(prefix, sizeof(prefix), "cannot unpack %s: sym/secret: ", A("kit.tgz"));
        assert_true(r < 0 && r != -ECANCELED);
        assert_true(str_startswith(e.msg, prefix));
        assert_host_intact();
        assert_int_equal(unlink(R("sym")), 0);
    }
    {
        /* An ordinary kit beside the mounts: a symlink's target is only text, never followed here.
         */
        const struct ent kit[] = {
            {.type = 'd', .path = "usr", .mode = 0755},
            {.type = 'f', .path = "usr/tool", .mode = 0750, .data = "tool\n"},
            {.type = 'h', .path = "usr/tool2", .data = "usr/tool"},
            {.type = 'l', .path = "usr/secret", .data = "/mnt/host/secret"},
            {.type = 'p', .path = "usr/fifo", .mode = 0600},
        };
        char target[64];
        ssize_t n;
        MAKE_KIT(A("kit.tgz"), kit);
        assert_int_equal(extract(A("kit.tgz"), &e), 0);
        assert_string_equal(read_small(R("usr/tool")), "tool\n");
        assert_int_equal(lstat(R("usr/tool2"), &st), 0);
        assert_int_equal(st.st_nlink, 2);
        assert_int_equal(st.st_mode & 07777, 0750);
        n = readlink(R("usr/secret"), target, sizeof(target) - 1);
        assert_int_equal(n, 16);
        target[n] = '\0';
        assert_string_equal(target, "/mnt/host/secret");
    }
    unmount(R("tmp"));
    unmount(R("hostfile"));
    unmount(R("mnt/host"));
    assert_string_equal(read_small(R("hostfile")), "");
    assert_string_equal(names(R("mnt/host")), "");
    assert_host_intact();
}

#define BOMB_CHUNK ((size_t)16 << 20)

/* The bytes at p as one gzip member (libarchive's raw writer, no padding), malloc'd. */
static unsigned char *gz_member(const void *p, size_t n, size_t *len)
{
    size_t cap = n / 64 + 65536, used = 0;
    unsigned char *out = xmalloc(cap);
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, out, cap, &used), ARCHIVE_OK);
    archive_entry_set_pathname(e, "x");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)n);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, p, n), (la_ssize_t)n);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    assert_int_equal(archive_write_free(a), ARCHIVE_OK);
    archive_entry_free(e);
    *len = used;
    return out;
}

/* A ustar header of a regular file of the given size. */
static void ustar_header(unsigned char h[512], const char *name, unsigned long long size)
{
    unsigned sum = 0;

    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644u);
    snprintf((char *)h + 108, 8, "%07o", 0u);
    snprintf((char *)h + 116, 8, "%07o", 0u);
    snprintf((char *)h + 124, 12, "%011llo", size);
    snprintf((char *)h + 136, 12, "%011o", (unsigned)DEFAULT_MTIME);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

/*
 * Writes a gzip bomb: a tar of n files of `size` zero bytes each (a
 * multiple of BOMB_CHUNK). gzip members may follow each other, so the
 * member of one chunk of zeros is made once and written again and again:
 * 2 GiB of zeros come to about 2 MB and take well under a second to make.
 */
static void make_bomb(const char *path, size_t n, unsigned long long size)
{
    unsigned char *zeros = calloc(1, BOMB_CHUNK), h[512], *gz, *gh;
    size_t zlen, hlen;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_non_null(zeros);
    assert_int_equal(size % BOMB_CHUNK, 0);
    gz = gz_member(zeros, BOMB_CHUNK, &zlen);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), n == 1 ? "bomb" : "bomb.%zu", i);
        ustar_header(h, name, size);
        gh = gz_member(h, sizeof(h), &hlen);
        assert_int_equal(write(fd, gh, hlen), (ssize_t)hlen);
        free(gh);
        for (unsigned long long k = 0; k < size / BOMB_CHUNK; k++)
            assert_int_equal(write(fd, gz, zlen), (ssize_t)zlen);
    }
    /* More zeros: the end-of-archive blocks. */
    assert_int_equal(write(fd, gz, zlen), (ssize_t)zlen);
    assert_int_equal(close(fd), 0);
    free(gz);
    free(zeros);
}

/* The default bound for the archive at path: max(floor, ratio x its size). */
static size_t default_bound(const char *path)
{
    struct stat st;
    size_t b;
    assert_int_equal(stat(path, &st), 0);
    b = (size_t)st.st_size * BOOTSTRAP_MAX_RATIO;
    return b > BOOTSTRAP_MAX_FLOOR ? b : BOOTSTRAP_MAX_FLOOR;
}

/* The sum of the sizes of the regular files right under dir. */
static unsigned long long du(const char *dir)
{
    unsigned long long sum = 0;
    struct dirent *d;
    struct stat st;
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    while ((d = readdir(dp)) != NULL)
        if (fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            sum += (unsigned long long)st.st_blocks * 512;
    closedir(dp);
    return sum;
}

/*
 * A gzip bomb (2 GiB of zeros in about 2 MB) stops at the default bound, at
 * once and with a clear message: as one 2 GiB file (refused by its header,
 * nothing written) and as 128 files of 16 MiB (three written, which stay
 * below the bound, the fourth refused).
 */
static void test_bomb(void **state)
{
    char msg[1024];
    struct stat st;
    struct err e;
    double t;
    int r;

    t = now_ms();
    make_bomb(A("bomb.tgz"), 1, 2ull << 30);
    assert_int_equal(stat(A("bomb.tgz"), &st), 0);
    print_message("bomb of %lld bytes for 2 GiB made in %.0f ms\n", (long long)st.st_size,
                  now_ms() - t);
    assert_int_equal(default_bound(A("bomb.tgz")), BOOTSTRAP_MAX_FLOOR);
    t = now_ms();
    r = extract(A("bomb.tgz"), &e);
    print_message("one 2 GiB file: stopped after %.0f ms: %s\n", now_ms() - t, e.msg);
    snprintf(msg, sizeof(msg),
             "cannot unpack %s: bomb: unpacked size would exceed the bound of %zu bytes "
             "(pkgsrc.bootstrap_max_size)",
             A("bomb.tgz"), BOOTSTRAP_MAX_FLOOR);
    assert_refused(r, &e, msg);
    assert_int_equal(e.code, EFBIG);
    assert_string_equal(names(g_root), "");

    make_bomb(A("bombs.tgz"), 128, BOMB_CHUNK);
    assert_int_equal(default_bound(A("bombs.tgz")), BOOTSTRAP_MAX_FLOOR);
    t = now_ms();
    r = extract(A("bombs.tgz"), &e);
    print_message("128 files of 16 MiB: stopped after %.0f ms: %s\n", now_ms() - t, e.msg);
    snprintf(msg, sizeof(msg),
             "cannot unpack %s: bomb.3: unpacked size would exceed the bound of %zu bytes "
             "(pkgsrc.bootstrap_max_size)",
             A("bombs.tgz"), BOOTSTRAP_MAX_FLOOR);
    assert_refused(r, &e, msg);
    assert_string_equal(names(g_root), "bomb.0,bomb.1,bomb.2");
    assert_true(du(g_root) <= BOOTSTRAP_MAX_FLOOR);
    assert_host_intact();
}

/* A bound given by the caller (pkgsrc.bootstrap_max_size) is honoured to the byte. */
static void test_bound_configured(void **state)
{
    const struct ent kit[] = {
        {.type = 'f', .path = "a", .mode = 0644, .size = 1 << 20},
        {.type = 'f', .path = "b", .mode = 0644, .size = 1 << 20},
        {.type = 'f', .path = "c", .mode = 0644, .size = 1 << 20},
    };
    const size_t two = ((size_t)2 << 20) + 2 * BOOTSTRAP_ENTRY_COST; /* a and b exactly */
    char msg[1024];
    struct err e;

    MAKE_KIT(A("kit.tgz"), kit);
    err_clear(&e);
    snprintf(msg, sizeof(msg),
             "cannot unpack %s: b: unpacked size would exceed the bound of %zu bytes "
             "(pkgsrc.bootstrap_max_size)",
             A("kit.tgz"), two - 1);
    assert_refused(bootstrap_extract(A("kit.tgz"), g_root, two - 1, NULL, &e), &e, msg);
    assert_int_equal(e.code, EFBIG);
    assert_string_equal(names(g_root), "a");

    err_clear(&e);
    snprintf(msg, sizeof(msg),
             "cannot unpack %s: c: unpacked size would exceed the bound of %zu bytes "
             "(pkgsrc.bootstrap_max_size)",
             A("kit.tgz"), two);
    assert_refused(bootstrap_extract(A("kit.tgz"), g_root, two, NULL, &e), &e, msg);
    assert_string_equal(names(g_root), "a,b");

    err_clear(&e);
    assert_int_equal(bootstrap_extract(A("kit.tgz"), g_root, two + (1 << 20) + 512, NULL, &e), 0);
    assert_string_equal(names(g_root), "a,b,c");
}

/* An mtree "archive" names host files to copy: it is not a tar, so it is no kit. */
static void test_mtree_refused(void **state)
{
    char text[1024], prefix[1024];
    struct err e;
    int r;

    snprintf(text, sizeof(text), "#mtree\n./stolen type=file mode=0644 contents=%s\n", H("secret"));
    write_file(A("kit.mtree"), text);
    r = extract(A("kit.mtree"), &e);
    print_message("mtree: %s\n", e.msg);
    snprintf(prefix, sizeof(prefix), "cannot open bootstrap %s: ", A("kit.mtree"));
    assert_true(r < 0 && r != -ECANCELED);
    assert_true(str_startswith(e.msg, prefix));
    assert_false(exists(R("stolen")));
    assert_string_equal(names(g_root), "");
    assert_host_intact();
}

/* A flag set before the start: nothing is unpacked. */
static void test_cancel_before(void **state)
{
    const struct ent kit[] = {{.type = 'f', .path = "a", .mode = 0644, .data = "A\n"}};
    atomic_bool cancel = true;
    char msg[1024];
    struct err e;

    MAKE_KIT(A("kit.tgz"), kit);
    err_clear(&e);
    assert_int_equal(bootstrap_extract(A("kit.tgz"), g_root, 0, &cancel, &e), -ECANCELED);
    snprintf(msg, sizeof(msg), "unpack of %s cancelled", A("kit.tgz"));
    assert_string_equal(e.msg, msg);
    assert_int_equal(e.code, ECANCELED);
    assert_string_equal(names(g_root), "");
}

/* The flag set after the first entry: the unpack stops before the next one. */
static void test_cancel_between_entries(void **state)
{
    const struct ent kit[] = {
        {.type = 'f', .path = "first", .mode = 0644, .size = 1 << 20},
        {.type = 'f', .path = "second", .mode = 0644, .data = "2\n"},
        {.type = 'f', .path = "last", .mode = 0644, .data = "3\n"},
    };
    struct feeder f = {0};
    atomic_bool cancel = false;
    struct stat st;
    struct err e;

    make_archive(A("kit.tar"), kit, 3, false);
    f.watch = R("first");
    f.watch_size = 1 << 20;
    f.flag = &cancel;
    feeder_start(&f, A("kit.tar"), header_offset(A("kit.tar"), "second"));
    err_clear(&e);
    assert_int_equal(bootstrap_extract(A("fifo"), g_root, 0, &cancel, &e), -ECANCELED);
    feeder_join(&f);
    assert_true(f.watched);
    assert_true(str_startswith(e.msg, "unpack of "));
    assert_int_equal(stat(R("first"), &st), 0);
    assert_int_equal(st.st_size, 1 << 20);
    assert_false(exists(R("second")));
    assert_false(exists(R("last")));
}

/* The flag set in the middle of a big file: the unpack stops between data blocks. */
static void test_cancel_between_blocks(void **state)
{
    const struct ent kit[] = {
        {.type = 'f', .path = "big", .mode = 0644, .size = 8 << 20},
        {.type = 'f', .path = "last", .mode = 0644, .data = "3\n"},
    };
    struct feeder f = {0};
    atomic_bool cancel = false;
    struct stat st;
    struct err e;

    make_archive(A("kit.tar"), kit, 2, false);
    f.watch = R("big");
    f.watch_size = 1 << 20;
    f.flag = &cancel;
    feeder_start(&f, A("kit.tar"), 2 << 20);
    err_clear(&e);
    assert_int_equal(bootstrap_extract(A("fifo"), g_root, 0, &cancel, &e), -ECANCELED);
    feeder_join(&f);
    assert_true(f.watched);
    /* libarchive pads a file it did not finish to its size with a hole:
     * the data written stops before the end. */
    assert_int_equal(stat(R("big"), &st), 0);
    assert_true((size_t)st.st_blocks * 512 < (8u << 20));
    {
        size_t len, i;
        unsigned char *p = read_all(R("big"), &len);
        for (i = 0; i < len && p[i] == filler(i); i++)
            ;
        print_message("big: %zu of %d bytes written before the cancel\n", i, 8 << 20);
        assert_true(i >= 1 << 20);
        assert_true(i < 8 << 20);
        free(p);
    }
    assert_false(exists(R("last")));
}

/* ---- on the loop ---- */

struct cbrec {
    int calls;
    int status;
    char msg[2048];
    bool had_err;
    bool free_in_cb;
};

static void on_unpacked(struct unpack *u, int status, const struct err *e, void *data)
{
    struct cbrec *c = data;
    c->calls++;
    c->status = status;
    c->had_err = e != NULL;
    snprintf(c->msg, sizeof(c->msg), "%s", e ? e->msg : "");
    if (c->free_in_cb)
        unpack_free(u);
}

/* Runs the loop until nothing is left, then checks that it closes. */
static void run_and_close(uv_loop_t *loop)
{
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* A kit unpacked in the thread pool: one callback with 0, then a clean loop. */
static void test_async_ok(void **state)
{
    const struct ent kit[] = {{.type = 'd', .path = "d", .mode = 0700},
                              {.type = 'f', .path = "d/a", .mode = 0600, .data = "A\n"}};
    struct cbrec c = {0};
    struct unpack *u;
    uv_loop_t loop;
    struct stat st;

    MAKE_KIT(A("kit.tgz"), kit);
    assert_int_equal(uv_loop_init(&loop), 0);
    u = unpack_start(&loop, A("kit.tgz"), g_root, 0, on_unpacked, &c);
    assert_non_null(u);
    assert_int_equal(c.calls, 0); /* never from inside unpack_start */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, 0);
    assert_false(c.had_err);
    assert_string_equal(read_small(R("d/a")), "A\n");
    assert_int_equal(stat(R("d"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    unpack_cancel(u); /* after the end: no effect */
    unpack_free(u);
    run_and_close(&loop);
    assert_int_equal(c.calls, 1);
}

/* A failing unpack reports its message through the callback; freeing inside the callback works. */
static void test_async_error(void **state)
{
    struct cbrec c = {.free_in_cb = true};
    char msg[1024];
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_non_null(unpack_start(&loop, A("missing.tgz"), g_root, 0, on_unpacked, &c));
    run_and_close(&loop);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, -ENOENT);
    assert_true(c.had_err);
    snprintf(msg, sizeof(msg), "cannot open bootstrap %s: No such file or directory",
             A("missing.tgz"));
    assert_string_equal(c.msg, msg);
}

/* Cancelled while queued or blocked before its first entry: -ECANCELED once, nothing unpacked. */
static void test_async_cancel(void **state)
{
    const struct ent kit[] = {{.type = 'f', .path = "a", .mode = 0644, .data = "A\n"}};
    volatile bool go = false;
    struct feeder f = {0};
    struct cbrec c = {0};
    struct unpack *u;
    uv_loop_t loop;
    char msg[1024];

    MAKE_KIT(A("kit.tgz"), kit);
    f.go = &go;
    feeder_start(&f, A("kit.tgz"), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    u = unpack_start(&loop, A("fifo"), g_root, 0, on_unpacked, &c);
    assert_non_null(u);
    unpack_cancel(u);
    go = true; /* the kit's bytes exist only now */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    feeder_join(&f);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, -ECANCELED);
    snprintf(msg, sizeof(msg), "unpack of %s cancelled", A("fifo"));
    assert_string_equal(c.msg, msg);
    assert_string_equal(names(g_root), "");
    unpack_free(u);
    run_and_close(&loop);
}

/* unpack_start passes its bound on: the callback reports it. */
static void test_async_bound(void **state)
{
    const struct ent kit[] = {{.type = 'f', .path = "a", .mode = 0644, .size = 1 << 20},
                              {.type = 'f', .path = "b", .mode = 0644, .size = 1 << 20}};
    struct cbrec c = {0};
    uv_loop_t loop;
    char msg[1024];

    MAKE_KIT(A("kit.tgz"), kit);
    assert_int_equal(uv_loop_init(&loop), 0);
    c.free_in_cb = true;
    assert_non_null(unpack_start(&loop, A("kit.tgz"), g_root, 1 << 20, on_unpacked, &c));
    run_and_close(&loop);
    assert_int_equal(c.calls, 1);
    assert_true(c.status < 0 && c.status != -ECANCELED);
    snprintf(msg, sizeof(msg),
             "cannot unpack %s: a: unpacked size would exceed the bound of %d bytes "
             "(pkgsrc.bootstrap_max_size)",
             A("kit.tgz"), 1 << 20);
    assert_string_equal(c.msg, msg);
    assert_string_equal(names(g_root), "");
}

/* Freed before its callback: the callback never runs and nothing leaks. */
static void test_async_free_early(void **state)
{
    const struct ent kit[] = {{.type = 'f', .path = "a", .mode = 0644, .data = "A\n"}};
    struct cbrec c = {0};
    uv_loop_t loop;

    MAKE_KIT(A("kit.tgz"), kit);
    assert_int_equal(uv_loop_init(&loop), 0);
    unpack_free(unpack_start(&loop, A("kit.tgz"), g_root, 0, on_unpacked, &c));
    run_and_close(&loop);
    assert_int_equal(c.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kit_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kit_owner_setuid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_to_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_same_inode_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_bad_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_archives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_mounts_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_configured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtree_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_between_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_between_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_free_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_bound, setup, teardown),
    };

    /* The FIFO feeder writes after the reader may have gone. */
    signal(SIGPIPE, SIG_IGN);
    /* Run by hand as root, outside tests/run-private: the mounts of the
     * containment tests must not reach the machine either. */
    if (is_root() && !getenv("BOB_IN_PRIVATE_NS") &&
        (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)) {
        perror("private mount namespace");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
