/*
 * Starting a command (platform/launch.h): the child's side. Only system
 * calls below, and writes to our own stack: after vfork we share the
 * parent's memory, and after clone we are a copy of a process that has
 * threads (a lock another thread held stays held here; malloc and stdio
 * may deadlock).
 *
 * The init (pid 1 of the new pid namespace) sets the sandbox up in this
 * order, each step before the one that would undo its reason:
 *   parent-death signal, then a check that the parent is still there
 *   (the report pipe still has a reader), and no core dumps or ptrace of it;
 *   a session of its own, stdio, cgroups (v1 cgroup.procs; v2 came with clone3);
 *   every mount private, so nothing we mount reaches the host;
 *   chroot; a fresh /proc where the sandbox has one, with its writable
 *   kernel knobs read-only; empty read-only tmpfs over the covered paths;
 *   loopback; the working directory;
 *   every descriptor closed but 0-2 and the report pipe;
 *   the capability bounding set (and every other set) cut to
 *   LAUNCH_CAPS_KEPT: no CAP_SYS_ADMIN to undo a mount, no CAP_SYS_CHROOT
 *   to escape the chroot, no CAP_DAC_READ_SEARCH for open_by_handle_at;
 * then it vforks the command (pid 2), which takes its session and
 * terminal, switches user and execs. The init then waits on a signalfd and
 * on its report pipe: it reaps every child, passes on signals that we
 * send it, and when the command exits, kills and reaps everything else
 * in the namespace, then writes the command's wait status to the pipe
 * and exits. When the pipe's reader goes (we died), it exits too.
 */
#include "platform/linux_launch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

extern char **environ;

/* The report pipe's number in the init, after it has closed everything else. */
#define LAUNCH_INIT_REPORT_FD 3

/*
 * Exits with every descriptor closed first: the init is a copy of us that
 * never execs, and a checker of ours (valgrind --track-fds) would count
 * them as bob's.
 */
__attribute__((noreturn)) static void launch_exit(int code)
{
    (void)syscall(SYS_close_range, 0U, ~0U, 0U);
    _exit(code);
}

/* Appends s to buf (of size BUF) at *n. */
static void launch_put(char *buf, size_t size, size_t *n, const char *s)
{
    while (*s && *n + 1 < size)
        buf[(*n)++] = *s++;
}

/* Writes one report; a reader that went away is nobody's concern here. */
static void launch_report(const struct launch *l, int kind, int a, int b, int c)
{
    struct launch_report rep = {kind, a, b, c};
    ssize_t w;
    do
        w = write(l->report, &rep, sizeof(rep));
    while (w < 0 && errno == EINTR);
}

/*
 * Ends the child after a failure: the structured report, then in a sandbox
 * "bob: sandbox entry: WHAT ARG: REASON" on stderr and the exit status of
 * fail (a host command's caller fails at once and needs no message).
 */
__attribute__((noreturn)) static void launch_fail(const struct launch *l, enum launch_fail fail,
                                                  enum launch_step step, const char *what,
                                                  const char *arg, int err)
{
    char msg[PATH_MAX + 256];
    size_t n = 0;
    const char *reason = strerrordesc_np(err);
    ssize_t w;

    launch_report(l, LAUNCH_REPORT_ENTER, fail, step, err);
    if (!l->enter)
        launch_exit(127);
    launch_put(msg, sizeof(msg), &n, LAUNCH_ENTER_PREFIX);
    launch_put(msg, sizeof(msg), &n, what);
    launch_put(msg, sizeof(msg), &n, " ");
    launch_put(msg, sizeof(msg), &n, arg);
    launch_put(msg, sizeof(msg), &n, ": ");
    launch_put(msg, sizeof(msg), &n, reason ? reason : "unknown error");
    msg[n++] = '\n';
    w = write(STDERR_FILENO, msg, n);
    (void)w;
    launch_exit(fail == LAUNCH_FAIL_NOTFOUND ? 127 : fail == LAUNCH_FAIL_EXEC ? 126 : 125);
}

/* A set-up step failed: the command could not enter its sandbox. */
__attribute__((noreturn)) static void
launch_fail_enter(const struct launch *l, enum launch_step step, const char *what, const char *arg)
{
    launch_fail(l, LAUNCH_FAIL_ENTER, step, what, arg, errno);
}

/* Signal handlers (libuv's) are ours, not the command's: back to default. */
static void launch_reset_signals(const struct launch *l)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG && s <= 64; s++)
        if (s != SIGKILL && s != SIGSTOP && (l->sigs >> (s - 1) & 1))
            sigaction(s, &sa, NULL);
}

