/* Starting a command with fork and exec, in a sandbox or on the host (launch.h). */
#include "loop/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* The PATH of the command's environment, as execvp would use it. */
static const char *env_path(const struct launch *l)
{
    char *const *env = l->own_env ? l->env.v : environ;
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            return env[i] + 5;
    return "/bin:/usr/bin"; /* glibc's execvp default */
}

/* The paths to try for argv[0]: itself when it has a '/', else PATH's entries. */
static void make_paths(struct launch *l)
{
    const char *path, *p;

    if (strchr(l->file, '/')) {
        strv_push(&l->paths, l->file);
        return;
    }
    path = env_path(l);
    for (p = path;; p++) {
        const char *end = strchrnul(p, ':');
        /* An empty entry means the current directory, as for execvp. */
        if (end == p)
            strv_push_owned(&l->paths, xasprintf("%s", l->file));
        else
            strv_push_owned(&l->paths, xasprintf("%.*s/%s", (int)(end - p), p, l->file));
        if (!*end)
            break;
        p = end;
    }
}

/* The user's ids, groups and HOME/USER/LOGNAME, looked up on the host. */
static int prepare_user(struct launch *l, const char *user, struct err *e)
{
    struct passwd *pw;
    int n = 32;

    errno = 0;
    pw = getpwnam(user);
    if (!pw)
        return err_sys(e, errno ? errno : ENOENT, "unknown user %s", user);
    l->user = true;
    l->uid = pw->pw_uid;
    l->gid = pw->pw_gid;
    for (;;) {
        int want = n;
        l->groups = xrealloc(l->groups, (size_t)n * sizeof(gid_t));
        if (getgrouplist(pw->pw_name, pw->pw_gid, l->groups, &n) >= 0)
            break;
        if (n <= want) /* no growth asked for: give up on more than want */
            n = want * 2;
        if (n > 65536)
            return err_set(e, "cannot list the groups of %s", user);
    }
    l->ngroups = n;
    if (!l->own_env) {
        env_from_environ(&l->env);
        l->own_env = true;
    }
    env_setkv(&l->env, "HOME", pw->pw_dir);
    env_setkv(&l->env, "USER", pw->pw_name);
    env_setkv(&l->env, "LOGNAME", pw->pw_name);
    return 0;
}

/*
 * The signals that are not at their default disposition in this process
 * (SigCgt and SigIgn of /proc/self/status): the child resets those only,
 * not all 64 one by one while we wait for it. All when it cannot be read.
 */
static uint64_t non_default_signals(void)
{
    char buf[4096], *p;
    uint64_t mask = 0;
    int found = 0, fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return UINT64_MAX;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return UINT64_MAX;
    buf[n] = '\0';
    for (p = buf; (p = strstr(p, "\nSig")); p++) {
        if (strncmp(p, "\nSigIgn:", 8) == 0 || strncmp(p, "\nSigCgt:", 8) == 0) {
            mask |= strtoull(p + 8, NULL, 16);
            found++;
        }
    }
    return found == 2 ? mask : UINT64_MAX;
}

int launch_prepare(struct launch *l, const struct proc_opts *o, struct err *e)
{
    memset(l, 0, sizeof(*l));
    l->enter = o->root || o->user;
    l->root = o->root;
    l->cwd = o->cwd ? o->cwd : (l->enter ? "/" : NULL);
    l->setsid = o->setsid;
    l->ctty = o->setsid && o->ctty;
    l->io[0] = o->in == PROC_IO_PIPE ? PROC_IO_NULL : o->in;
    l->io[1] = o->out;
    l->io[2] = o->err;
    for (int i = 0; i < 3; i++) {
        l->pipe_wfd[i] = -1;
        l->fd[i] = o->fd[i];
    }
    l->file = o->argv[0];
    /* SIGCHLD too: the reaper's handler may be installed after this. */
    l->sigs = non_default_signals() | (UINT64_C(1) << (SIGCHLD - 1));
    for (size_t i = 0; o->argv[i]; i++)
        strv_push(&l->argv, o->argv[i]);
    if (o->env) {
        for (size_t i = 0; o->env[i]; i++)
            strv_push(&l->env, o->env[i]);
        l->own_env = true;
    }
    if (o->user && prepare_user(l, o->user, e) < 0) {
        launch_free(l);
        return -1;
    }
    make_paths(l);
    strv_push(&l->sh_argv, "/bin/sh");
    strv_push(&l->sh_argv, ""); /* the path, set in the child */
    for (size_t i = 1; i < l->argv.n; i++)
        strv_push(&l->sh_argv, l->argv.v[i]);
    return 0;
}

