/*
 * Child processes on the loop, with output pipes and exit+EOF tracking.
 * They are started by platform/launch.h, not by uv_spawn. The
 * exits come as SIGCHLD through one libuv signal watcher per loop (the
 * reaper), which looks at each of our live children with waitpid(pid,
 * WNOHANG): signals coalesce, and children that are not ours (a test's,
 * a library's) are never reaped here. One watcher, not one per process:
 * libuv writes a message per watcher into its signal pipe for every
 * signal, and with hundreds of children a full pipe would drop some.
 * A command in a sandbox ends earlier, at its init's report (on_report):
 * the init is then reaped later, as an orphan.
 */
#include "loop/proc.h"
#include "util/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define READ_BUF (256 * 1024)
#define PIPE_SIZE (1024 * 1024)

struct reaper;

struct proc {
    struct reaper *reaper; /* while not reaped */
    struct proc *next, *prev;
    uv_pipe_t pipes[2]; /* stdout, stderr */
    bool pipe_open[2];
    struct capture *sink[2]; /* proc_opts.sink: the stream is read with polls[i] */
    uv_poll_t polls[2];
    int poll_fd[2];
    uv_timer_t drain;
    uv_poll_t report;    /* the init's report pipe (a command in a sandbox) */
    bool report_polling; /* report is started (and counts in open_handles) */
    bool drain_started, lingered;
    unsigned drain_ms;
    int open_handles;
    bool exited, finished, freeing, group;
    int64_t exit_status;
    int term_signal;
    double cpu_ms; /* from wait4's rusage once reaped, else -1 */
    pid_t pid;
    struct launch_child child; /* pid, report pipe, boundary */
    struct launch_error enter;
    char *file; /* argv[0], for proc_enter_error */
    struct proc_cbs cbs;
};

/*
 * One read buffer for every pipe of every process: libuv reads into it and
 * calls on_read, whose callbacks copy what they keep, before it reads again
 * (all on the loop thread, the only one that runs processes). A buffer per
 * process, allocated with it, was a calloc that zeroed 256 KiB per job in
 * pages shared copy-on-write with the inits forked since: a build of 1000
 * jobs took 168,000 page faults in the supervisor, now 112,000.
 */
static char read_buf[READ_BUF];

/* Frees the memory once the last handle is closed. */
static void on_close(uv_handle_t *h)
{
    struct proc *p = h->data;
    if (--p->open_handles == 0) {
        free(p->file);
        free(p);
    }
}

static void close_handle(struct proc *p, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_close);
}

/* Runs the exit callback once both the exit and the end of all pipes are in. */
static void maybe_finish(struct proc *p)
{
    if (p->finished || !p->exited || p->pipe_open[0] || p->pipe_open[1])
        return;
    p->finished = true;
    if (p->drain_started)
        uv_timer_stop(&p->drain);
    if (p->freeing) {
        proc_free(p);
        return;
    }
    if (p->cbs.on_exit)
        p->cbs.on_exit(p, p->cbs.data);
}

