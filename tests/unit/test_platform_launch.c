/*
 * Unit tests of the kernel boundary around sandboxed commands
 * (src/platform/launch.h). Each runs a real command in a real sandbox-like
 * root: a temporary directory with /usr bound read-only, the merged-usr
 * symlinks, a proc, /dev/null, a writable /tmp and a /.bob with a marker.
 * Where it can, a test also runs the same attack in a plain chroot
 * (LAUNCH_NO_BOUNDARY) and sees it succeed there, so that it can fail.
 * Root only (they mount and make namespaces): exit 77 otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platform/launch.h"

static char root[64];    /* the sandbox */
static char hostdir[96]; /* a host directory, bound read-only at /ro */

/* Writes s into path (created or truncated). */
static void put_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    assert_int_equal(fclose(f), 0);
}

/* The contents of path, up to 4 KiB, or "" when it cannot be read. */
static const char *get_file(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t r = 0;
    buf[0] = '\0';
    if (f) {
        r = fread(buf, 1, n - 1, f);
        fclose(f);
    }
    buf[r] = '\0';
    return buf;
}

static void at(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s%s", root, rel);
}

static void mkdir_at(const char *rel)
{
    char p[256];
    at(p, sizeof(p), rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

/* Binds src at rel in the root, read-only when ro. */
static void bind_at(const char *src, const char *rel, bool ro)
{
    char p[256];
    at(p, sizeof(p), rel);
    assert_int_equal(mount(src, p, NULL, MS_BIND | MS_REC, NULL), 0);
    if (ro)
        assert_int_equal(mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), 0);
}

static int setup(void **state)
{
    char p[256];
    const char *links[][2] = {
        {"usr/bin", "/bin"}, {"usr/sbin", "/sbin"}, {"usr/lib", "/lib"}, {"usr/lib64", "/lib64"}};

    snprintf(root, sizeof(root), "/tmp/bob-launch-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(hostdir, sizeof(hostdir), "%s.host", root);
    assert_int_equal(mkdir(hostdir, 0755), 0);
    snprintf(p, sizeof(p), "%s/file", hostdir);
    put_file(p, "orig\n");
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        at(p, sizeof(p), links[i][1]);
        assert_int_equal(symlink(links[i][0], p), 0);
    }
    mkdir_at("/usr");
    bind_at("/usr", "/usr", true);
    mkdir_at("/proc");
    at(p, sizeof(p), "/proc");
    assert_int_equal(mount("proc", p, "proc", 0, NULL), 0);
    mkdir_at("/dev");
    at(p, sizeof(p), "/dev/null");
    put_file(p, "");
    bind_at("/dev/null", "/dev/null", false);
    mkdir_at("/tmp");
    mkdir_at("/ro");
    bind_at(hostdir, "/ro", true);
    mkdir_at("/.bob");
    at(p, sizeof(p), "/.bob/completed");
    put_file(p, "");
    /* Exists on the host only: seen from a job, it means an escape. */
    at(p, sizeof(p), "/escape-marker");
    put_file(p, "");
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    const char *mounts[] = {"/ro", "/dev/null", "/proc", "/usr"};
    char p[256];
    for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
        at(p, sizeof(p), mounts[i]);
        umount2(p, MNT_DETACH);
    }
    /* Nothing is mounted any more: plain removal cannot reach the host. */
    snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s' '%s'", root, hostdir);
    return system(cmd) == 0 ? 0 : -1;
}

struct job {
    int status; /* the command's wait status */
    struct launch_result res;
    char out[8192], err[4096];
};

/* Reads fd to its end into buf (NUL-terminated). */
static void read_all(int fd, char *buf, size_t n)
{
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd, buf + len, n - 1 - len)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0)
            len += (size_t)r;
    buf[len] = '\0';
}

/* A spec for "sh -c script" in the root with the boundary. */
static struct launch_spec spec_for(const char *const *argv, unsigned flags)
{
    static const char *const cover[] = {"/.bob", NULL};
    static const char *const env[] = {"PATH=/usr/bin:/bin:/usr/sbin", NULL};
    struct launch_spec s;
    memset(&s, 0, sizeof(s));
    s.argv = argv;
    s.env = env;
    s.root = root;
    s.cwd = "/";
    s.setsid = true;
    s.fd[0] = LAUNCH_FD_NULL;
    s.flags = flags;
    s.cover = cover;
    return s;
}

