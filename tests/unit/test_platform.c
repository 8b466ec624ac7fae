/*
 * Unit tests of src/platform on Linux: real mounts, removal, copying and
 * process discovery under a mkdtemp directory. They need root; as another
 * user the binary says why and exits 77 (skipped). tests/run-private puts
 * the binary in a private mount namespace; when started without it, main
 * makes one itself, so nothing can leak onto the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "platform/linux_int.h"
#include "platform/platform.h"
#include "util/fault.h"

static char g_base[64];  /* the test's mkdtemp directory */
static char g_root[128]; /* <base>/root: the sandbox */
static char g_host[128]; /* <base>/host: a "host" directory outside the sandbox */

/* ---- helpers ---- */

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

static void write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(close(fd), 0);
}

/* The file's contents (at most 255 bytes) into a static buffer, or NULL. */
static const char *read_file(const char *path)
{
    static char buf[256];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static size_t mounts_under(const char *path)
{
    struct plat_mount_entry *v;
    size_t n;
    struct err e;
    assert_int_equal(plat_mounts_under(path, &v, &n, &e), 0);
    plat_mounts_free(v, n);
    return n;
}

static void assert_no_mounts(void)
{
    assert_int_equal(mounts_under(g_base), 0);
}

static int do_mount(enum plat_fs fs, const char *name, const char *src, const char *dest,
                    const char *opts, struct err *e)
{
    struct plat_mount_spec spec = {.fs = fs, .name = name, .src = src, .dest = dest, .opts = opts};
    return plat_mount(g_root, &spec, e);
}

/* Asserts that the message contains needle, printing it when it does not. */
static void assert_msg(const struct err *e, const char *needle)
{
    if (!strstr(e->msg, needle)) {
        print_error("message \"%s\" does not contain \"%s\"\n", e->msg, needle);
        fail();
    }
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* A child that runs fn (which must signal readiness on fd) and waits to be killed. */
static pid_t spawn_child(void (*fn)(const char *arg, int ready), const char *arg)
{
    int p[2];
    char c;
    pid_t pid;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        fn(arg, p[1]);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void reap(pid_t pid)
{
    int status;
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void child_chdir(const char *dir, int ready)
{
    if (chdir(dir) < 0)
        _exit(1);
    (void)!write(ready, "x", 1);
}

static void child_chroot(const char *dir, int ready)
{
    if (chroot(dir) < 0 || chdir("/") < 0)
        _exit(1);
    (void)!write(ready, "x", 1);
}

/* child_chroot with a name that holds ") " and spaces, as a build's could. */
static void child_chroot_named(const char *dir, int ready)
{
    prctl(PR_SET_NAME, "a) b (c d)", 0, 0, 0);
    child_chroot(dir, ready);
}

static void child_open(const char *file, int ready)
{
    if (open(file, O_RDONLY) < 0)
        _exit(1);
    (void)!write(ready, "x", 1);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_base, sizeof(g_base), "/tmp/bob-plat-XXXXXX");
    if (!mkdtemp(g_base))
        return -1;
    snprintf(g_root, sizeof(g_root), "%s/root", g_base);
    snprintf(g_host, sizeof(g_host), "%s/host", g_base);
    if (mkdir(g_root, 0755) < 0 || mkdir(g_host, 0755) < 0)
        return -1;
    umask(022);
    return 0;
}

/* Fails the test when a mount is left; cleans up anyway (detached first, never crossing mounts). */
static int teardown(void **state)
{
    struct plat_mount_entry *v;
    size_t n;
    struct err e;
    (void)state;
    umask(022);
    if (plat_mounts_under(g_base, &v, &n, &e) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "left mounted: %s\n", v[i].path);
        umount2(v[i].path, MNT_DETACH);
    }
    plat_mounts_free(v, n);
    nftw(g_base, rm_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return n == 0 ? 0 : -1;
}

/* ---- resolution, symlinks, pruning, the mount table ---- */

static void test_resolve(void **state)
{
    struct err e;
    char *host, want[PATH_MAX * 2];
    (void)state;

    assert_int_equal(mkdir(R("usr"), 0755), 0);
    assert_int_equal(mkdir(R("usr/bin"), 0755), 0);
    assert_int_equal(symlink("usr/bin", R("bin")), 0);
    assert_int_equal(symlink("/", R("evil")), 0);
    assert_int_equal(symlink("../..", R("usr/up")), 0);

    assert_int_equal(plat_resolve(g_root, "/bin/sh", &host, &e), 0);
    snprintf(want, sizeof(want), "%s/usr/bin/sh", g_root);
    assert_string_equal(host, want);
    free(host);

    /* Missing trailing components are allowed. */
    assert_int_equal(plat_resolve(g_root, "/usr/local/share/x", &host, &e), 0);
    snprintf(want, sizeof(want), "%s/usr/local/share/x", g_root);
    assert_string_equal(host, want);
    free(host);

    assert_int_equal(plat_resolve(g_root, "/", &host, &e), 0);
    assert_string_equal(host, g_root);
    free(host);

    /* `..` inside the sandbox is fine; `..` out of it and links out of it are not. */
    assert_int_equal(plat_resolve(g_root, "/usr/bin/../../bin", &host, &e), 0);
    snprintf(want, sizeof(want), "%s/usr/bin", g_root);
    assert_string_equal(host, want);
    free(host);
    const char *escapes[] = {"/..", "/usr/../../etc", "/evil", "/evil/etc/passwd", "/usr/up/x"};
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        char msg[PATH_MAX * 2];
        host = (char *)"unchanged";
        assert_int_equal(plat_resolve(g_root, escapes[i], &host, &e), -EXDEV);
        assert_null(host);
        snprintf(msg, sizeof(msg), "Path escapes sandbox: %s resolves outside %s", escapes[i],
                 g_root);
        assert_string_equal(e.msg, msg);
    }
    /* A root that is not there. */
    assert_int_equal(plat_resolve(H("nothere"), "/x", &host, &e), -ENOENT);
    assert_null(host);
}

static void test_symlink_and_prune(void **state)
{
    struct err e;
    char target[64];
    struct stat st;
    ssize_t n;
    (void)state;

    umask(077);
    assert_int_equal(plat_symlink(g_root, "usr/bin", "/bin", &e), 0);
    assert_int_equal(plat_symlink(g_root, "../../x", "/a/b/link", &e), 0);
    n = readlink(R("a/b/link"), target, sizeof(target) - 1);
    assert_int_equal(n, 7);
    target[n] = '\0';
    assert_string_equal(target, "../../x");
    /* Parents are 0755 whatever the umask. */
    assert_int_equal(stat(R("a"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(R("a/b"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    /* An existing destination is an error, naming it. */
    assert_int_equal(plat_symlink(g_root, "elsewhere", "/bin", &e), -EEXIST);
    assert_msg(&e, R("bin"));
    assert_msg(&e, "File exists");
    /* The link's parent may not be reached through a link out of the sandbox. */
    assert_int_equal(symlink(g_host, R("out")), 0);
    assert_int_equal(plat_symlink(g_root, "x", "/out/planted", &e), -EXDEV);
    assert_false(exists(H("planted")));

    /* Removing a symlink: only a link, only the link, never through a link out. */
    assert_int_equal(symlink(H("target"), H("hostlink")), 0);
    write_file(H("target"), "t");
    assert_int_equal(plat_remove_symlink(g_root, "/out/hostlink", &e), -EXDEV);
    assert_true(exists(H("hostlink")));
    assert_int_equal(plat_remove_symlink(g_root, "/a/b/link", &e), 0);
    assert_false(exists(R("a/b/link")));
    assert_int_equal(plat_symlink(g_root, "x", "/a/b/link", &e), 0);
    assert_int_equal(plat_remove_symlink(g_root, "/a", &e), 0); /* a directory: left alone */
    assert_true(exists(R("a/b/link")));
    assert_int_equal(plat_remove_symlink(g_root, "/a/missing/link", &e), 0);
    assert_int_equal(plat_remove_symlink(g_root, "/bin", &e), 0);
    assert_false(exists(R("bin")));
    assert_string_equal(read_file(H("target")), "t");

    /* Pruning: empty directories upward, stopping at the first non-empty one, never at a link. */
    assert_int_equal(mkdir(R("p"), 0755), 0);
    assert_int_equal(mkdir(R("p/q"), 0755), 0);
    assert_int_equal(mkdir(R("p/q/r"), 0755), 0);
    write_file(R("p/keep"), "k");
    plat_prune_empty(g_root, "/p/q/r/missing");
    assert_false(exists(R("p/q")));
    assert_true(exists(R("p/keep")));
    unlink(R("a/b/link"));
    plat_prune_empty(g_root, "/a/b");
    assert_false(exists(R("a")));
    assert_true(exists(g_root));
    /* A symlink level stops it: the link and the host directory stay. */
    assert_int_equal(mkdir(H("empty"), 0755), 0);
    plat_prune_empty(g_root, "/out/empty");
    assert_true(exists(H("empty")));
    assert_true(exists(R("out")));
    plat_prune_empty(g_root, "/");
    assert_true(exists(g_root));
}

static void test_mounts_under_order(void **state)
{
    struct plat_mount_entry *v;
    struct err e;
    size_t n;
    char want[PATH_MAX * 2];
    (void)state;

    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/a", NULL, &e), 0);
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/a/b", NULL, &e), 0);
    /* stacked on /a */
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/a", "size=1m", &e), 0);
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/sp ace\\x", NULL, &e), 0);

    assert_int_equal(plat_mounts_under(g_root, &v, &n, &e), 0);
    assert_int_equal(n, 4);
    /* Children and the top of a stack first: the stacked /a, then /a/b, then the rest. */
    assert_string_equal(v[0].path, R("a"));
    assert_string_equal(v[1].path, R("a/b"));
    assert_int_equal(v[1].parent, v[3].id);
    assert_int_equal(v[0].parent, v[3].id);
    assert_string_equal(v[3].path, R("a"));
    /* The path is unescaped (mountinfo shows "sp\040ace\134x"). */
    snprintf(want, sizeof(want), "%s/sp ace\\x", g_root);
    assert_string_equal(v[2].path, want);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i].fstype, "tmpfs");
    plat_mounts_free(v, n);

    /* "/ab" is not below "/a". */
    assert_int_equal(mkdir(R("ab"), 0755), 0);
    assert_int_equal(mounts_under(R("ab")), 0);
    assert_int_equal(mounts_under(R("a")), 3);

    /* Unmounting "/" takes everything, in that order (the hidden /a/b included). */
    assert_int_equal(plat_unmount(g_root, "/", &e), 0);
    assert_no_mounts();
}

/* ---- mounts ---- */

static void test_bind(void **state)
{
    struct err e;
    struct stat st;
    double t0, per;
    int rounds = 200;
    (void)state;

    write_file(H("hello"), "hi");
    umask(077);
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/mnt/a/b", NULL, &e), 0);
    /* Mount points and their parents are 0755 whatever the umask. */
    assert_int_equal(stat(R("mnt"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_string_equal(read_file(R("mnt/a/b/hello")), "hi");
    /* Read-write unless asked otherwise: a write shows on the host. */
    write_file(R("mnt/a/b/new"), "n");
    assert_string_equal(read_file(H("new")), "n");
    assert_int_equal(mounts_under(g_root), 1);

    assert_int_equal(plat_unmount(g_root, "/mnt/a/b", &e), 0);
    assert_no_mounts();
    assert_false(exists(R("mnt/a/b/hello")));
    assert_int_equal(stat(R("mnt/a/b"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_true(S_ISDIR(st.st_mode));
    assert_string_equal(read_file(H("hello")), "hi");

    /* A source that does not exist, and an option a bind does not know: nothing happens. */
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", H("missing"), "/nosrc", NULL, &e), -ENOENT);
    assert_msg(&e, H("missing"));
    assert_msg(&e, R("nosrc"));
    assert_false(exists(R("nosrc")));
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/badopt", "ro,bogus", &e), -EINVAL);
    assert_msg(&e, "unknown option 'bogus'");
    assert_false(exists(R("badopt")));
    assert_no_mounts();

    /* Cost of one bind mount plus its unmount. */
    t0 = now_us();
    for (int i = 0; i < rounds; i++) {
        assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/timed", "ro", &e), 0);
        assert_int_equal(plat_unmount(g_root, "/timed", &e), 0);
    }
    per = (now_us() - t0) / rounds;
    print_message("timing: ro bind mount + unmount: %.0f us per pair\n", per);
    assert_no_mounts();
}

static void test_bind_ro(void **state)
{
    struct err e;
    struct statvfs sv;
    (void)state;

    write_file(H("f"), "host");
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/ro", "ro nosuid", &e), 0);
    /* Refuses writes from the sandbox... */
    assert_int_equal(open(R("ro/new"), O_WRONLY | O_CREAT, 0644), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(open(R("ro/f"), O_WRONLY | O_TRUNC), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(unlink(R("ro/f")), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(statvfs(R("ro"), &sv), 0);
    assert_true(sv.f_flag & ST_RDONLY);
    assert_true(sv.f_flag & ST_NOSUID);
    /* ...while the host directory stays writable, and the sandbox sees the change. */
    write_file(H("g"), "later");
    assert_string_equal(read_file(R("ro/g")), "later");
    assert_string_equal(read_file(H("f")), "host");
    assert_int_equal(plat_unmount(g_root, "/ro", &e), 0);
    assert_no_mounts();

    /* "ro,rw": the last one wins. */
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/rw", "ro,rw", &e), 0);
    write_file(R("rw/w"), "w");
    assert_string_equal(read_file(H("w")), "w");
    assert_int_equal(plat_unmount(g_root, "/rw", &e), 0);
    assert_no_mounts();
}

static void test_bind_keeps_flags(void **state)
{
    struct err e;
    struct statvfs sv;
    (void)state;

    /* The source's own flags stay on a read-only bind (mount(2): the remount keeps them). */
    assert_int_equal(mkdir(H("src"), 0755), 0);
    assert_int_equal(mount("tmpfs", H("src"), "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NOATIME, NULL),
                     0);
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", H("src"), "/keep", "ro nodev", &e), 0);
    assert_int_equal(statvfs(R("keep"), &sv), 0);
    assert_true(sv.f_flag & ST_RDONLY);
    assert_true(sv.f_flag & ST_NODEV);
    assert_true(sv.f_flag & ST_NOSUID);
    assert_true(sv.f_flag & ST_NOEXEC);
    assert_true(sv.f_flag & ST_NOATIME);
    assert_int_equal(plat_unmount(g_root, "/keep", &e), 0);
    /* ...unless an option says otherwise. */
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", H("src"), "/keep", "ro,exec,strictatime", &e),
                     0);
    assert_int_equal(statvfs(R("keep"), &sv), 0);
    assert_true(sv.f_flag & ST_RDONLY);
    assert_true(sv.f_flag & ST_NOSUID);
    assert_false(sv.f_flag & ST_NOEXEC);
    assert_false(sv.f_flag & (ST_NOATIME | ST_RELATIME));
    assert_int_equal(plat_unmount(g_root, "/keep", &e), 0);
    assert_int_equal(umount2(H("src"), 0), 0);
    assert_no_mounts();
}

static void test_mount_rollback(void **state)
{
    struct err e;
    size_t before = mounts_under("/");
    (void)state;

    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/t", NULL, &e), 0);
    print_message("mounts made with %s\n", lx_mount_classic() ? "mount(2)" : "the new mount API");
    /* The registration with BOB_NO_NEWMOUNT=1 really covers mount(2). */
    if (getenv("BOB_NO_NEWMOUNT"))
        assert_true(lx_mount_classic());
    assert_int_equal(plat_unmount(g_root, "/t", &e), 0);

    /*
     * A /dev whose tmpfs has too few inodes for its nodes: filling it fails
     * after it was made (mount(2): after it was mounted), and nothing stays.
     */
    assert_int_equal(do_mount(PLAT_FS_DEV, "dev", NULL, "/dev", "nr_inodes=4", &e), -ENOSPC);
    print_message("message: %s\n", e.msg);
    assert_msg(&e, R("dev/"));
    assert_int_equal(mounts_under("/"), before);
    assert_no_mounts();
}

static void test_bind_file(void **state)
{
    struct err e;
    struct stat st;
    (void)state;

    write_file(H("resolv.conf"), "nameserver 192.0.2.1\n");
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", H("resolv.conf"), "/etc/resolv.conf", "ro", &e),
                     0);
    assert_string_equal(read_file(R("etc/resolv.conf")), "nameserver 192.0.2.1\n");
    assert_int_equal(open(R("etc/resolv.conf"), O_WRONLY), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(plat_unmount(g_root, "/etc/resolv.conf", &e), 0);
    assert_no_mounts();
    /* The mount point was an empty file. */
    assert_int_equal(lstat(R("etc/resolv.conf"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 0);
}

static void test_tmp(void **state)
{
    struct err e;
    struct statvfs sv;
    struct stat st;
    char big[4096];
    int fd;
    ssize_t total = 0, n;
    size_t before = mounts_under("/");
    (void)state;

    umask(077);
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/var/tmp", "size=1m,mode=1777 nosuid", &e),
                     0);
    assert_int_equal(statvfs(R("var/tmp"), &sv), 0);
    assert_int_equal((unsigned long long)sv.f_blocks * sv.f_frsize, 1024 * 1024);
    assert_true(sv.f_flag & ST_NOSUID);
    assert_int_equal(stat(R("var/tmp"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 01777);
    /* The size is a real limit. */
    memset(big, 'x', sizeof(big));
    fd = open(R("var/tmp/fill"), O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    while ((n = write(fd, big, sizeof(big))) > 0)
        total += n;
    assert_int_equal(errno, ENOSPC);
    assert_true(total <= 1024 * 1024);
    close(fd);
    assert_int_equal(plat_unmount(g_root, "/var/tmp", &e), 0);
    assert_false(exists(R("var/tmp/fill")));
    assert_int_equal(stat(R("var"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);

    /*
     * A bad value: the kernel's reason (with mount(2), the options) is in the
     * message and nothing is mounted. The new API refuses it before the mount
     * point is made; mount(2) only when mounting, so the empty directory stays.
     */
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/badtmp", "size=bogus", &e), -EINVAL);
    assert_msg(&e, R("badtmp"));
    assert_msg(&e, "size");
    print_message("message: %s\n", e.msg);
    if (lx_mount_classic())
        assert_int_equal(rmdir(R("badtmp")), 0);
    assert_false(exists(R("badtmp")));
    assert_int_equal(mounts_under("/"), before);
    assert_no_mounts();
}

static void test_proc_and_fd(void **state)
{
    struct err e;
    char link[64], want[32];
    ssize_t n;
    (void)state;

    assert_int_equal(do_mount(PLAT_FS_PROC, "proc", NULL, "/proc", NULL, &e), 0);
    n = readlink(R("proc/self"), link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    snprintf(want, sizeof(want), "%d", (int)getpid());
    assert_string_equal(link, want);
    assert_true(exists(R("proc/self/status")));

    /* fd binds /dev/fd, which is /proc/self/fd: file descriptor 0 is there. */
    assert_int_equal(do_mount(PLAT_FS_FD, "fd", NULL, "/dev/fd", NULL, &e), 0);
    assert_int_equal(mounts_under(g_root), 2);
    assert_true(exists(R("dev/fd/0")));

    assert_int_equal(plat_unmount(g_root, "/dev/fd", &e), 0);
    assert_int_equal(plat_unmount(g_root, "/proc", &e), 0);
    assert_no_mounts();
    assert_false(exists(R("proc/self")));
}

static void test_dev(void **state)
{
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    static const char *const links[][2] = {
        {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
        {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
    };
    struct err e;
    struct stat st, hst;
    struct statvfs sv;
    struct plat_mount_entry *v;
    size_t n;
    char buf[64], name[64], inside[PATH_MAX];
    int fd;
    (void)state;

    assert_int_equal(do_mount(PLAT_FS_DEV, "dev", NULL, "/dev", NULL, &e), 0);
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        char host[64];
        snprintf(host, sizeof(host), "/dev/%s", nodes[i]);
        char node[PATH_MAX];
        snprintf(node, sizeof(node), "%s/dev/%s", g_root, nodes[i]);
        assert_int_equal(lstat(node, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0666);
        if (stat(host, &hst) == 0)
            assert_int_equal(st.st_rdev, hst.st_rdev);
    }
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        char link[PATH_MAX];
        ssize_t len;
        snprintf(link, sizeof(link), "%s/dev/%s", g_root, links[i][0]);
        len = readlink(link, buf, sizeof(buf) - 1);
        assert_true(len > 0);
        buf[len] = '\0';
        assert_string_equal(buf, links[i][1]);
    }
    /* The nodes work. */
    fd = open(R("dev/null"), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    fd = open(R("dev/zero"), O_RDONLY);
    assert_true(fd >= 0);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(read(fd, buf, sizeof(buf)), sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    close(fd);
    fd = open(R("dev/full"), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a", 1), -1);
    assert_int_equal(errno, ENOSPC);
    close(fd);

    /* It is not the host's /dev: new files and mode changes stay inside. */
    snprintf(name, sizeof(name), "bob-test-%d", (int)getpid());
    snprintf(inside, sizeof(inside), "%s/dev/%s", g_root, name);
    write_file(inside, "x");
    snprintf(inside, sizeof(inside), "/dev/%s", name);
    assert_false(exists(inside));
    assert_int_equal(stat("/dev/null", &hst), 0);
    assert_int_equal(chmod(R("dev/null"), 0600), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_int_equal(st.st_mode, hst.st_mode);
    assert_int_equal(statvfs(R("dev"), &sv), 0);
    assert_true(sv.f_flag & ST_NOSUID);

    /* /dev, /dev/shm (1777) and /dev/pts (devpts) are three mounts. */
    assert_int_equal(stat(R("dev/shm"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 01777);
    assert_int_equal(plat_mounts_under(g_root, &v, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[2].path, R("dev"));
    assert_string_equal(v[2].fstype, "tmpfs");
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(v[i].fstype, strcmp(v[i].path, R("dev/pts")) == 0 ? "devpts" : "tmpfs");
    plat_mounts_free(v, n);

    assert_int_equal(plat_unmount(g_root, "/dev", &e), 0);
    assert_no_mounts();
    assert_false(exists(R("dev/null")));
    assert_true(exists(R("dev")));
}

static void test_dev_pty(void **state)
{
    struct err e;
    struct stat sst, pst, hst;
    struct statvfs sv;
    unsigned ptn;
    char slave[64], buf[16];
    int master, s;
    ssize_t n;
    (void)state;

    assert_int_equal(do_mount(PLAT_FS_DEV, "dev", NULL, "/dev", NULL, &e), 0);
    master = open(R("dev/ptmx"), O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    assert_int_equal(ioctl(master, TIOCGPTN, &ptn), 0);
    snprintf(slave, sizeof(slave), "dev/pts/%u", ptn);
    s = open(R(slave), O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(s >= 0);
    /* The slave belongs to the sandbox's own devpts instance, not the host's. */
    assert_int_equal(fstat(s, &sst), 0);
    assert_int_equal(stat(R("dev/pts"), &pst), 0);
    assert_int_equal(major(sst.st_dev), major(pst.st_dev));
    assert_int_equal(minor(sst.st_dev), minor(pst.st_dev));
    if (stat("/dev/pts", &hst) == 0)
        assert_true(hst.st_dev != pst.st_dev);
    assert_int_equal(sst.st_mode & 0777, 0620);
    /* Data goes through. */
    assert_int_equal(write(s, "ping\n", 5), 5);
    n = read(master, buf, sizeof(buf) - 1);
    assert_true(n >= 4);
    assert_memory_equal(buf, "ping", 4);
    close(s);
    close(master);
    assert_int_equal(plat_unmount(g_root, "/dev", &e), 0);
    assert_no_mounts();

    /* Options apply to the /dev tmpfs itself, "ro" included (the nodes are made before). */
    assert_int_equal(do_mount(PLAT_FS_DEV, "dev", NULL, "/dev2", "size=64k,noexec ro", &e), 0);
    assert_int_equal(statvfs(R("dev2"), &sv), 0);
    assert_int_equal((unsigned long long)sv.f_blocks * sv.f_frsize, 64 * 1024);
    assert_true(sv.f_flag & ST_NOEXEC);
    assert_true(sv.f_flag & ST_RDONLY);
    assert_true(sv.f_flag & ST_NOSUID);
    assert_int_equal(lstat(R("dev2/urandom"), &sst), 0);
    assert_true(S_ISCHR(sst.st_mode));
    assert_int_equal(mounts_under(R("dev2")), 3);
    assert_int_equal(plat_unmount(g_root, "/dev2", &e), 0);
    assert_no_mounts();
}

/* Whether any mount at or below path has the "shared:" propagation tag. */
static bool any_shared_under(const char *path)
{
    struct lx_mount *v;
    size_t n;
    struct err e;
    bool shared = false;
    assert_int_equal(lx_mountinfo(&v, &n, &e), 0);
    for (size_t i = 0; i < n; i++)
        if (path_covers(path, v[i].path) && strstr(v[i].optional, "shared:"))
            shared = true;
    lx_mountinfo_free(v, n);
    return shared;
}

static void test_propagation_private(void **state)
{
    struct err e;
    (void)state;

    /* The sandbox sits on a shared mount, as on a systemd host: new mounts would become shared. */
    assert_int_equal(mount(g_base, g_base, NULL, MS_BIND, NULL), 0);
    assert_int_equal(mount(NULL, g_base, NULL, MS_SHARED, NULL), 0);
    assert_true(any_shared_under(g_base));
    write_file(H("f"), "x");

    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/b", NULL, &e), 0);
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/bro", "ro", &e), 0);
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/tmp", NULL, &e), 0);
    assert_int_equal(do_mount(PLAT_FS_PROC, "proc", NULL, "/proc", NULL, &e), 0);
    assert_int_equal(do_mount(PLAT_FS_DEV, "dev", NULL, "/dev", NULL, &e), 0);
    assert_int_equal(mounts_under(g_root), 7);
    assert_false(any_shared_under(g_root));
    assert_true(any_shared_under(g_base));

    assert_int_equal(plat_unmount(g_root, "/", &e), 0);
    assert_int_equal(mounts_under(g_root), 0);
    assert_int_equal(umount2(g_base, 0), 0);
    assert_no_mounts();
}

static void test_mount_escape(void **state)
{
    struct err e;
    char dest[PATH_MAX * 2];
    size_t before;
    (void)state;

    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/tmp", NULL, &e), 0);
    /* A build makes links out of the sandbox after it was set up. */
    assert_int_equal(symlink("/", R("tmp/evil")), 0);
    assert_int_equal(symlink("../../..", R("tmp/up")), 0);
    before = mounts_under("/");

    snprintf(dest, sizeof(dest), "/tmp/evil%s/planted", g_host);
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, dest, NULL, &e), -EXDEV);
    assert_msg(&e, "Path escapes sandbox: ");
    assert_msg(&e, dest);
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, dest, "ro", &e), -EXDEV);
    assert_int_equal(do_mount(PLAT_FS_DEV, "dev", NULL, dest, NULL, &e), -EXDEV);
    /* The link itself as the mount point. */
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/tmp/evil", NULL, &e), -EXDEV);
    snprintf(dest, sizeof(dest), "/tmp/up/host/planted");
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, dest, NULL, &e), -EXDEV);
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/../host/planted", NULL, &e), -EXDEV);

    assert_false(exists(H("planted")));
    assert_int_equal(mounts_under("/"), before);
    assert_int_equal(mounts_under(g_host), 0);

    /* Unmounting through the link is refused as well; the real mount is still unmounted by "/". */
    assert_int_equal(plat_unmount(g_root, "/tmp/evil/tmp", &e), -EXDEV);
    assert_int_equal(plat_unmount(g_root, "/", &e), 0);
    assert_no_mounts();
}

static void test_unmount_idempotent(void **state)
{
    struct err e;
    (void)state;

    assert_int_equal(plat_unmount(g_root, "/never/mounted", &e), 0);
    assert_int_equal(mkdir(R("plain"), 0755), 0);
    assert_int_equal(plat_unmount(g_root, "/plain", &e), 0);
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/t", NULL, &e), 0);
    assert_int_equal(plat_unmount(g_root, "/t", &e), 0);
    assert_int_equal(plat_unmount(g_root, "/t", &e), 0);
    assert_int_equal(plat_unmount(H("no-such-sandbox"), "/t", &e), 0);
    assert_no_mounts();
}

static void test_unmount_moved_parent(void **state)
{
    struct err e;
    char inner[PATH_MAX * 2];
    (void)state;

    /* A build renames the mount point's parent and puts a link to the host in its place. */
    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/usr/pkg", NULL, &e), 0);
    assert_int_equal(rename(R("usr"), R("usr.old")), 0);
    assert_int_equal(symlink(g_host, R("usr")), 0);
    assert_int_equal(mkdir(H("pkg"), 0755), 0);
    assert_int_equal(plat_unmount(g_root, "/usr/pkg", &e), -EXDEV);
    assert_int_equal(mounts_under(R("usr.old/pkg")), 1);
    /* Driven by the mount table, "/" finds it where it is now. */
    assert_int_equal(plat_unmount(g_root, "/", &e), 0);
    assert_no_mounts();
    snprintf(inner, sizeof(inner), "%s/pkg", g_host);
    assert_true(exists(inner));
}

static void test_unmount_busy(void **state)
{
    struct err e;
    char want[128];
    pid_t pid;
    (void)state;

    assert_int_equal(do_mount(PLAT_FS_TMP, "tmp", NULL, "/work", NULL, &e), 0);
    assert_int_equal(mkdir(R("work/sub"), 0755), 0);
    pid = spawn_child(child_chdir, R("work/sub"));

    assert_int_equal(plat_unmount(g_root, "/work", &e), -EBUSY);
    print_message("message: %s\n", e.msg);
    assert_msg(&e, "cannot unmount ");
    assert_msg(&e, R("work"));
    assert_msg(&e, ": busy (");
    snprintf(want, sizeof(want), "pid %d test_platform", (int)pid);
    assert_msg(&e, want);
    assert_int_equal(e.code, EBUSY);
    assert_int_equal(mounts_under(g_root), 1);

    reap(pid);
    assert_int_equal(plat_unmount(g_root, "/work", &e), 0);
    assert_no_mounts();
}

/* ---- processes ---- */

static void test_find_pids(void **state)
{
    struct err e;
    pid_t *pids, inside, outside;
    size_t n;
    bool found = false;
    double t0;
    (void)state;

    inside = spawn_child(child_chroot, g_root);
    assert_int_equal(mkdir(R("sub"), 0755), 0);
    outside = spawn_child(child_chdir, R("sub")); /* cwd inside, root outside: not in it */

    t0 = now_us();
    assert_int_equal(plat_find_pids(g_root, &pids, &n, &e), 0);
    print_message("timing: plat_find_pids: %.0f us\n", now_us() - t0);
    for (size_t i = 0; i < n; i++) {
        assert_true(pids[i] != getpid());
        assert_true(pids[i] != outside);
        found = found || pids[i] == inside;
    }
    assert_true(found);
    assert_int_equal(n, 1);
    free(pids);

    /* The pids of a root that is not there, or of another directory: none. */
    assert_int_equal(plat_find_pids(H("nothere"), &pids, &n, &e), 0);
    assert_int_equal(n, 0);
    free(pids);
    assert_int_equal(plat_find_pids(g_host, &pids, &n, &e), 0);
    assert_int_equal(n, 0);
    free(pids);

    /* Killing: the process goes; a pid that is gone is no error. */
    plat_kill_pids(&inside, 1, SIGKILL);
    assert_int_equal(waitpid(inside, NULL, 0), inside);
    plat_kill_pids(&inside, 1, SIGKILL);
    reap(outside);
    assert_int_equal(plat_find_pids(g_root, &pids, &n, &e), 0);
    assert_int_equal(n, 0);
    free(pids);
}

/* True when pid is in pids[0..n). */
static bool has_pid(const pid_t *pids, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/*
 * "Started since": a process that was in the sandbox before the mark is
 * not counted, those started at or after it are, through the quick scan
 * of the pids handed out since (a young mark) and through the full scan
 * with start times (an old mark).
 */
static void test_find_pids_since(void **state)
{
    struct plat_since since, old;
    struct err e;
    pid_t *pids, before, first, after;
    size_t n;
    (void)state;

    before = spawn_child(child_chroot, g_root);
    first = spawn_child(child_chroot_named, g_root);
    assert_int_equal(plat_since_mark(first, &since), 0);
    /* The start time is field 22 of /proc/PID/stat, counted after the name. */
    {
        char path[64], buf[1024], *p;
        FILE *f;
        int field = 3; /* p is at the space that starts field 3 */
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)first);
        f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        assert_non_null(strstr(buf, "(a) b (c d))"));
        p = strrchr(buf, ')') + 1;
        assert_true(*p == ' ');
        while (field < 22 && (p = strchr(p + 1, ' ')))
            field++;
        assert_non_null(p);
        assert_true(strtoull(p + 1, NULL, 10) == since.start);
        assert_true(since.start > 0);
    }
    after = spawn_child(child_chroot, g_root);

    for (int pass = 0; pass < 2; pass++) {
        const struct plat_since *s = &since;
        if (pass == 1) { /* as if the command had run for a second: the full scan */
            old = since;
            old.at_ms -= 1000;
            s = &old;
        } else if (now_ms() - since.at_ms >= PLAT_SINCE_QUICK_MS) {
            print_message("the machine is slow: the quick scan was not reached\n");
        }
        assert_int_equal(plat_find_pids_since(g_root, s, &pids, &n, &e), 0);
        assert_false(has_pid(pids, n, before));
        assert_true(has_pid(pids, n, first));
        assert_true(has_pid(pids, n, after));
        assert_false(has_pid(pids, n, getpid()));
        free(pids);
        assert_int_equal(plat_find_pids(g_root, &pids, &n, &e), 0);
        assert_int_equal(n, 3);
        free(pids);
    }
    /* The mark of a pid that is gone fails (the caller then spares nothing). */
    plat_kill_pids(&first, 1, SIGKILL);
    assert_int_equal(waitpid(first, NULL, 0), first);
    assert_int_equal(plat_since_mark(first, &old), -1);
    plat_kill_pids(&before, 1, SIGKILL);
    plat_kill_pids(&after, 1, SIGKILL);
    assert_int_equal(waitpid(before, NULL, 0), before);
    assert_int_equal(waitpid(after, NULL, 0), after);
}

/*
 * A pty of the sandbox's devpts: refused when /dev/pts is missing or is
 * not a devpts mount (a directory with a "ptmx" a build could have made),
 * and a working master/slave pair when it is one.
 */
static void test_pty_open(void **state)
{
    struct err e;
    int m = -1, sl = -1;
    char buf[16];
    (void)state;

    assert_true(plat_pty_open(g_root, &m, &sl, &e) < 0);
    assert_int_equal(m, -1);
    assert_int_equal(mkdir(R("dev"), 0755), 0);
    assert_int_equal(mkdir(R("dev/pts"), 0755), 0);
    close(open(R("dev/pts/ptmx"), O_CREAT | O_WRONLY, 0666));
    assert_int_equal(plat_pty_open(g_root, &m, &sl, &e), -ENODEV);
    assert_non_null(strstr(e.msg, "not a devpts mount"));
    assert_int_equal(unlink(R("dev/pts/ptmx")), 0);

    assert_int_equal(
        mount("devpts", R("dev/pts"), "devpts", 0, "newinstance,ptmxmode=0666,mode=0620"), 0);
    assert_int_equal(plat_pty_open(g_root, &m, &sl, &e), 0);
    assert_true(isatty(sl));
    assert_int_equal(write(sl, "hi", 2), 2);
    assert_int_equal(read(m, buf, sizeof(buf)), 2);
    assert_memory_equal(buf, "hi", 2);
    assert_true(fcntl(m, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(sl, F_GETFD) & FD_CLOEXEC);
    close(m);
    close(sl);
    assert_int_equal(umount2(R("dev/pts"), 0), 0);
    assert_no_mounts();
}

static void test_describe_holders(void **state)
{
    char out[256], small[24], want[64];
    pid_t a, b;
    (void)state;

    write_file(H("held"), "x");
    a = spawn_child(child_chdir, g_host);
    b = spawn_child(child_open, H("held"));
    plat_describe_holders(g_host, out, sizeof(out));
    snprintf(want, sizeof(want), "pid %d test_platform", (int)a);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want), "pid %d test_platform", (int)b);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, ", "));
    /* Too small a buffer: whole entries only, and "..." says some are missing. */
    plat_describe_holders(g_host, small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
    assert_non_null(strstr(small, "..."));
    reap(a);
    reap(b);
    plat_describe_holders(g_host, out, sizeof(out));
    assert_string_equal(out, "");
}

/* ---- removal ---- */

static void test_remove_refuses_mounted(void **state)
{
    struct err e;
    char want[PATH_MAX * 3];
    (void)state;

    write_file(H("precious"), "keep me");
    assert_int_equal(mkdir(H("dir"), 0755), 0);
    write_file(H("dir/also"), "keep");
    write_file(R("own"), "sandbox file");
    assert_int_equal(do_mount(PLAT_FS_BIND, "bind", g_host, "/usr/src", NULL, &e), 0);

    assert_int_equal(plat_remove(g_root, "/", NULL, &e), -EBUSY);
    snprintf(want, sizeof(want), "refusing to remove %s: %s is still mounted", g_root,
             R("usr/src"));
    assert_string_equal(e.msg, want);
    assert_int_equal(plat_remove(g_root, "/usr", NULL, &e), -EBUSY);
    assert_msg(&e, R("usr/src"));
    assert_int_equal(plat_remove(g_root, "/usr/src/dir", NULL, &e), -EXDEV);
    assert_msg(&e, "it is on another mount");
    /* Nothing was removed anywhere, not even the sandbox's own file. */
    assert_string_equal(read_file(H("precious")), "keep me");
    assert_string_equal(read_file(H("dir/also")), "keep");
    assert_string_equal(read_file(R("own")), "sandbox file");

    /* After the unmount the sandbox goes, the host files stay. */
    assert_int_equal(plat_unmount(g_root, "/usr/src", &e), 0);
    assert_int_equal(plat_remove(g_root, "/", NULL, &e), 0);
    assert_false(exists(g_root));
    assert_string_equal(read_file(H("precious")), "keep me");
    assert_string_equal(read_file(H("dir/also")), "keep");
}

static void test_remove_symlinks(void **state)
{
    struct err e;
    (void)state;

    write_file(H("precious"), "keep me");
    assert_int_equal(mkdir(R("a"), 0755), 0);
    assert_int_equal(mkdir(R("a/b"), 0755), 0);
    write_file(R("a/b/file"), "f");
    assert_int_equal(symlink(g_host, R("a/abs")), 0);
    assert_int_equal(symlink("../../../host", R("a/b/rel")), 0);
    assert_int_equal(symlink(H("precious"), R("a/filelink")), 0);
    assert_int_equal(symlink("/", R("root")), 0);

    /* Through a link in the middle of the guest path: refused, host intact. */
    assert_int_equal(plat_remove(g_root, "/a/abs/precious", NULL, &e), -EXDEV);
    assert_msg(&e, "Path escapes sandbox: /a/abs/precious resolves outside ");
    assert_int_equal(plat_remove(g_root, "/root/tmp", NULL, &e), -EXDEV);
    assert_int_equal(plat_remove(g_root, "/../host", NULL, &e), -EXDEV);
    assert_int_equal(plat_remove(g_root, "/a/..", NULL, &e), -EINVAL);
    assert_true(exists(H("precious")));

    /* A link as the target: the link goes, not what it points to. */
    assert_int_equal(plat_remove(g_root, "/a/abs", NULL, &e), 0);
    assert_false(exists(R("a/abs")));
    assert_string_equal(read_file(H("precious")), "keep me");

    /* The whole sandbox with links inside. */
    assert_int_equal(plat_remove(g_root, "/", NULL, &e), 0);
    assert_false(exists(g_root));
    assert_string_equal(read_file(H("precious")), "keep me");
    assert_true(exists(g_base));
}

static void test_remove_misc(void **state)
{
    struct err e;
    atomic_bool cancel = true;
    (void)state;

    /* Missing paths (and a missing sandbox) are not errors. */
    assert_int_equal(plat_remove(g_root, "/nothing/here", NULL, &e), 0);
    assert_int_equal(plat_remove(H("nothere"), "/", NULL, &e), 0);
    /* A single file, a fifo, an empty directory. */
    write_file(R("file"), "x");
    assert_int_equal(mkfifo(R("fifo"), 0644), 0);
    assert_int_equal(mkdir(R("empty"), 0755), 0);
    assert_int_equal(plat_remove(g_root, "/file", NULL, &e), 0);
    assert_int_equal(plat_remove(g_root, "/fifo", NULL, &e), 0);
    assert_int_equal(plat_remove(g_root, "/empty", NULL, &e), 0);
    assert_false(exists(R("file")));
    assert_false(exists(R("fifo")));
    assert_false(exists(R("empty")));
    /* Unreadable, unwritable directories go too (we are root). */
    assert_int_equal(mkdir(R("locked"), 0755), 0);
    assert_int_equal(mkdir(R("locked/in"), 0755), 0);
    write_file(R("locked/in/f"), "x");
    assert_int_equal(chmod(R("locked/in"), 0), 0);
    assert_int_equal(chmod(R("locked"), 0), 0);
    assert_int_equal(plat_remove(g_root, "/locked", NULL, &e), 0);
    assert_false(exists(R("locked")));

    /* Cancellation stops between entries. */
    assert_int_equal(mkdir(R("c"), 0755), 0);
    write_file(R("c/1"), "1");
    write_file(R("c/2"), "2");
    assert_int_equal(plat_remove(g_root, "/c", &cancel, &e), -ECANCELED);
    assert_msg(&e, "cancelled");
    assert_true(exists(R("c")));
    cancel = false;
    assert_int_equal(plat_remove(g_root, "/c", &cancel, &e), 0);
    assert_false(exists(R("c")));

    /* Another directory of the same filesystem bound inside: refused (mount table). */
    assert_int_equal(mkdir(R("tree"), 0755), 0);
    assert_int_equal(mkdir(R("tree/m"), 0755), 0);
    write_file(H("keep"), "k");
    assert_int_equal(mount(g_host, R("tree/m"), NULL, MS_BIND, NULL), 0);
    assert_int_equal(plat_remove(g_root, "/tree", NULL, &e), -EBUSY);
    assert_msg(&e, R("tree/m"));
    /* A target inside another mount is refused as such. */
    assert_int_equal(plat_remove(g_root, "/tree/m/keep", NULL, &e), -EXDEV);
    assert_msg(&e, "it is on another mount");
    assert_int_equal(umount2(R("tree/m"), 0), 0);
    assert_string_equal(read_file(H("keep")), "k");
    assert_no_mounts();
}

/* Builds a chain of depth directories "d" below dir with a file at the bottom. */
static void make_deep(const char *dir, int depth)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    for (int i = 0; i < depth; i++) {
        int nfd;
        assert_int_equal(mkdirat(fd, "d", 0755), 0);
        if (i % 100 == 0) {
            int f = openat(fd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            assert_true(f >= 0);
            close(f);
            assert_int_equal(symlinkat("/", fd, "toroot"), 0);
        }
        nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(nfd >= 0);
        close(fd);
        fd = nfd;
    }
    assert_int_equal(symlinkat("../../../../../../..", fd, "up"), 0);
    close(fd);
}

static void test_remove_deep(void **state)
{
    struct err e;
    double t0;
    (void)state;

    assert_int_equal(mkdir(R("deep"), 0755), 0);
    make_deep(R("deep"), 5000);
    write_file(H("precious"), "keep me");
    t0 = now_us();
    assert_int_equal(plat_remove(g_root, "/deep", NULL, &e), 0);
    print_message("timing: removal of a 5000-level tree: %.1f ms\n", (now_us() - t0) / 1000);
    assert_false(exists(R("deep")));
    assert_string_equal(read_file(H("precious")), "keep me");
    assert_true(exists("/tmp"));

    /* The whole sandbox with a tree deeper than the open-fd window, level 0 being the root. */
    assert_int_equal(mkdir(R("deep"), 0755), 0);
    make_deep(R("deep"), 300);
    assert_int_equal(plat_remove(g_root, "/", NULL, &e), 0);
    assert_false(exists(g_root));
}

static void test_remove_walk_other_mount(void **state)
{
    struct err e;
    char want[PATH_MAX * 3];
    uint64_t mnt;
    int fd;
    (void)state;

    /*
     * The mount-id check of the walk itself, without the mount-table check
     * in front of it: a directory of the same filesystem (same st_dev) is
     * bound onto a subdirectory deep in the tree.
     */
    write_file(H("precious"), "keep me");
    assert_int_equal(mkdir(R("x"), 0755), 0);
    assert_int_equal(mkdir(R("x/y"), 0755), 0);
    write_file(R("x/file"), "f");
    assert_int_equal(mount(g_host, R("x/y"), NULL, MS_BIND, NULL), 0);
    fd = open(g_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(lx_mnt_id(fd, &mnt), 0);
    assert_int_equal(lx_remove_contents(fd, g_root, mnt, NULL, &e), -EXDEV);
    snprintf(want, sizeof(want), "refusing to remove %s: it is on another mount", R("x/y"));
    assert_string_equal(e.msg, want);
    close(fd);
    assert_string_equal(read_file(H("precious")), "keep me");
    assert_int_equal(umount2(R("x/y"), 0), 0);
    assert_no_mounts();
}

/* ---- copy ---- */

static void set_times(const char *path, time_t t)
{
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void test_copy_tree(void **state)
{
    struct err e;
    struct stat st;
    char buf[PATH_MAX + 16], rel[PATH_MAX];
    ssize_t n;
    (void)state;

    assert_int_equal(mkdir(H("src"), 0755), 0);
    assert_int_equal(mkdir(H("src/d"), 0750), 0);
    write_file(H("src/d/f"), "data");
    assert_int_equal(chmod(H("src/d/f"), 0640), 0);
    assert_int_equal(chown(H("src/d/f"), 1234, 5678), 0);
    set_times(H("src/d/f"), 1000000000);
    write_file(H("src/suid"), "#!/bin/sh\n");
    assert_int_equal(chown(H("src/suid"), 1234, 5678), 0);
    assert_int_equal(chmod(H("src/suid"), 04755), 0);
    assert_int_equal(symlink("../nowhere", H("src/d/l")), 0);
    assert_int_equal(lchown(H("src/d/l"), 1234, 5678), 0);
    assert_int_equal(symlink(g_host, H("src/abs")), 0);
    assert_int_equal(mkfifo(H("src/d/p"), 0644), 0);
    /* Deeper than the number of levels kept open. */
    snprintf(rel, sizeof(rel), "src");
    for (int i = 0; i < 3 * LX_OPEN_LEVELS; i++) {
        strcat(rel, "/n");
        assert_int_equal(mkdir(H(rel), 0755), 0);
    }
    strcat(rel, "/bottom");
    write_file(H(rel), "deep");
    set_times(H("src/d/l"), 1100000000);
    set_times(H("src/d"), 1200000000);

    umask(077);
    assert_int_equal(plat_copy(g_root, H("src"), "/opt/copy", NULL, &e), 0);
    assert_int_equal(stat(R("opt"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(R("opt/copy/d"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(st.st_mtime, 1200000000);
    assert_int_equal(stat(R("opt/copy/d/f"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(st.st_mtime, 1000000000);
    assert_string_equal(read_file(R("opt/copy/d/f")), "data");
    assert_int_equal(stat(R("opt/copy/suid"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755);
    /* Links are copied as links, with their owner and times. */
    assert_int_equal(lstat(R("opt/copy/d/l"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_mtime, 1100000000);
    n = readlink(R("opt/copy/d/l"), buf, sizeof(buf) - 1);
    assert_int_equal(n, 10);
    buf[n] = '\0';
    assert_string_equal(buf, "../nowhere");
    assert_int_equal(lstat(R("opt/copy/abs"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* Fifos are skipped. */
    assert_false(exists(R("opt/copy/d/p")));
    snprintf(buf, sizeof(buf), "opt/copy%s", rel + 3);
    assert_string_equal(read_file(R(buf)), "deep");

    /* Again over the existing copy: files replaced, directories merged. */
    write_file(H("src/d/f"), "new");
    assert_int_equal(plat_copy(g_root, H("src"), "/opt/copy", NULL, &e), 0);
    assert_string_equal(read_file(R("opt/copy/d/f")), "new");
}

static void test_copy_file_and_escape(void **state)
{
    struct err e;
    struct stat st;
    char dest[PATH_MAX * 2];
    atomic_bool cancel = true;
    (void)state;

    write_file(H("conf"), "setting=1\n");
    assert_int_equal(chmod(H("conf"), 0600), 0);
    write_file(H("victim"), "host data");
    assert_int_equal(mkdir(R("etc"), 0755), 0);

    assert_int_equal(plat_copy(g_root, H("conf"), "/etc/app.conf", NULL, &e), 0);
    assert_string_equal(read_file(R("etc/app.conf")), "setting=1\n");
    assert_int_equal(stat(R("etc/app.conf"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* A link at the destination is replaced, never written through. */
    assert_int_equal(symlink(H("victim"), R("etc/linked.conf")), 0);
    assert_int_equal(plat_copy(g_root, H("conf"), "/etc/linked.conf", NULL, &e), 0);
    assert_int_equal(lstat(R("etc/linked.conf"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_string_equal(read_file(H("victim")), "host data");

    /* A destination reached through a link out of the sandbox is refused. */
    assert_int_equal(symlink("/", R("evil")), 0);
    snprintf(dest, sizeof(dest), "/evil%s/planted", g_host);
    assert_int_equal(plat_copy(g_root, H("conf"), dest, NULL, &e), -EXDEV);
    assert_msg(&e, "Path escapes sandbox");
    assert_false(exists(H("planted")));
    snprintf(dest, sizeof(dest), "/evil%s/planted/deeper", g_host);
    assert_int_equal(plat_copy(g_root, g_host, dest, NULL, &e), -EXDEV);
    assert_false(exists(H("planted")));

    /* Missing source; special source (never opened: a fifo would block). */
    assert_int_equal(plat_copy(g_root, H("missing"), "/x", NULL, &e), -ENOENT);
    assert_msg(&e, H("missing"));
    assert_int_equal(mkfifo(H("fifo"), 0644), 0);
    assert_int_equal(plat_copy(g_root, H("fifo"), "/x", NULL, &e), -EINVAL);
    assert_msg(&e, "not a regular file or directory");
    assert_false(exists(R("x")));

    /* Cancelled: nothing is copied. */
    assert_int_equal(plat_copy(g_root, g_host, "/cancelled", &cancel, &e), -ECANCELED);
    assert_msg(&e, "cancelled");
    assert_false(exists(R("cancelled")));
}

struct canceller {
    int inotify;
    atomic_bool *flag;
};

/* Sets the flag at the first inotify event (the operation has started). */
static void *cancel_on_event(void *arg)
{
    struct canceller *c = arg;
    char buf[4096];
    if (read(c->inotify, buf, sizeof(buf)) > 0)
        *c->flag = true;
    return NULL;
}

/* Runs op with a flag that another thread sets at the first event of mask on dir. */
static int run_cancelled(const char *dir, uint32_t mask, int (*op)(const atomic_bool *))
{
    atomic_bool flag = false;
    struct canceller c = {.flag = &flag};
    pthread_t t;
    int rc;
    c.inotify = inotify_init1(IN_CLOEXEC);
    assert_true(c.inotify >= 0);
    assert_true(inotify_add_watch(c.inotify, dir, mask) >= 0);
    assert_int_equal(pthread_create(&t, NULL, cancel_on_event, &c), 0);
    rc = op(&flag);
    close(c.inotify); /* unblocks the thread if no event came */
    if (!flag)
        pthread_cancel(t);
    pthread_join(t, NULL);
    return rc;
}

static int op_copy(const atomic_bool *cancel)
{
    struct err e;
    int rc = plat_copy(g_root, H("many"), "/many", cancel, &e);
    if (rc == -ECANCELED)
        assert_msg(&e, "cancelled");
    return rc;
}

static int op_remove(const atomic_bool *cancel)
{
    struct err e;
    int rc = plat_remove(g_root, "/many", cancel, &e);
    if (rc == -ECANCELED)
        assert_msg(&e, "cancelled");
    return rc;
}

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_cancel_midway(void **state)
{
    enum { FILES = 3000 };
    size_t left;
    (void)state;

    /* The flag is read between entries: set while the work runs, it stops it part-way. */
    assert_int_equal(mkdir(H("many"), 0755), 0);
    for (int i = 0; i < FILES; i++) {
        char name[32];
        snprintf(name, sizeof(name), "many/f%04d", i);
        write_file(H(name), "x");
    }
    /* The destination exists (a copy merges into it): cancelled at its first new entry. */
    assert_int_equal(mkdir(R("many"), 0755), 0);
    assert_int_equal(run_cancelled(R("many"), IN_CREATE, op_copy), -ECANCELED);
    left = count_entries(R("many"));
    print_message("copy cancelled after %zu of %d entries\n", left, FILES);
    assert_true(left >= 1 && left < FILES);

    /* Complete it, then remove with a cancel at the first deletion. */
    assert_int_equal(op_copy(NULL), 0);
    assert_int_equal(count_entries(R("many")), FILES);
    assert_int_equal(run_cancelled(R("many"), IN_DELETE, op_remove), -ECANCELED);
    left = count_entries(R("many"));
    print_message("removal cancelled with %zu of %d entries left\n", left, FILES);
    assert_true(left > 0 && left < FILES);
}

/* ---- fault points ---- */

/*
 * BOB_FAULT: each kind is checked once per call, at the start of the
 * platform function that does it: the first call works (a second check
 * inside would be the chosen one), the second fails with "(injected)" and
 * leaves nothing, the third works.
 */
static void test_fault_points(void **state)
{
    struct plat_mount_spec t = {.fs = PLAT_FS_TMP, .name = "tmp", .dest = "/t"};
    struct plat_mount_spec u = {.fs = PLAT_FS_TMP, .name = "tmp", .dest = "/u"};
    struct err e;
    (void)state;

    write_file(H("f"), "data");
    assert_int_equal(setenv("BOB_FAULT", "mount:2,umount:2,copy:2,unlink:3,symlink:2", 1), 0);
    fault_init();

    assert_int_equal(plat_mount(g_root, &t, &e), 0);
    assert_int_equal(plat_mount(g_root, &u, &e), -EIO);
    assert_msg(&e, "cannot mount /u in ");
    assert_msg(&e, "(injected)");
    assert_false(exists(R("u")));
    assert_int_equal(plat_mount(g_root, &u, &e), 0);
    assert_int_equal(plat_unmount(g_root, "/t", &e), 0);
    assert_int_equal(plat_unmount(g_root, "/u", &e), -EIO);
    assert_msg(&e, "cannot unmount /u in ");
    assert_int_equal(mounts_under(g_root), 1);
    assert_int_equal(plat_unmount(g_root, "/u", &e), 0);
    assert_no_mounts();

    assert_int_equal(plat_copy(g_root, H("f"), "/f", NULL, &e), 0);
    assert_int_equal(plat_copy(g_root, H("f"), "/g", NULL, &e), -EIO);
    assert_msg(&e, "cannot copy ");
    assert_false(exists(R("g")));
    assert_int_equal(plat_copy(g_root, H("f"), "/g", NULL, &e), 0);

    /* Making and removing a link share the kind. */
    assert_int_equal(plat_symlink(g_root, "f", "/l", &e), 0);
    assert_int_equal(plat_remove_symlink(g_root, "/l", &e), -EIO);
    assert_msg(&e, "cannot remove symlink /l in ");
    assert_true(exists(R("l")));
    assert_int_equal(plat_remove_symlink(g_root, "/l", &e), 0);
    assert_false(exists(R("l")));

    /* plat_remove and plat_remove_sandbox count once each, whatever they remove. */
    assert_int_equal(plat_remove(g_root, "/f", NULL, &e), 0);
    assert_false(exists(R("f")));
    assert_int_equal(plat_remove_sandbox(g_root, ".bob", NULL, &e), 0);
    assert_false(exists(g_root));
    assert_int_equal(mkdir(g_root, 0755), 0);
    assert_int_equal(plat_remove_sandbox(g_root, ".bob", NULL, &e), -EIO);
    assert_msg(&e, "cannot remove ");
    assert_msg(&e, "(injected)");
    assert_true(exists(g_root));

    assert_int_equal(unsetenv("BOB_FAULT"), 0);
    fault_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts_under_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_ro, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_keeps_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proc_and_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dev_pty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_propagation_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmount_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmount_moved_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmount_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_pids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_pids_since, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pty_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_holders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_refuses_mounted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_misc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_walk_other_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_file_and_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_points, setup, teardown),
    };

    if (geteuid() != 0) {
        printf("test_platform: skipped: needs root (mounts, mknod, chroot); "
               "run as root through tests/run-private\n");
        return 77;
    }
    /* Without tests/run-private: a private mount namespace of our own. */
    if (!getenv("BOB_IN_PRIVATE_NS")) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            printf("test_platform: skipped: cannot make a private mount namespace: %s\n",
                   strerror(errno));
            return 77;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