static void close_pipe(struct proc *p, int i)
{
    if (!p->pipe_open[i])
        return;
    p->pipe_open[i] = false;
    if (p->sink[i]) {
        uv_poll_stop(&p->polls[i]);
        close_handle(p, (uv_handle_t *)&p->polls[i]);
        close(p->poll_fd[i]);
        return;
    }
    uv_read_stop((uv_stream_t *)&p->pipes[i]);
    close_handle(p, (uv_handle_t *)&p->pipes[i]);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = read_buf;
    b->len = sizeof(read_buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct proc *p = s->data;
    int i = (s == (uv_stream_t *)&p->pipes[0]) ? 0 : 1;
    if (n > 0) {
        if (p->cbs.on_data && !p->freeing)
            p->cbs.on_data(p, i + 1, b->base, (size_t)n, p->cbs.data);
        return;
    }
    if (n < 0) {
        close_pipe(p, i);
        maybe_finish(p);
    }
}

/* What one readable event of a sink's pipe may move, so that one chatty job does not hold the loop.
 */
#define SINK_BUDGET (4 * 1024 * 1024)

/* A stream with a sink is readable: spliced into it, or read and passed on where it cannot. */
static void on_sink_readable(uv_poll_t *h, int status, int events)
{
    struct proc *p = h->data;
    int i = h == &p->polls[0] ? 0 : 1;
    size_t budget = SINK_BUDGET;
    (void)status;
    (void)events;
    while (budget > 0 && p->pipe_open[i]) {
        long n = p->freeing ? -ENOTSUP : capture_splice(p->sink[i], p->poll_fd[i], budget);
        ssize_t r;
        if (n > 0) {
            budget -= (size_t)n < budget ? (size_t)n : budget;
            if (p->cbs.on_data)
                p->cbs.on_data(p, i + 1, NULL, (size_t)n, p->cbs.data);
            continue;
        }
        if (n == -EAGAIN)
            return;
        if (n == 0) {
            close_pipe(p, i);
            maybe_finish(p);
            return;
        }
        r = read(p->poll_fd[i], read_buf, sizeof(read_buf));
        if (r > 0) {
            budget -= (size_t)r < budget ? (size_t)r : budget;
            if (p->cbs.on_data && !p->freeing)
                p->cbs.on_data(p, i + 1, read_buf, (size_t)r, p->cbs.data);
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close_pipe(p, i); /* the end, or an error: as a stream's read would */
        maybe_finish(p);
        return;
    }
}

/* The drain time after exit has passed with a pipe still open. */
static void on_drain(uv_timer_t *t)
{
    struct proc *p = t->data;
    if (!p->lingered && p->cbs.on_linger && !p->freeing) {
        p->lingered = true;
        p->cbs.on_linger(p, p->cbs.data);
        if (p->finished)
            return;
        uv_timer_start(&p->drain, on_drain, p->drain_ms, 0);
        return;
    }
    close_pipe(p, 0);
    close_pipe(p, 1);
    maybe_finish(p);
}

static void stop_report(struct proc *p)
{
    if (!p->report_polling)
        return;
    p->report_polling = false;
    uv_poll_stop(&p->report); /* before launch_* closes the descriptor */
    close_handle(p, (uv_handle_t *)&p->report);
}

/* Records the command's exit as res says it. */
static void record_exit(struct proc *p, const struct launch_result *res)
{
    int status = res->status;
    p->enter = res->enter;
    if (res->cpu_ms >= 0)
        p->cpu_ms = res->cpu_ms;
    p->exited = true;
    if (WIFSIGNALED(status)) {
        p->exit_status = 0;
        p->term_signal = WTERMSIG(status);
    } else {
        p->exit_status = WEXITSTATUS(status);
        p->term_signal = 0;
    }
    if ((p->pipe_open[0] || p->pipe_open[1]) && p->drain_ms && !p->freeing) {
        p->drain_started = true;
        uv_timer_start(&p->drain, on_drain, p->drain_ms, 0);
    }
    maybe_finish(p);
}

/*
 * Records the exit of the reaped process (status from waitpid): in a
 * sandbox, that of the command as its init reported it.
 */
static void exited(struct proc *p, int status)
{
    struct launch_result res;

    stop_report(p);
    launch_finish(&p->child, status, &res);
    record_exit(p, &res);
}

/* The children of one loop that are not reaped yet, and its SIGCHLD watcher. */
struct reaper {
    uv_signal_t sig;
    uv_loop_t *loop;
    struct proc *live;
    struct reaper *next;
    bool closing;
};
static struct reaper *reapers;

/*
 * Inits that reported the end of their job (launch_poll) and are only
 * exiting: no process waits for them, but they are our children, reaped
 * whenever a SIGCHLD comes or a process starts, so that a long build
 * leaves no zombies behind, and once more when the loop is done
 * (proc_loop_done). One still exiting when we exit is reaped by whoever
 * reaps our orphans (the nearest child subreaper, or pid 1), as
 * bubblewrap's init is.
 */
static pid_t *orphans;
static size_t norphans, orphans_cap;

static void reap_orphans(void)
{
    size_t k = 0;
    for (size_t i = 0; i < norphans; i++) {
        pid_t w;
        do
            w = waitpid(orphans[i], NULL, WNOHANG);
        while (w < 0 && errno == EINTR);
        if (w == 0)
            orphans[k++] = orphans[i];
    }
    norphans = k;
    if (!norphans) {
        free(orphans);
        orphans = NULL;
        orphans_cap = 0;
    }
}

static void add_orphan(pid_t pid)
{
    if (norphans == orphans_cap) {
        orphans_cap = orphans_cap ? orphans_cap * 2 : 8;
        orphans = xrealloc(orphans, orphans_cap * sizeof(*orphans));
    }
    orphans[norphans++] = pid;
}

static void reaper_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Closes the loop's reaper when it has no child left to wait for. */
static void reaper_maybe_close(struct reaper *r)
{
    struct reaper **pp;

    if (r->live || r->closing)
        return;
    r->closing = true;
    for (pp = &reapers; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&r->sig, reaper_closed);
}

static void reaper_unlink(struct proc *p)
{
    struct reaper *r = p->reaper;
    if (p->prev)
        p->prev->next = p->next;
    else
        r->live = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->next = p->prev = NULL;
    p->reaper = NULL;
}

/*
 * A SIGCHLD: any number of our children may have exited (signals coalesce).
 * One is reaped and its callbacks run before the next is looked for: a
 * callback may free or kill another process, which must not be one that is
 * reaped already (its pid could belong to someone else by then).
 */
static void on_sigchld(uv_signal_t *h, int sig)
{
    struct reaper *r = h->data;
    struct proc *p;
    struct rusage ru;
    int status;
    pid_t w;
    (void)sig;

    reap_orphans();
again:
    for (p = r->live; p; p = p->next) {
        do
            w = wait4(p->pid, &status, WNOHANG, &ru);
        while (w < 0 && errno == EINTR);
        if (w == 0)
            continue;
        if (w < 0) /* ECHILD: not ours any more (cannot happen): gone all the same */
            status = 255 << 8;
        else
            p->cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
                        (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
        reaper_unlink(p);
        exited(p, status);
        goto again;
    }
    reaper_maybe_close(r);
}

/*
 * The init's report pipe is readable: at the end's report the job is over
 * (nothing of it is left, its output is closed) and the command's exit is
 * recorded at once, without waiting for the init's own exit.
 */
static void on_report(uv_poll_t *h, int status, int events)
{
    struct proc *p = h->data;
    struct launch_result res;
    struct reaper *r;
    int k = launch_poll(&p->child, &res);
    (void)events;
    if (k == 0 && status == 0)
        return;
    stop_report(p);
    if (k <= 0)
        return; /* the init died without it: its reaping says the rest */
    add_orphan(p->pid);
    r = p->reaper;
    reaper_unlink(p);
    reaper_maybe_close(r);
    record_exit(p, &res);
}

/* The loop's reaper, made and started (before any child can exit) when needed. */
static struct reaper *reaper_for(uv_loop_t *loop)
{
    struct reaper *r;

    for (r = reapers; r; r = r->next)
        if (r->loop == loop)
            return r;
    r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    uv_signal_init(loop, &r->sig);
    r->sig.data = r;
    uv_signal_start(&r->sig, on_sigchld, SIGCHLD);
    r->next = reapers;
    reapers = r;
    return r;
}

/*
 * The child's end of an output pipe is a real pipe made here, not libuv's
 * UV_CREATE_PIPE (a Unix socketpair in libuv 1.44, slower for bulk output),
 * enlarged so that a chatty build wakes us less often. *rfd gets our end.
 */
static int make_pipe(int *rfd, int *wfd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    (void)fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE); /* best effort: a limit may refuse */
    *rfd = fds[0];
    *wfd = fds[1];
    return 0;
}

/* Closes the pipe ends that proc_spawn made, on a failure before any handle. */
static void close_fds(int *rfd, int *wfd)
{
    for (int i = 0; i < 2; i++) {
        if (rfd[i] >= 0)
            close(rfd[i]);
        if (wfd[i] >= 0)
            close(wfd[i]);
        rfd[i] = wfd[i] = -1;
    }
}

/* The launch of o, with the stdio given as descriptors (the pipes' come later). */
static void proc_make_spec(const struct proc_opts *o, struct launch_spec *ls)
{
    const enum proc_io io[3] = {o->in == PROC_IO_PIPE ? PROC_IO_NULL : o->in, o->out, o->err};

    memset(ls, 0, sizeof(*ls));
    ls->argv = o->argv;
    ls->env = o->env;
    ls->root = o->root;
    ls->cwd = o->cwd;
    ls->user = o->user;
    ls->setsid = o->setsid;
    ls->ctty = o->ctty;
    for (int i = 0; i < 3; i++) {
        switch (io[i]) {
        case PROC_IO_INHERIT:
            ls->fd[i] = LAUNCH_FD_INHERIT;
            break;
        case PROC_IO_FD:
            ls->fd[i] = o->fd[i];
            break;
        default: /* PROC_IO_NULL; PROC_IO_PIPE gets its descriptor in proc_spawn */
            ls->fd[i] = LAUNCH_FD_NULL;
            break;
        }
    }
    ls->flags = o->new_net ? LAUNCH_NEW_NET : 0;
    ls->cover = o->cover;
    ls->cgroup = o->cgroup;
}

struct proc *proc_spawn(uv_loop_t *loop, const struct proc_opts *o, const struct proc_cbs *cbs,
                        struct err *e)
{
    struct proc *p;
    struct reaper *reaper;
    struct launch_spec ls;
    struct launch_child child;
    int rfd[2] = {-1, -1}, wfd[2] = {-1, -1};
    int r;

    reap_orphans(); /* a build's inits that ended since the last SIGCHLD */
    proc_make_spec(o, &ls);
    /* Both pipes before any handle exists, so that a failure frees plainly. */
    for (int i = 0; i < 2; i++) {
        if ((i == 0 ? o->out : o->err) != PROC_IO_PIPE)
            continue;
        r = make_pipe(&rfd[i], &wfd[i]);
        if (r < 0) {
            err_sys(e, -r, "cannot make a pipe for %s", o->argv[0]);
            close_fds(rfd, wfd);
            return NULL;
        }
        ls.fd[i + 1] = wfd[i];
    }
    p = xcalloc(1, sizeof(*p));
    p->cpu_ms = -1;
    p->cbs = *cbs;
    p->drain_ms = o->drain_ms;
    p->group = o->setsid;
    /* The watcher first: the child may exit before vfork returns here. */
    reaper = reaper_for(loop);
    uv_timer_init(loop, &p->drain);
    p->drain.data = p;
    p->open_handles++;

    r = fault_check("spawn");
    if (r < 0)
        err_sys(e, -r, "cannot run %s (injected)", o->argv[0]);
    else
        r = launch_start(&ls, &child, e);
    /* The child has its copies of the write ends (or never will): ours go,
     * so that EOF comes when the last holder in the child's family closes. */
    for (int i = 0; i < 2; i++)
        if (wfd[i] >= 0)
            close(wfd[i]);
    if (r < 0) {
        for (int i = 0; i < 2; i++)
            if (rfd[i] >= 0)
                close(rfd[i]);
        p->freeing = true;
        p->exited = p->finished = true;
        close_handle(p, (uv_handle_t *)&p->drain);
        reaper_maybe_close(reaper);
        return NULL;
    }
    p->child = child;
    p->pid = child.pid;
    p->file = xstrdup(o->argv[0]);
    p->reaper = reaper;
    p->next = reaper->live;
    if (p->next)
        p->next->prev = p;
    reaper->live = p;
    if (child.boundary && child.report >= 0 && !o->end_at_reap) {
        uv_poll_init(loop, &p->report, child.report);
        p->report.data = p;
        p->open_handles++;
        p->report_polling = true;
        uv_poll_start(&p->report, UV_READABLE, on_report);
    }
    for (int i = 0; i < 2; i++) {
        if (rfd[i] < 0)
            continue;
        p->pipe_open[i] = true;
        p->open_handles++;
        if (o->sink[i]) {
            p->sink[i] = o->sink[i];
            p->poll_fd[i] = rfd[i];
            (void)fcntl(rfd[i], F_SETFL, O_NONBLOCK);
            uv_poll_init(loop, &p->polls[i], rfd[i]);
            p->polls[i].data = p;
            uv_poll_start(&p->polls[i], UV_READABLE, on_sink_readable);
            continue;
        }
        uv_pipe_init(loop, &p->pipes[i], 0);
        uv_pipe_open(&p->pipes[i], rfd[i]);
        p->pipes[i].data = p;
        uv_read_start((uv_stream_t *)&p->pipes[i], on_alloc, on_read);
    }
    return p;
}

void proc_loop_done(void)
{
    reap_orphans();
    free(orphans);
    orphans = NULL;
    norphans = orphans_cap = 0;
}

pid_t proc_pid(const struct proc *p)
{
    return p->pid;
}

bool proc_exited(const struct proc *p)
{
    return p->exited;
}

double proc_cpu_ms(const struct proc *p)
{
    return p->cpu_ms;
}

int proc_exit_code(const struct proc *p)
{
    return p->exited && !p->term_signal ? (int)p->exit_status : -1;
}

int proc_term_signal(const struct proc *p)
{
    return p->term_signal;
}

int proc_shell_status(const struct proc *p)
{
    return p->term_signal ? 128 + p->term_signal : (int)p->exit_status;
}

void proc_describe_status(const struct proc *p, char *out, size_t n)
{
    if (p->term_signal)
        snprintf(out, n, "signal %d (%s)", p->term_signal, strsignal(p->term_signal));
    else
        snprintf(out, n, "exit code %d", (int)p->exit_status);
}

enum launch_fail proc_enter_error(const struct proc *p, struct err *e)
{
    if (p->enter.fail && e)
        err_sys(e, p->enter.err, "sandbox entry of %s: %s", p->file,
                launch_step_text(p->enter.step));
    return p->enter.fail;
}

void proc_kill(struct proc *p, int sig)
{
    if (p->child.boundary) {
        /* The init passes sig on to the command's group; SIGKILL ends the
         * init and with it everything in its pid namespace. */
        if (!p->exited && p->pid > 0)
            kill(p->pid, sig);
        return;
    }
    if (p->group && p->pid > 0)
        kill(-p->pid, sig); /* the group may outlive its leader */
    if (!p->exited && p->pid > 0)
        kill(p->pid, sig); /* not reaped yet (we reap it), so still this process */
}

void proc_free(struct proc *p)
{
    if (!p)
        return;
    p->freeing = true;
    if (!p->finished) {
        /* Not finished: kill it and free when it is reaped and the pipes shut. */
        proc_kill(p, SIGKILL);
        close_pipe(p, 0);
        close_pipe(p, 1);
        if (!p->exited)
            return;
        p->finished = true;
    }
    close_pipe(p, 0);
    close_pipe(p, 1);
    close_handle(p, (uv_handle_t *)&p->drain);
}