/* Starts s with stdout and stderr on pipes; *out and *err get our ends. */
static void start(struct launch_spec *s, struct launch_child *c, int *out, int *err)
{
    int po[2], pe[2];
    struct err e;
    assert_int_equal(pipe2(po, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
    s->fd[1] = po[1];
    s->fd[2] = pe[1];
    assert_int_equal(launch_start(s, c, &e), 0);
    close(po[1]);
    close(pe[1]);
    *out = po[0];
    *err = pe[0];
}

/* Reaps c and reads what it reported. */
static void finish(struct launch_child *c, struct job *j)
{
    int st;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    launch_finish(c, st, &j->res);
    j->status = j->res.status;
    assert_int_equal(c->report, -1);
}

/* Runs the spec to its end. */
static void run_spec(struct launch_spec *s, struct job *j)
{
    struct launch_child c;
    int out, err;
    memset(j, 0, sizeof(*j));
    start(s, &c, &out, &err);
    read_all(out, j->out, sizeof(j->out));
    read_all(err, j->err, sizeof(j->err));
    close(out);
    close(err);
    finish(&c, j);
}

/* Runs "sh -c script" with the given flags. */
static void run_sh(const char *script, unsigned flags, struct job *j)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    struct launch_spec s = spec_for(argv, flags);
    run_spec(&s, j);
}

static bool exited_with(const struct job *j, int code)
{
    return WIFEXITED(j->status) && WEXITSTATUS(j->status) == code;
}

/* Whether any host process has exactly this argv[1] (a marker). */
static bool host_has_arg(const char *marker)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    bool found = false;
    while (d && (de = readdir(d)) && !found) {
        char p[300], buf[512];
        int fd;
        ssize_t n;
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        if ((size_t)n > strlen(buf) + 1 && strcmp(buf + strlen(buf) + 1, marker) == 0)
            found = true;
    }
    if (d)
        closedir(d);
    return found;
}

/* The job is pid 2 under its own init, and its /proc shows only the two. */
static void test_pid_namespace(void **state)
{
    struct job j;
    run_sh("echo $$; for p in /proc/[0-9]*; do echo ${p#/proc/}; done", 0, &j);
    assert_true(exited_with(&j, 0));
    assert_string_equal(j.out, "2\n1\n2\n");
}

/* The capability sets are exactly LAUNCH_CAPS_KEPT (inheritable, ambient: none). */
static void test_capabilities(void **state)
{
    struct job j;
    char want[512];
    run_sh("grep ^Cap /proc/self/status", 0, &j);
    assert_true(exited_with(&j, 0));
    snprintf(want, sizeof(want),
             "CapInh:\t0000000000000000\nCapPrm:\t%016llx\nCapEff:\t%016llx\n"
             "CapBnd:\t%016llx\nCapAmb:\t0000000000000000\n",
             (unsigned long long)LAUNCH_CAPS_KEPT, (unsigned long long)LAUNCH_CAPS_KEPT,
             (unsigned long long)LAUNCH_CAPS_KEPT);
    assert_string_equal(j.out, want);
    assert_int_equal(LAUNCH_CAPS_KEPT, 0xfb);
}

/* A read-only bind stays read-only: remount, unmount, a new mount all fail. */
static void test_remount_fails(void **state)
{
    struct job j;
    char p[256], buf[64];
    const char *attack = "mount -o remount,bind,rw /ro; echo X > /ro/file; umount /ro; "
                         "mount -t tmpfs none /tmp; cat /ro/file";

    run_sh(attack, 0, &j);
    assert_string_equal(j.out, "orig\n");
    assert_non_null(strstr(j.err, "Read-only file system"));
    snprintf(p, sizeof(p), "%s/file", hostdir);
    assert_string_equal(get_file(p, buf, sizeof(buf)), "orig\n");
}

/*
 * The classic chroot escape (chroot into a subdirectory, chdir("..")
 * upwards, chroot(".")) and chroot /proc/1/root: refused; in a plain
 * chroot the first one reaches the host.
 */