static void launch_unblock_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Puts the stdio fds in place: sources below 3 are moved away first. */
static int launch_stdio(const struct launch *l)
{
    int src[3];

    for (int i = 0; i < 3; i++) {
        if (l->fd[i] == LAUNCH_FD_NULL)
            src[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        else if (l->fd[i] == LAUNCH_FD_INHERIT)
            src[i] = i;
        else
            src[i] = l->fd[i];
        if (src[i] < 0)
            return -1;
    }
    for (int i = 0; i < 3; i++)
        if (src[i] != i && src[i] < 3 && (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3)) < 0)
            return -1;
    for (int i = 0; i < 3; i++) {
        if (src[i] == i) {
            if (fcntl(i, F_SETFD, 0) < 0) /* ours, inherited: keep it open across exec */
                return -1;
        } else if (dup2(src[i], i) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Joins the cgroups: the v2 directory (when clone3 could not) and the v1 hierarchies. */
static int launch_join_cgroups(const struct launch *l)
{
    ssize_t w;

    if (l->cgroup_fd >= 0) {
        int fd = openat(l->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        w = write(fd, "0", 1);
        close(fd);
        if (w != 1)
            return -1;
    }
    for (size_t i = 0; i < l->n_procs; i++)
        if (write(l->procs_fds[i], "0", 1) != 1)
            return -1;
    return 0;
}

/*
 * The user switch and execve, execvp's search without its allocations
 * (EACCES wins over ENOENT). Raw system calls for the ids: glibc's
 * wrappers would signal the parent's other threads (its set*id
 * broadcast), which is the parent's business.
 */
__attribute__((noreturn)) static void launch_exec(const struct launch *l)
{
    char *const *env = l->own_env ? l->env.v : environ;
    int err = ENOENT;

    if (l->user) {
        if (syscall(SYS_setgroups, (size_t)l->ngroups, l->groups) != 0)
            launch_fail_enter(l, LAUNCH_STEP_GROUPS, "cannot set the groups for", l->file);
        if (syscall(SYS_setresgid, l->gid, l->gid, l->gid) != 0)
            launch_fail_enter(l, LAUNCH_STEP_GID, "cannot set the group for", l->file);
        if (syscall(SYS_setresuid, l->uid, l->uid, l->uid) != 0)
            launch_fail_enter(l, LAUNCH_STEP_UID, "cannot set the user for", l->file);
    }
    for (size_t i = 0; i < l->paths.n && l->file[0]; i++) {
        execve(l->paths.v[i], l->argv.v, env);
        if (errno == ENOEXEC) {
            /* A copy on the stack: after vfork, l is the parent's memory. */
            char *sh[l->sh_argv.n + 1];
            memcpy(sh, l->sh_argv.v, (l->sh_argv.n + 1) * sizeof(*sh));
            sh[1] = l->paths.v[i];
            execve(sh[0], sh, env);
            err = errno; /* as execvp: the shell's failure ends the search */
            break;
        }
        if (errno == EACCES)
            err = EACCES;
        else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
                 errno != ETIMEDOUT && errno != ENOEXEC) {
            err = errno;
            break;
        }
    }
    launch_fail(l, err == ENOENT ? LAUNCH_FAIL_NOTFOUND : LAUNCH_FAIL_EXEC, LAUNCH_STEP_EXEC,
                "cannot execute", l->file, err);
}

void launch_child_plain(struct launch *l)
{
    launch_reset_signals(l);
    launch_unblock_signals();
    if (l->setsid && setsid() < 0)
        launch_fail_enter(l, LAUNCH_STEP_SESSION, "cannot make a new session for", l->file);
    if (launch_stdio(l) < 0)
        launch_fail_enter(l, LAUNCH_STEP_STDIO, "cannot set up the standard streams of", l->file);
    if (l->ctty && ioctl(STDIN_FILENO, TIOCSCTTY, 0) != 0)
        launch_fail_enter(l, LAUNCH_STEP_CTTY, "cannot take the terminal for", l->file);
    if (launch_join_cgroups(l) < 0)
        launch_fail_enter(l, LAUNCH_STEP_CGROUP, "cannot join the cgroup for", l->file);
    if (l->root && chroot(l->root) != 0)
        launch_fail_enter(l, LAUNCH_STEP_CHROOT, "cannot chroot into", l->root);
    if (l->cwd && chdir(l->cwd) != 0)
        launch_fail_enter(l, LAUNCH_STEP_CHDIR, "cannot change directory to", l->cwd);
    /* None of ours reaches the command, even one opened without O_CLOEXEC. */
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0 && errno != ENOSYS)
        launch_fail_enter(l, LAUNCH_STEP_FDS, "cannot close the descriptors for", l->file);
    launch_exec(l);
}

/* ---- the init ------------------------------------------------------------- */

/* Chroots into the root, which must be a directory, not a symlink to one. */
static int launch_init_chroot(const struct launch *l)
{
    int fd = open(l->root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r;

    if (fd < 0)
        return -1;
    r = fchdir(fd) == 0 && chroot(".") == 0 && chdir("/") == 0 ? 0 : -1;
    close(fd);
    return r;
}

/*
 * A fresh proc where the sandbox has one, so that its /proc shows the job's
 * processes only; the kernel knobs that root may write without any
 * capability (sysctls, sysrq-trigger) become read-only in it.
 */
static int launch_init_proc(void)
{
    static const char *const ro[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus",
                                     "/proc/fs"};
    const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    struct statfs sf;

    if (statfs("/proc", &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC)
        return 0;
    if (mount("proc", "/proc", "proc", flags, NULL) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        if (mount(ro[i], ro[i], "none", MS_BIND | MS_REC, NULL) != 0) {
            if (errno == ENOENT)
                continue;
            return -1;
        }
        if (mount("none", ro[i], "none", MS_BIND | MS_REMOUNT | MS_RDONLY | flags, NULL) != 0)
            return -1;
    }
    return 0;
}

/* Empty read-only tmpfs over each covered guest path that exists. */
static int launch_init_cover(const struct launch *l, const char **failed)
{
    const unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

    struct stat st;

    for (size_t i = 0; i < l->cover.n; i++) {
        *failed = l->cover.v[i];
        /* A symlink a job put there would move the cover elsewhere: refused. */
        if (lstat(l->cover.v[i], &st) != 0) {
            if (errno == ENOENT)
                continue;
            return -1;
        }
        if (S_ISLNK(st.st_mode)) {
            errno = ELOOP;
            return -1;
        }
        if (mount("none", l->cover.v[i], "tmpfs", flags, "mode=0555,size=4k") != 0)
            return -1;
    }
    return 0;
}

/* Loopback up, in a network namespace of the job's own (it starts down). */
static int launch_init_loopback(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

    if (s < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
    return r;
}

/*
 * Cuts every capability set to LAUNCH_CAPS_KEPT: the bounding set first
 * (that needs CAP_SETPCAP, which goes with the rest), then ambient, then
 * permitted, effective and inheritable.
 */
static int launch_init_caps(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];

    for (int c = 0; c < 64; c++) {
        if (LAUNCH_CAPS_KEPT >> c & 1)
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
            if (errno == EINVAL) /* past the kernel's last capability */
                break;
            return -1;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -1;
    if (syscall(SYS_capget, &hdr, d) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        uint32_t keep = (uint32_t)(LAUNCH_CAPS_KEPT >> (32 * i));
        d[i].effective &= keep;
        d[i].permitted &= keep;
        d[i].inheritable &= keep;
    }
    return syscall(SYS_capset, &hdr, d) != 0 ? -1 : 0;
}

/* Moves the report pipe to LAUNCH_INIT_REPORT_FD and closes all but it and 0-2. */
static int launch_init_fds(struct launch *l)
{
    if (l->report != LAUNCH_INIT_REPORT_FD) {
        if (dup3(l->report, LAUNCH_INIT_REPORT_FD, O_CLOEXEC) < 0)
            return -1;
        l->report = LAUNCH_INIT_REPORT_FD;
    }
    if (syscall(SYS_close_range, LAUNCH_INIT_REPORT_FD + 1U, ~0U, 0U) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    for (int fd = LAUNCH_INIT_REPORT_FD + 1; fd < 65536; fd++)
        close(fd);
    return 0;
}

/* The command, pid 2, after the init's vfork: its session, terminal, user, exec. */
__attribute__((noreturn)) static void launch_init_command(const struct launch *l)
{
    launch_unblock_signals();
    if (l->setsid && setsid() < 0)
        launch_fail_enter(l, LAUNCH_STEP_SESSION, "cannot make a new session for", l->file);
    if (l->ctty && ioctl(STDIN_FILENO, TIOCSCTTY, 0) != 0)
        launch_fail_enter(l, LAUNCH_STEP_CTTY, "cannot take the terminal for", l->file);
    launch_exec(l);
}

/*
 * Signals sent to the init from outside the namespace (proc_kill) go on
 * to the command and its group; those from inside, and the terminal's,
 * reach the command by themselves.
 */
static void launch_init_forward(int sfd, pid_t cmd, bool group)
{
    struct signalfd_siginfo si;

    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD || si.ssi_pid != 0)
            continue;
        if (si.ssi_code != SI_USER && si.ssi_code != SI_QUEUE)
            continue;
        if (group)
            kill(-cmd, (int)si.ssi_signo);
        kill(cmd, (int)si.ssi_signo);
    }
}

/*
 * The command has exited with status st: everything else in the namespace
 * is killed and reaped (kill(-1) from pid 1 reaches every process of the
 * namespace but the init, and every one of them is the init's child or
 * becomes it when its parent dies, so that no child left means no process
 * left; a fork that races the kill fails, as the kernel sees to it, and a
 * last kill(-1) that finds nobody to signal checks it), the
 * job's stdout and stderr are closed, and only then is the end reported,
 * with the CPU time of all it reaped: the caller may take the job for
 * over at once, without waiting for the init's own exit (the teardown of
 * its mount namespace is most of that). Then the init exits.
 */
__attribute__((noreturn)) static void launch_init_end(const struct launch *l, int st)
{
    struct rusage ru;
    uint64_t usec = 0;
    int x;

    do {
        kill(-1, SIGKILL);
        while (waitpid(-1, &x, __WALL) > 0 || errno == EINTR)
            ;
    } while (kill(-1, SIGKILL) == 0); /* ECHILD, and no process to signal: nobody left */
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        usec = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
               (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    for (int fd = 0; fd < 3; fd++)
        close(fd);
    launch_report(l, LAUNCH_REPORT_EXIT, st, (int)(uint32_t)usec, (int)(uint32_t)(usec >> 32));
    launch_exit(0);
}

/* Reaps every child until the command exits, then ends the job (launch_init_end). */
__attribute__((noreturn)) static void launch_init_wait(const struct launch *l, int sfd, pid_t cmd)
{
    for (;;) {
        struct pollfd pf[2] = {{sfd, POLLIN, 0}, {l->report, 0, 0}};
        pid_t w;
        int st;

        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            launch_exit(125);
        if (pf[1].revents & (POLLERR | POLLHUP))
            launch_exit(125); /* bob is gone: the job goes with us */
        launch_init_forward(sfd, cmd, l->setsid);
        while ((w = waitpid(-1, &st, WNOHANG | __WALL)) > 0)
            if (w == cmd)
                launch_init_end(l, st);
    }
}

void launch_child_init(struct launch *l)
{
    struct pollfd pf = {l->report, 0, 0};
    const char *covered = "";
    sigset_t set;
    pid_t cmd;
    int sfd;

    launch_reset_signals(l); /* all still blocked: the init takes them from a signalfd */
    /* Tied to the thread that made us; if it went before this, the pipe tells. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        launch_fail_enter(l, LAUNCH_STEP_INIT, "cannot start the init for", l->file);
    if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLERR | POLLHUP)))
        launch_exit(125);
    /* No ptrace of the init, nor its /proc/1/fd, from the job. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* A session of its own always: our session and process group are not
     * in the new pid namespace (a shell there would see its group as 0),
     * and the job gets no controlling terminal of ours (no TIOCSTI into
     * the user's shell). With setsid the command makes its own as well. */
    if (setsid() < 0)
        launch_fail_enter(l, LAUNCH_STEP_SESSION, "cannot make a new session for", l->file);
    if (launch_stdio(l) < 0)
        launch_fail_enter(l, LAUNCH_STEP_STDIO, "cannot set up the standard streams of", l->file);
    if (launch_join_cgroups(l) < 0)
        launch_fail_enter(l, LAUNCH_STEP_CGROUP, "cannot join the cgroup for", l->file);
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        launch_fail_enter(l, LAUNCH_STEP_PRIVATE, "cannot make the mounts private for", l->file);
    if (launch_init_chroot(l) < 0)
        launch_fail_enter(l, LAUNCH_STEP_CHROOT, "cannot chroot into", l->root);
    /* Inside the chroot from here: a symlink in the sandbox stays in it. */
    if (launch_init_proc() < 0)
        launch_fail_enter(l, LAUNCH_STEP_PROC, "cannot mount a fresh /proc in", l->root);
    if (launch_init_cover(l, &covered) < 0)
        launch_fail_enter(l, LAUNCH_STEP_COVER, "cannot cover", covered);
    if (l->new_net && launch_init_loopback() < 0)
        launch_fail_enter(l, LAUNCH_STEP_NET, "cannot bring up loopback for", l->file);
    if (l->cwd && chdir(l->cwd) != 0)
        launch_fail_enter(l, LAUNCH_STEP_CHDIR, "cannot change directory to", l->cwd);
    if (launch_init_fds(l) < 0)
        launch_fail_enter(l, LAUNCH_STEP_FDS, "cannot close the descriptors for", l->file);
    if (launch_init_caps() < 0)
        launch_fail_enter(l, LAUNCH_STEP_CAPS, "cannot drop the capabilities of", l->file);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        launch_fail_enter(l, LAUNCH_STEP_INIT, "cannot start the init for", l->file);
    cmd = vfork();
    if (cmd == 0)
        launch_init_command(l);
    if (cmd < 0)
        launch_fail_enter(l, LAUNCH_STEP_INIT, "cannot start the init for", l->file);
    launch_init_wait(l, sfd, cmd);
}
