/*
 * Starting a command (platform/launch.h): the parent's side. Everything the
 * child needs is prepared here, where we may allocate; the child side
 * (linux_launch_child.c) only makes system calls.
 *
 * With the boundary the child is made by clone3 without CLONE_VM: a copy
 * of us, like fork, because it outlives this call (it is the namespace's
 * init for as long as the command runs), and clone3 so that it starts in
 * its cgroup (CLONE_INTO_CGROUP) before it can fork anything. Without the
 * boundary it is made by vfork: no copy of our page tables, we wait until
 * it has called execve or _exit, which is what posix_spawn does.
 */
#include "platform/linux_launch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

extern char **environ;

/* The clone3 arguments of <linux/sched.h> (version 2, with cgroup). */
struct launch_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

/* The PATH of the command's environment, as execvp would use it. */
static const char *launch_env_path(const struct launch *l)
{
    char *const *env = l->own_env ? l->env.v : environ;
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            return env[i] + 5;
    return "/bin:/usr/bin"; /* glibc's execvp default */
}

/* The paths to try for argv[0]: itself when it has a '/', else PATH's entries. */
static void launch_make_paths(struct launch *l)
{
    const char *path, *p;

    if (strchr(l->file, '/')) {
        strv_push(&l->paths, l->file);
        return;
    }
    path = launch_env_path(l);
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
static int launch_prepare_user(struct launch *l, const char *user, struct err *e)
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
static uint64_t launch_non_default_signals(void)
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

static void launch_free(struct launch *l)
{
    strv_free(&l->paths);
    strv_free(&l->argv);
    strv_free(&l->sh_argv);
    strv_free(&l->env);
    strv_free(&l->cover);
    free(l->groups);
    l->groups = NULL;
}

/* Fills l from s in the parent. On failure returns -1 with e set. */
static int launch_prepare(struct launch *l, const struct launch_spec *s, struct err *e)
{
    memset(l, 0, sizeof(*l));
    l->report = -1;
    l->cgroup_fd = -1;
    l->enter = s->root || s->user;
    l->boundary = s->root && !(s->flags & LAUNCH_NO_BOUNDARY);
    l->new_net = l->boundary && (s->flags & LAUNCH_NEW_NET);
    l->root = s->root;
    l->cwd = s->cwd ? s->cwd : (l->enter ? "/" : NULL);
    l->setsid = s->setsid;
    l->ctty = s->setsid && s->ctty;
    for (int i = 0; i < 3; i++)
        l->fd[i] = s->fd[i];
    l->file = s->argv[0];
    /* SIGCHLD too: the reaper's handler may be installed after this. */
    l->sigs = launch_non_default_signals() | (UINT64_C(1) << (SIGCHLD - 1));
    for (size_t i = 0; s->argv[i]; i++)
        strv_push(&l->argv, s->argv[i]);
    if (s->env) {
        for (size_t i = 0; s->env[i]; i++)
            strv_push(&l->env, s->env[i]);
        l->own_env = true;
    }
    for (size_t i = 0; l->boundary && s->cover && s->cover[i]; i++)
        strv_push(&l->cover, s->cover[i]);
    if (s->cgroup) {
        l->procs_fds = s->cgroup->procs_fds;
        l->n_procs = s->cgroup->n_procs;
    }
    if (s->user && launch_prepare_user(l, s->user, e) < 0) {
        launch_free(l);
        return -1;
    }
    launch_make_paths(l);
    strv_push(&l->sh_argv, "/bin/sh");
    strv_push(&l->sh_argv, ""); /* the path, set in the child */
    for (size_t i = 1; i < l->argv.n; i++)
        strv_push(&l->sh_argv, l->argv.v[i]);
    return 0;
}

/* A close-on-exec pipe with both ends above the standard streams (ours may be closed). */
static int launch_report_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 3) {
            int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            int err = errno;
            close(fds[i]);
            if (fd < 0) {
                close(fds[1 - i]);
                return -err;
            }
            fds[i] = fd;
        }
    }
    return 0;
}

/*
 * The init, in new namespaces and its cgroup, with clone3 (plain clone
 * where clone3 is missing: the child then joins the cgroup itself).
 * Returns the pid (in the child: does not return), or -errno.
 */
static pid_t launch_clone_init(struct launch *l, int cgroup_fd)
{
    struct launch_clone_args ca;
    uint64_t ns = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
    long pid;

    if (l->new_net)
        ns |= CLONE_NEWNET;
    memset(&ca, 0, sizeof(ca));
    ca.flags = ns;
    ca.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgroup_fd;
    }
    pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid < 0 && errno == ENOSYS) {
        /* Before Linux 5.3 (or valgrind): a raw clone without CLONE_VM
         * returns in the child on a copy of our stack, as fork does. */
        l->cgroup_fd = cgroup_fd;
        pid = syscall(SYS_clone, (unsigned long)ns | SIGCHLD, NULL, NULL, NULL, NULL);
    }
    if (pid == 0)
        launch_child_init(l);
    return pid < 0 ? -errno : (pid_t)pid;
}

/*
 * Starts the child with every signal blocked, so that no handler of ours
 * runs in it before it has reset them. Returns the pid or -errno.
 */