static void test_chroot_escape(void **state)
{
    const char *escape = "mkdir -p /tmp/x; perl -e 'chroot(\"/tmp/x\") or exit 3; "
                         "for (1..64) { chdir(\"..\") } chroot(\".\") or exit 4; "
                         "exit(-e \"ROOT/escape-marker\" ? 5 : 6)'";
    char script[512];
    struct job j;
    const char *p = strstr(escape, "ROOT");

    snprintf(script, sizeof(script), "%.*s%s%s", (int)(p - escape), escape, root, p + 4);
    run_sh(script, LAUNCH_NO_BOUNDARY, &j);
    assert_true(exited_with(&j, 5)); /* the attack works where there is no boundary */
    run_sh(script, 0, &j);
    assert_true(exited_with(&j, 3));
    run_sh("chroot /proc/1/root /bin/true", 0, &j);
    assert_false(exited_with(&j, 0));
    assert_non_null(strstr(j.err, "cannot change root directory"));
    run_sh("chroot / /bin/true", 0, &j); /* even into its own root */
    assert_non_null(strstr(j.err, "Operation not permitted"));
}

/* kill -9 -1 in a job reaches only the job: a host process started before lives. */
static void test_kill_all(void **state)
{
    pid_t victim = fork();
    struct job j;
    int st;

    if (victim == 0) {
        pause();
        _exit(0);
    }
    assert_true(victim > 0);
    run_sh("sleep 30 & kill -9 -1; echo survived", 0, &j);
    assert_true(exited_with(&j, 0));
    assert_string_equal(j.out, "survived\n");
    assert_int_equal(waitpid(victim, &st, WNOHANG), 0); /* still running */
    kill(victim, SIGKILL);
    assert_int_equal(waitpid(victim, &st, 0), victim);
}

/* Waits up to 2 s for a host process with this argv[1]. */
static bool wait_for_arg(const char *marker)
{
    for (int i = 0; i < 200; i++) {
        if (host_has_arg(marker))
            return true;
        usleep(10000);
    }
    return false;
}

/* A daemon the job leaves dies with the command; in a plain chroot it stays. */
static void test_daemon_dies(void **state)
{
    const char *script = "setsid sleep 7301 </dev/null >/dev/null 2>&1 & "
                         "while ! grep -q 7301 /proc/[0-9]*/cmdline; do sleep 0.01; done; exit 0";
    struct job j;

    run_sh(script, 0, &j);
    assert_true(exited_with(&j, 0));
    assert_false(host_has_arg("7301"));
    run_sh(script, LAUNCH_NO_BOUNDARY, &j);
    assert_true(exited_with(&j, 0));
    assert_true(wait_for_arg("7301"));
    assert_int_equal(system("pkill -KILL -x -f 'sleep 7301'"), 0);
}

/* Only 0, 1 and 2 are open in the job, whatever we had open without O_CLOEXEC. */
static void test_no_descriptor_leaks(void **state)
{
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    struct job j;

    assert_true(leak > 2);
    /* ls lists the shell's descriptors (a glob would open one in it). */
    run_sh("ls /proc/$$/fd/", 0, &j);
    assert_string_equal(j.out, "0\n1\n2\n");
    run_sh("ls /proc/$$/fd/", LAUNCH_NO_BOUNDARY, &j);
    assert_string_equal(j.out, "0\n1\n2\n");
    close(leak);
}

/* Counts the lines of our mountinfo that mention path as a mount point. */
static int mounts_at(const char *path)
{
    char buf[65536], needle[300];
    int n = 0;
    const char *p = get_file("/proc/self/mountinfo", buf, sizeof(buf));
    snprintf(needle, sizeof(needle), " %s ", path);
    while ((p = strstr(p, needle))) {
        n++;
        p++;
    }
    return n;
}

/*
 * The job's own mounts (its /proc, the cover of /.bob) are not seen
 * outside while it runs, nor after; SIGKILL of the init ends the job.
 */
