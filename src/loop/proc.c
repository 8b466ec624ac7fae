/* Child processes on the loop, with output pipes and exit+EOF tracking. */
#include "loop/proc.h"
#include "util/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_BUF (256 * 1024)
#define PIPE_SIZE (1024 * 1024)

struct proc {
    uv_process_t process;
    uv_pipe_t pipes[2]; /* stdout, stderr */
    bool pipe_open[2];
    uv_timer_t drain;
    bool drain_started, lingered;
    unsigned drain_ms;
    int open_handles;
    bool exited, finished, freeing, group;
    int64_t exit_status;
    int term_signal;
    pid_t pid;
    struct proc_cbs cbs;
    char buf[READ_BUF];
};

/* Frees the memory once the last handle is closed. */
static void on_close(uv_handle_t *h)
{
    struct proc *p = h->data;
    if (--p->open_handles == 0)
        free(p);
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
    uv_read_stop((uv_stream_t *)&p->pipes[i]);
    close_handle(p, (uv_handle_t *)&p->pipes[i]);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct proc *p = h->data;
    b->base = p->buf;
    b->len = sizeof(p->buf);
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

static void on_exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
    struct proc *p = h->data;
    p->exited = true;
    p->exit_status = status;
    p->term_signal = term_signal;
    close_handle(p, (uv_handle_t *)h);
    if ((p->pipe_open[0] || p->pipe_open[1]) && p->drain_ms && !p->freeing) {
        p->drain_started = true;
        uv_timer_start(&p->drain, on_drain, p->drain_ms, 0);
    }
    maybe_finish(p);
}

const char *proc_enter_path(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("BOB_ENTER");
    char self[PATH_MAX];
    ssize_t n;
    char *slash;
    if (env && *env)
        return env;
    if (path[0])
        return path;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return "bob-enter";
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    if (snprintf(path, sizeof(path), "%s/bob-enter", self) >= (int)sizeof(path) ||
        access(path, X_OK) != 0) {
        if (snprintf(path, sizeof(path), "%s/../libexec/bob/bob-enter", self) >= (int)sizeof(path))
            return "bob-enter";
    }
    return path;
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

static uv_stdio_container_t stdio_for(enum proc_io io, int fd, int pipe_wfd)
{
    uv_stdio_container_t c;
    memset(&c, 0, sizeof(c));
    switch (io) {
    case PROC_IO_NULL:
        c.flags = UV_IGNORE;
        break;
    case PROC_IO_INHERIT:
        c.flags = UV_INHERIT_FD;
        c.data.fd = fd;
        break;
    case PROC_IO_PIPE:
        c.flags = UV_INHERIT_FD;
        c.data.fd = pipe_wfd;
        break;
    }
    return c;
}

struct proc *proc_spawn(uv_loop_t *loop, const struct proc_opts *o, const struct proc_cbs *cbs,
                        struct err *e)
{
    struct proc *p = xcalloc(1, sizeof(*p));
    uv_process_options_t uo;
    uv_stdio_container_t stdio[3];
    struct strv argv = {0};
    int rfd[2] = {-1, -1}, wfd[2] = {-1, -1};
    int r;

    p->cbs = *cbs;
    p->drain_ms = o->drain_ms;
    p->group = o->setsid;
    if (o->root || o->user) {
        strv_push(&argv, proc_enter_path());
        if (o->root) {
            strv_push(&argv, "-r");
            strv_push(&argv, o->root);
        }
        if (o->cwd) {
            strv_push(&argv, "-d");
            strv_push(&argv, o->cwd);
        }
        if (o->user) {
            strv_push(&argv, "-u");
            strv_push(&argv, o->user);
        }
        strv_push(&argv, "--");
    }
    for (size_t i = 0; o->argv[i]; i++)
        strv_push(&argv, o->argv[i]);

    memset(&uo, 0, sizeof(uo));
    uo.file = argv.v[0];
    uo.args = argv.v;
    uo.env = (char **)o->env;
    uo.cwd = (o->root || o->user) ? NULL : o->cwd;
    uo.flags = o->setsid ? UV_PROCESS_DETACHED : 0;
    uo.exit_cb = on_exit_cb;
    /* Both pipes before any handle exists, so that a failure frees plainly. */
    for (int i = 0; i < 2; i++) {
        if ((i == 0 ? o->out : o->err) != PROC_IO_PIPE)
            continue;
        r = make_pipe(&rfd[i], &wfd[i]);
        if (r < 0) {
            err_sys(e, -r, "cannot make a pipe for %s", o->argv[0]);
            for (int k = 0; k < i; k++) {
                if (rfd[k] >= 0) {
                    close(rfd[k]);
                    close(wfd[k]);
                }
            }
            strv_free(&argv);
            free(p);
            return NULL;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (rfd[i] < 0)
            continue;
        uv_pipe_init(loop, &p->pipes[i], 0);
        uv_pipe_open(&p->pipes[i], rfd[i]);
        p->pipes[i].data = p;
        p->open_handles++;
        p->pipe_open[i] = true;
    }
    stdio[0] = stdio_for(o->in == PROC_IO_PIPE ? PROC_IO_NULL : o->in, 0, -1);
    stdio[1] = stdio_for(o->out, 1, wfd[0]);
    stdio[2] = stdio_for(o->err, 2, wfd[1]);
    uo.stdio = stdio;
    uo.stdio_count = 3;
    uv_timer_init(loop, &p->drain);
    p->drain.data = p;
    p->open_handles++;
    p->process.data = p;

    if (fault_check("spawn") < 0)
        uo.file = "/nonexistent/bob-injected-spawn-failure"; /* uv_spawn fails for real */
    r = uv_spawn(loop, &p->process, &uo);
    /* The child has its copies of the write ends (or never will): ours go,
     * so that EOF comes when the last holder in the child's family closes. */
    for (int i = 0; i < 2; i++)
        if (wfd[i] >= 0)
            close(wfd[i]);
    p->open_handles++; /* the process handle must be closed even when spawn failed */
    if (r < 0) {
        if (o->root || o->user)
            err_set(e, "cannot run the sandbox helper %s (for %s): %s", argv.v[0], o->argv[0],
                    uv_strerror(r));
        else
            err_set(e, "cannot run %s: %s", o->argv[0], uv_strerror(r));
        strv_free(&argv);
        p->freeing = true;
        p->exited = p->finished = true;
        close_handle(p, (uv_handle_t *)&p->process);
        for (int i = 0; i < 2; i++)
            close_pipe(p, i);
        close_handle(p, (uv_handle_t *)&p->drain);
        return NULL;
    }
    strv_free(&argv);
    p->pid = p->process.pid;
    for (int i = 0; i < 2; i++)
        if (p->pipe_open[i])
            uv_read_start((uv_stream_t *)&p->pipes[i], on_alloc, on_read);
    return p;
}

pid_t proc_pid(const struct proc *p)
{
    return p->pid;
}

bool proc_exited(const struct proc *p)
{
    return p->exited;
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

void proc_kill(struct proc *p, int sig)
{
    if (p->group && p->pid > 0)
        kill(-p->pid, sig); /* the group may outlive its leader */
    if (!p->exited)
        uv_process_kill(&p->process, sig);
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
    if (!p->exited)
        return;
    close_handle(p, (uv_handle_t *)&p->process);
}