static pid_t launch_fork(struct launch *l, const struct launch_spec *s)
{
    sigset_t all, old;
    pid_t pid;
    int err = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (l->boundary) {
        pid = launch_clone_init(l, s->cgroup ? s->cgroup->dir_fd : -1);
    } else {
        l->cgroup_fd = s->cgroup ? s->cgroup->dir_fd : -1;
        pid = vfork();
        if (pid == 0)
            launch_child_plain(l);
        if (pid < 0)
            pid = -errno;
    }
    if (pid < 0)
        err = (int)-pid;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err ? -err : pid;
}

int launch_start(const struct launch_spec *s, struct launch_child *c, struct err *e)
{
    struct launch l;
    struct launch_report rep;
    int fds[2], r;
    pid_t pid;
    ssize_t n;

    memset(c, 0, sizeof(*c));
    c->report = -1;
    c->res.cpu_ms = -1;
    if (launch_prepare(&l, s, e) < 0)
        return e->code ? -e->code : -EINVAL;
    r = launch_report_pipe(fds);
    if (r < 0) {
        launch_free(&l);
        return err_sys(e, -r, "cannot run %s", s->argv[0]);
    }
    l.report = fds[1];
    pid = launch_fork(&l, s);
    launch_free(&l);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return err_sys(e, (int)-pid, "cannot run %s", s->argv[0]);
    }
    c->pid = pid;
    c->boundary = l.boundary;
    if (l.enter) {
        /* Read as it comes (launch_poll), and when the child is reaped. */
        (void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
        c->report = fds[0];
        return 0;
    }
    /* A host command: its exec failure is here already (vfork returned). */
    do
        n = read(fds[0], &rep, sizeof(rep));
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    if (n == (ssize_t)sizeof(rep) && rep.kind == LAUNCH_REPORT_ENTER) {
        /* It did not exec and is exiting: reap it here, it is nobody else's. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid = 0;
        return err_sys(e, rep.c ? rep.c : EIO, "cannot run %s", s->argv[0]);
    }
    return 0;
}

/* Reads the reports that are in: 1 at the end's, 0 when more may come, -1 at the pipe's end. */
static int launch_read_reports(struct launch_child *c)
{
    struct launch_report rep;
    ssize_t n;

    if (c->report < 0)
        return c->ended ? 1 : -1;
    for (;;) {
        n = read(c->report, &rep, sizeof(rep));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n != (ssize_t)sizeof(rep))
            return -1; /* the end of the pipe (a short write cannot happen: PIPE_BUF) */
        if (rep.kind == LAUNCH_REPORT_ENTER && !c->res.enter.fail) {
            c->res.enter.fail = (enum launch_fail)rep.a;
            c->res.enter.step = (enum launch_step)rep.b;
            c->res.enter.err = rep.c;
        } else if (rep.kind == LAUNCH_REPORT_EXIT && c->boundary) {
            c->res.status = rep.a;
            c->res.cpu_ms = (double)((uint64_t)(uint32_t)rep.c << 32 | (uint32_t)rep.b) / 1000.0;
            c->ended = true;
            return 1; /* the init's last word */
        }
    }
}

/* Closes the report pipe and gives what it said. */
static void launch_done(struct launch_child *c, struct launch_result *r)
{
    if (c->report >= 0)
        close(c->report);
    c->report = -1;
    *r = c->res;
}

int launch_poll(struct launch_child *c, struct launch_result *r)
{
    int k = launch_read_reports(c);
    if (k == 1)
        launch_done(c, r);
    return k;
}

void launch_finish(struct launch_child *c, int wait_status, struct launch_result *r)
{
    if (!c->ended)
        c->res.status = wait_status;
    (void)launch_read_reports(c);
    launch_done(c, r);
}

const char *launch_step_text(enum launch_step step)
{
    switch (step) {
    case LAUNCH_STEP_NONE:
        break;
    case LAUNCH_STEP_SESSION:
        return "cannot make a new session";
    case LAUNCH_STEP_STDIO:
        return "cannot set up the standard streams";
    case LAUNCH_STEP_CTTY:
        return "cannot take the terminal";
    case LAUNCH_STEP_CGROUP:
        return "cannot join the cgroup";
    case LAUNCH_STEP_PRIVATE:
        return "cannot make the mounts private";
    case LAUNCH_STEP_CHROOT:
        return "cannot chroot into the sandbox";
    case LAUNCH_STEP_PROC:
        return "cannot mount the job's own /proc";
    case LAUNCH_STEP_COVER:
        return "cannot cover a path";
    case LAUNCH_STEP_NET:
        return "cannot bring up loopback";
    case LAUNCH_STEP_CHDIR:
        return "cannot change to the working directory";
    case LAUNCH_STEP_FDS:
        return "cannot close our descriptors";
    case LAUNCH_STEP_CAPS:
        return "cannot drop capabilities";
    case LAUNCH_STEP_INIT:
        return "cannot start the sandbox's init";
    case LAUNCH_STEP_GROUPS:
        return "cannot set the groups";
    case LAUNCH_STEP_GID:
        return "cannot set the group";
    case LAUNCH_STEP_UID:
        return "cannot set the user";
    case LAUNCH_STEP_EXEC:
        return "cannot execute the command";
    }
    return "no failure";
}