static void test_mounts_stay_inside(void **state)
{
    const char *argv[] = {"sh", "-c", "echo ready; exec sleep 7302", NULL};
    struct launch_spec s = spec_for(argv, 0);
    struct launch_child c;
    struct job j = {0};
    char bob[256], proc[256], line[16];
    int out, err, before_bob, before_proc;
    ssize_t n;

    at(bob, sizeof(bob), "/.bob");
    at(proc, sizeof(proc), "/proc");
    before_bob = mounts_at(bob);
    before_proc = mounts_at(proc);
    assert_int_equal(before_bob, 0);
    assert_int_equal(before_proc, 1);
    start(&s, &c, &out, &err);
    n = read(out, line, sizeof(line) - 1);
    assert_int_equal(n, 6);
    assert_true(wait_for_arg("7302"));
    assert_int_equal(mounts_at(bob), 0);
    assert_int_equal(mounts_at(proc), 1);
    assert_int_equal(kill(c.pid, SIGKILL), 0);
    finish(&c, &j);
    assert_true(WIFSIGNALED(j.status) && WTERMSIG(j.status) == SIGKILL);
    assert_false(host_has_arg("7302"));
    assert_int_equal(mounts_at(bob), 0);
    close(out);
    close(err);
}

/* /.bob is an empty read-only directory in the job; the host's is untouched. */
static void test_bob_covered(void **state)
{
    struct job j;
    char p[256];
    struct stat st;

    run_sh("ls -A /.bob; echo x > /.bob/f; rm -f /.bob/completed; rmdir /.bob", 0, &j);
    assert_string_equal(j.out, "");
    assert_non_null(strstr(j.err, "Read-only file system"));
    at(p, sizeof(p), "/.bob/completed");
    assert_int_equal(stat(p, &st), 0);
    at(p, sizeof(p), "/.bob/f");
    assert_int_equal(stat(p, &st), -1);
    /* Without the boundary the marker is the job's to remove. */
    run_sh("ls -A /.bob", LAUNCH_NO_BOUNDARY, &j);
    assert_string_equal(j.out, "completed\n");
}

/*
 * A symlink in place of a covered path, or of the root itself, is
 * refused: the cover or the chroot would land somewhere else.
 */
static void test_symlinks_refused(void **state)
{
    char bob[256], moved[256], link[300];
    struct job j;

    at(bob, sizeof(bob), "/.bob");
    at(moved, sizeof(moved), "/.bob-moved");
    assert_int_equal(rename(bob, moved), 0);
    assert_int_equal(symlink("usr/bin", bob), 0);
    run_sh("ls /usr/bin/sh", 0, &j);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_ENTER);
    assert_int_equal(j.res.enter.step, LAUNCH_STEP_COVER);
    assert_int_equal(j.res.enter.err, ELOOP);
    assert_true(exited_with(&j, 125));
    assert_int_equal(unlink(bob), 0);
    assert_int_equal(rename(moved, bob), 0);

    snprintf(link, sizeof(link), "%s.link", root);
    assert_int_equal(symlink(root, link), 0);
    {
        const char *argv[] = {"true", NULL};
        struct launch_spec s = spec_for(argv, 0);
        s.root = link;
        run_spec(&s, &j);
    }
    unlink(link);
    assert_int_equal(j.res.enter.step, LAUNCH_STEP_CHROOT);
    assert_true(exited_with(&j, 125));
}

/* The kernel knobs that root may write without capabilities are read-only. */
static void test_proc_knobs_read_only(void **state)
{
    struct job j;
    run_sh("echo job > /proc/sys/kernel/hostname || echo refused; "
           "echo h > /proc/sysrq-trigger || echo refused",
           0, &j);
    assert_string_equal(j.out, "refused\nrefused\n");
}

/* A host listener on 127.0.0.1: refused with a network namespace, reached without. */
static void test_loopback_only(void **state)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char script[512];
    struct job j;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 8), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    snprintf(script, sizeof(script),
             "perl -MSocket -e 'socket(S, PF_INET, SOCK_STREAM, 0) or die; "
             "print connect(S, sockaddr_in(%u, inet_aton(\"127.0.0.1\"))) ? "
             "\"connected\\n\" : \"$!\\n\"'",
             (unsigned)ntohs(a.sin_port));
    run_sh(script, LAUNCH_NEW_NET, &j);
    assert_string_equal(j.out, "Connection refused\n"); /* loopback is up, and its own */
    run_sh(script, 0, &j);
    assert_string_equal(j.out, "connected\n");
    close(l);
}