void launch_free(struct launch *l)
{
    strv_free(&l->paths);
    strv_free(&l->argv);
    strv_free(&l->sh_argv);
    strv_free(&l->env);
    free(l->groups);
    l->groups = NULL;
}

/* ---- the child: only async-signal-safe calls below ------------------------ */

/* Appends s to buf (of size BUF) at *n. */
static void put(char *buf, size_t size, size_t *n, const char *s)
{
    while (*s && *n + 1 < size)
        buf[(*n)++] = *s++;
}

/*
 * Ends the child after a failure: in a sandbox, "bob: sandbox entry: WHAT
 * ARG: REASON" on stderr and status; on the host, the errno through errfd.
 */
__attribute__((noreturn)) static void child_fail(int errfd, int status, const char *what,
                                                 const char *arg, int err)
{
    char msg[PATH_MAX + 256];
    size_t n = 0;
    const char *reason = strerrordesc_np(err);
    ssize_t w;

    if (errfd >= 0) {
        w = write(errfd, &err, sizeof(err));
        (void)w;
        _exit(127);
    }
    put(msg, sizeof(msg), &n, LAUNCH_ENTER_PREFIX);
    put(msg, sizeof(msg), &n, what);
    put(msg, sizeof(msg), &n, " ");
    put(msg, sizeof(msg), &n, arg);
    put(msg, sizeof(msg), &n, ": ");
    put(msg, sizeof(msg), &n, reason ? reason : "unknown error");
    msg[n++] = '\n';
    w = write(STDERR_FILENO, msg, n);
    (void)w;
    _exit(status);
}

/* Puts the stdio fds in place: sources below 3 are moved away first. */
static int child_stdio(const struct launch *l)
{
    int src[3];

    for (int i = 0; i < 3; i++) {
        switch (l->io[i]) {
        case PROC_IO_NULL:
            src[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
            break;
        case PROC_IO_PIPE:
            src[i] = l->pipe_wfd[i];
            break;
        case PROC_IO_FD:
            src[i] = l->fd[i];
            break;
        default:
            src[i] = i;
            break;
        }
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

void launch_child(struct launch *l, int errfd)
{
    struct sigaction sa;
    sigset_t none;
    char *const *env = l->own_env ? l->env.v : environ;
    int err = ENOENT;

    /* Signal handlers (libuv's) are ours, not the command's; the parent blocked all signals. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG && s <= 64; s++)
        if (s != SIGKILL && s != SIGSTOP && (l->sigs >> (s - 1) & 1))
            sigaction(s, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (l->setsid && setsid() < 0)
        child_fail(errfd, 125, "cannot make a new session for", l->file, errno);
    if (child_stdio(l) < 0)
        child_fail(errfd, 125, "cannot set up the standard streams of", l->file, errno);
    if (l->ctty && ioctl(STDIN_FILENO, TIOCSCTTY, 0) != 0)
        child_fail(errfd, 125, "cannot take the terminal for", l->file, errno);
    if (l->root && chroot(l->root) != 0)
        child_fail(errfd, 125, "cannot chroot into", l->root, errno);
    if (l->cwd && chdir(l->cwd) != 0)
        child_fail(errfd, 125, "cannot change directory to", l->cwd, errno);
    /* Raw system calls: glibc's wrappers would signal the parent's other
     * threads (its set*id broadcast), which is the parent's business. */
    if (l->user) {
        if (syscall(SYS_setgroups, (size_t)l->ngroups, l->groups) != 0)
            child_fail(errfd, 125, "cannot set the groups for", l->file, errno);
        if (syscall(SYS_setresgid, l->gid, l->gid, l->gid) != 0)
            child_fail(errfd, 125, "cannot set the group for", l->file, errno);
        if (syscall(SYS_setresuid, l->uid, l->uid, l->uid) != 0)
            child_fail(errfd, 125, "cannot set the user for", l->file, errno);
    }
    /* execvp's search, without its allocations: EACCES wins over ENOENT. */
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
    child_fail(errfd, err == ENOENT ? 127 : 126, "cannot execute", l->file, err);
}