/* SIGKILL of the process that launched a job leaves no job process after 1 s. */
static void test_parent_killed(void **state)
{
    int p[2], st;
    pid_t parent;
    char c;

    assert_int_equal(pipe(p), 0);
    parent = fork();
    if (parent == 0) {
        const char *argv[] = {"sh", "-c", "sleep 7303 & sleep 7303", NULL};
        struct launch_spec s = spec_for(argv, 0);
        struct launch_child ch;
        struct err e;
        s.fd[1] = s.fd[2] = LAUNCH_FD_NULL;
        if (launch_start(&s, &ch, &e) < 0)
            _exit(1);
        for (int i = 0; i < 200 && !host_has_arg("7303"); i++)
            usleep(10000);
        (void)!write(p[1], "x", 1);
        pause();
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    assert_true(host_has_arg("7303"));
    kill(parent, SIGKILL);
    assert_int_equal(waitpid(parent, &st, 0), parent);
    usleep(1000 * 1000);
    assert_false(host_has_arg("7303"));
}

/* Exit codes and signals are the command's, exactly, not the init's. */
static void test_status_exact(void **state)
{
    struct job j;
    run_sh("exit 7", 0, &j);
    assert_true(exited_with(&j, 7));
    run_sh("exit 0", 0, &j);
    assert_true(exited_with(&j, 0));
    run_sh("kill -TERM $$", 0, &j);
    assert_true(WIFSIGNALED(j.status) && WTERMSIG(j.status) == SIGTERM);
    run_sh("kill -SEGV $$", 0, &j);
    assert_true(WIFSIGNALED(j.status) && WTERMSIG(j.status) == SIGSEGV);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_NONE);
}

/* A signal sent to the init from outside reaches the command. */
static void test_signal_forwarded(void **state)
{
    const char *argv[] = {"sh", "-c", "echo ready; exec sleep 30", NULL};
    struct launch_spec s = spec_for(argv, 0);
    struct launch_child c;
    struct job j = {0};
    char line[16];
    int out, err;

    start(&s, &c, &out, &err);
    assert_int_equal(read(out, line, sizeof(line)), 6);
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    finish(&c, &j);
    assert_true(WIFSIGNALED(j.status) && WTERMSIG(j.status) == SIGTERM);
    close(out);
    close(err);
}

/*
 * The job never shares our session: without setsid it is in its init's
 * (pid 1), with setsid in its own; it has no controlling terminal of ours.
 */
static void test_session(void **state)
{
    const char *argv[] = {"sh", "-c", "cut -d')' -f2 /proc/self/stat | cut -d' ' -f5,6", NULL};
    struct launch_spec s = spec_for(argv, 0);
    struct job j;

    s.setsid = false;
    run_spec(&s, &j);
    assert_string_equal(j.out, "1 0\n");
    s.setsid = true;
    run_spec(&s, &j);
    assert_string_equal(j.out, "2 0\n");
}

/* Entry failures come as codes: not found, not executable, bad cwd, bad root. */
static void test_entry_failures(void **state)
{
    const char *missing[] = {"/no/such/cmd", NULL};
    const char *notexec[] = {"/etc-not-exec", NULL};
    const char *sh[] = {"sh", "-c", "exit 0", NULL};
    struct launch_spec s = spec_for(missing, 0);
    struct job j;
    char p[256];

    run_spec(&s, &j);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_NOTFOUND);
    assert_int_equal(j.res.enter.step, LAUNCH_STEP_EXEC);
    assert_int_equal(j.res.enter.err, ENOENT);
    assert_true(exited_with(&j, 127));
    assert_non_null(strstr(j.err, LAUNCH_ENTER_PREFIX "cannot execute /no/such/cmd: No such"));

    at(p, sizeof(p), "/etc-not-exec");
    put_file(p, "x");
    s = spec_for(notexec, 0);
    run_spec(&s, &j);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_EXEC);
    assert_int_equal(j.res.enter.err, EACCES);
    assert_true(exited_with(&j, 126));
    unlink(p);

    s = spec_for(sh, 0);
    s.cwd = "/no/such/dir";
    run_spec(&s, &j);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_ENTER);
    assert_int_equal(j.res.enter.step, LAUNCH_STEP_CHDIR);
    assert_int_equal(j.res.enter.err, ENOENT);
    assert_true(exited_with(&j, 125));
    assert_non_null(strstr(j.err, LAUNCH_ENTER_PREFIX "cannot change directory to /no/such/dir"));

    s = spec_for(sh, 0);
    s.root = "/no/such/root";
    run_spec(&s, &j);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_ENTER);
    assert_int_equal(j.res.enter.step, LAUNCH_STEP_CHROOT);
    assert_true(exited_with(&j, 125));

    /* The same codes without the boundary, and none for a success. */
    s = spec_for(missing, LAUNCH_NO_BOUNDARY);
    run_spec(&s, &j);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_NOTFOUND);
    assert_true(exited_with(&j, 127));
    s = spec_for(sh, 0);
    run_spec(&s, &j);
    assert_int_equal(j.res.enter.fail, LAUNCH_FAIL_NONE);
    assert_true(exited_with(&j, 0));
}

/* A host command that cannot be executed fails launch_start itself. */
static void test_host_exec_failure(void **state)
{
    const char *argv[] = {"/no/such/cmd", NULL};
    struct launch_spec s = {.argv = argv, .fd = {LAUNCH_FD_NULL, LAUNCH_FD_NULL, LAUNCH_FD_NULL}};
    struct launch_child c;
    struct err e;
    assert_int_equal(launch_start(&s, &c, &e), -ENOENT);
    assert_non_null(strstr(e.msg, "cannot run /no/such/cmd"));
}

/* Makes a cgroup directory; returns its fd, or -1 when the hierarchy is missing. */
static int make_cgroup(const char *hier, char *path, size_t n)
{
    snprintf(path, n, "/sys/fs/cgroup/%s/bob-launch-test-%d", hier, (int)getpid());
    if (mkdir(path, 0755) != 0)
        return -1;
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The job starts in the cgroup v2 directory given, and in a v1 one (pids). */
static void test_cgroups(void **state)
{
    char v2[256], v1[256], procs[300], want[300];
    int dir = make_cgroup("unified", v2, sizeof(v2));
    int v1dir = make_cgroup("pids", v1, sizeof(v1)), v1procs = -1;
    struct launch_cgroup cg = {dir, NULL, 0};
    const char *argv[] = {"cat", "/proc/self/cgroup", NULL};
    struct launch_spec s = spec_for(argv, 0);
    struct job j;

    if (dir < 0) {
        if (v1dir >= 0)
            rmdir(v1);
        skip();
    }
    if (v1dir >= 0) {
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", v1);
        v1procs = open(procs, O_WRONLY | O_CLOEXEC);
        assert_true(v1procs >= 0);
        cg.procs_fds = &v1procs;
        cg.n_procs = 1;
    }
    s.cgroup = &cg;
    run_spec(&s, &j);
    assert_true(exited_with(&j, 0));
    snprintf(want, sizeof(want), "0::/bob-launch-test-%d\n", (int)getpid());
    assert_non_null(strstr(j.out, want));
    if (v1dir >= 0) {
        snprintf(want, sizeof(want), ":pids:/bob-launch-test-%d\n", (int)getpid());
        assert_non_null(strstr(j.out, want));
    }
    /* Without the boundary (a host command) too. */
    s.root = NULL;
    s.flags = 0;
    run_spec(&s, &j);
    snprintf(want, sizeof(want), "0::/bob-launch-test-%d\n", (int)getpid());
    assert_non_null(strstr(j.out, want));
    close(dir);
    assert_int_equal(rmdir(v2), 0);
    if (v1dir >= 0) {
        close(v1procs);
        close(v1dir);
        assert_int_equal(rmdir(v1), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pid_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remount_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chroot_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemon_dies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_descriptor_leaks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bob_covered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proc_knobs_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_forwarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_failures, setup, teardown),
        cmocka_unit_test(test_host_exec_failure),
        cmocka_unit_test_setup_teardown(test_symlinks_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroups, setup, teardown),
    };
    if (geteuid() != 0) {
        fprintf(stderr, "test_platform_launch: needs root (namespaces and mounts); skipped\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
