/* bob sandbox run and bob sandbox shell */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/sbx_cmd.h"
#include "loop/capture.h"
#include "loop/proc.h"
#include "loop/ptyrelay.h"
#include "loop/runstate.h"
#include "platform/platform.h"
#include "sandbox/exec.h"
#include "sandbox/killer.h"
#include "sandbox/prepost.h"

/* ---- bob sandbox run ---------------------------------------------------- */

struct run {
    struct sbx_cmd c;
    char *root;
    struct proc *proc;
    struct killer *killer;
    struct plat_since since; /* CMD's start: what was in the sandbox before is spared */
    bool has_since;
    pid_t pgid;
    bool out_closed[2];
    struct capture log;
    bool logging;
    int status;
    bool interrupted;
};

/* Writes all of buf to fd; false when the reader went away (EPIPE). */
static bool write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

static void run_on_data(struct proc *p, int stream, const char *buf, size_t n, void *data)
{
    struct run *r = data;
    if (!r->out_closed[stream - 1] && !write_all(stream, buf, n))
        r->out_closed[stream - 1] = true; /* keep draining, quietly */
    if (r->logging)
        capture_add(&r->log, buf, n);
}

static void run_on_killed(struct killer *k, int status, const struct err *e, void *data)
{
    struct run *r = data;
    if (status < 0)
        fprintf(stderr, "bob: %s\n", e->msg);
    killer_free(k);
    r->killer = NULL;
}

/* Kills what CMD started in the sandbox (not what was there before it). */
static void run_kill_started(struct run *r)
{
    if (r->killer)
        return;
    /* Without CMD's start time (it could not be read), nothing is spared. */
    r->killer = killer_start(&r->c.loop, r->root, r->has_since ? &r->since : NULL, r->pgid,
                             run_on_killed, r);
}

static void run_on_linger(struct proc *p, void *data)
{
    /* CMD has exited, something it started still holds the output. */
    run_kill_started(data);
}

static void run_on_exit(struct proc *p, void *data)
{
    struct run *r = data;
    r->status = proc_shell_status(p);
    proc_free(p);
    r->proc = NULL;
    /* Nothing CMD started outlives it. */
    run_kill_started(r);
}

static void run_on_signal(enum run_state state, int signum, void *data)
{
    struct run *r = data;
    r->interrupted = true;
    if (r->proc)
        run_kill_started(r);
}

/* Parses [--log FILE] ID -- CMD...; returns the index of CMD or -1. */
static int run_parse(int argc, char **argv, const char **log, unsigned long *id)
{
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--log") == 0) {
        *log = argv[i + 1];
        i += 2;
    }
    if (i >= argc || !str_to_uint(argv[i], id))
        return -1;
    i++;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    return i < argc ? i : -1;
}

int sandbox_run_cmd(struct cli *cli, int argc, char **argv)
{
    struct run r;
    const char *logpath = NULL;
    unsigned long id;
    int cmd = run_parse(argc, argv, &logpath, &id), rc;
    struct strv env = {0};
    struct proc_opts o = {0};
    struct proc_cbs cbs = {run_on_data, run_on_exit, run_on_linger, &r};
    struct err e;
    struct stat st;

    if (cmd < 0) {
        fprintf(stderr, "usage: bob sandbox run [--log FILE] ID -- CMD [ARG...]\n");
        return EXIT_USAGE;
    }
    memset(&r, 0, sizeof(r));
    if ((rc = sbx_cmd_init(&r.c, cli, "bob sandbox run", CTX_BUILD)) != EXIT_OK)
        return rc;
    r.root = sandbox_path(&r.c.cfg, (unsigned)id);
    rc = EXIT_ERROR;
    if (lstat(r.root, &st) != 0 || !S_ISDIR(st.st_mode) || !sandbox_is_complete(&r.c.cfg, id)) {
        cli_error("sandbox %lu does not exist or is incomplete (see bob sandbox list)", id);
        goto out;
    }
    /* Held while CMD runs: no other bob destroys it under CMD. */
    if (sandbox_lock(&r.c.ctx, (unsigned)id, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (logpath && capture_open(&r.log, logpath, NULL, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    r.logging = logpath != NULL;
    sandbox_env(&r.c.cfg, CTX_BUILD, true, &r.c.ctx.env, &env);
    o.argv = (const char *const *)argv + cmd;
    o.env = (const char *const *)env.v;
    o.root = r.root;
    o.cwd = "/";
    o.setsid = true;
    o.in = PROC_IO_INHERIT;
    o.out = PROC_IO_PIPE;
    o.err = PROC_IO_PIPE;
    o.drain_ms = 1000;
    runstate_start(&r.c.loop, true, run_on_signal, &r);
    r.proc = proc_spawn(&r.c.loop, &o, &cbs, &e);
    strv_free(&env);
    if (!r.proc) {
        cli_error("%s", e.msg);
        sbx_cmd_run_loop(&r.c);
        goto out_log;
    }
    r.pgid = proc_pid(r.proc);
    r.has_since = plat_since_mark(r.pgid, &r.since) == 0;
    sbx_cmd_run_loop(&r.c);
    rc = r.interrupted ? EXIT_INTERRUPTED : r.status;
out_log:
    if (r.logging && capture_close(&r.log, &e) < 0) {
        cli_error("%s", e.msg);
        if (rc == 0)
            rc = EXIT_ERROR;
    }
    r.logging = false;
out:
    if (r.logging)
        capture_close(&r.log, &e);
    free(r.root);
    sbx_cmd_free(&r.c);
    return rc;
}

/* ---- bob sandbox shell -------------------------------------------------- */

enum shell_step {
    SH_CREATE,
    SH_PREBUILD,
    SH_SHELL,
    SH_POSTBUILD,
    SH_DESTROY,
    SH_DONE,
};

struct shell {
    struct sbx_cmd c;
    enum shell_step step;
    unsigned id;
    char *root;
    struct prepost *pp;
    struct proc *proc;
    struct ptyrelay *relay; /* the shell's pty, when we are on a terminal */
    struct killer *killer;
    int shell_status;
    bool failed, interrupted;
    double started;
};

static void shell_next(struct shell *s);

/* Writes <sandbox>/.bob/shell-init as bob does (inventory 3 M). */
static int write_shell_init(struct shell *s, struct err *e)
{
    const struct config *cfg = &s->c.cfg;
    struct strv vars = {0};
    struct strv dev = {0};
    struct buf b = {0};
    char *path = xasprintf("%s/.bob/shell-init", s->root);
    char idbuf[24];
    int fd, r = 0;

    for (size_t i = 0; i < s->c.ctx.env.n; i++)
        strv_push(&vars, s->c.ctx.env.v[i]);
    snprintf(idbuf, sizeof(idbuf), "%u", s->id);
    env_setkv(&vars, "bob_sandbox_id", idbuf);
    strv_sort(&vars);
    buf_adds(&b, "#!/bin/sh\n");
    for (size_t i = 0; i < vars.n; i++) {
        char *eq = strchr(vars.v[i], '=');
        char *q = shell_dquote(eq + 1);
        buf_printf(&b, "export %.*s=%s\n", (int)(eq - vars.v[i]), vars.v[i], q);
        free(q);
    }
    if (cfg->env_dev.present) {
        for (size_t i = 0; i < cfg->env_dev.vars.n; i++)
            strv_push(&dev, cfg->env_dev.vars.v[i]);
        strv_sort(&dev);
        for (size_t i = 0; i < dev.n; i++)
            buf_printf(&b, "export %s\n", dev.v[i]); /* verbatim, as bob does */
    }
    buf_adds(&b, "rm -f /.bob/shell-init\n");
    buf_printf(&b, "exec %s -i\n",
               cfg->env_dev.present && cfg->env_dev.shell ? cfg->env_dev.shell : "/bin/sh");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, b.p, b.len) != (ssize_t)b.len)
        r = err_sys(e, errno, "cannot write %s", path);
    if (fd >= 0 && close(fd) != 0 && r == 0)
        r = err_sys(e, errno, "cannot write %s", path);
    strv_free(&vars);
    strv_free(&dev);
    buf_free(&b);
    free(path);
    return r;
}

static void shell_on_batch(struct sbx_batch *b, void *data)
{
    struct shell *s = data;
    if (s->step == SH_CREATE) {
        if (sandbox_batch_status(b) < 0) {
            cli_status_end(false, s->started);
            sbx_print_errors(b);
            s->failed = true;
            s->step = SH_DONE;
            return;
        }
        cli_status_end(true, s->started);
        s->id = sandbox_batch_id(b, 0);
        s->root = sandbox_path(&s->c.cfg, s->id);
        s->step = SH_PREBUILD;
        shell_next(s);
        return;
    }
    /* SH_DESTROY */
    if (sandbox_batch_status(b) < 0) {
        cli_status_end(false, s->started);
        sbx_print_errors(b);
        s->failed = true;
    } else {
        cli_status_end(true, s->started);
    }
    s->step = SH_DONE;
}

static void shell_on_prepost(struct prepost *pp, int status, const struct err *e, void *data)
{
    struct shell *s = data;
    if (s->step == SH_PREBUILD) {
        cli_status_end(status == 0, s->started);
        if (status < 0) {
            cli_error("%s", e->msg);
            s->failed = true;
        }
        s->step = status < 0 || s->interrupted ? SH_POSTBUILD : SH_SHELL;
    } else {
        if (status < 0)
            fprintf(stderr, "Warning: %s\n", e->msg);
        s->step = SH_DESTROY;
    }
    prepost_free(pp);
    s->pp = NULL;
    shell_next(s);
}

/* Gives the terminal back to our process group after the shell took it. */
static void reclaim_terminal(void)
{
    struct sigaction ign = {0}, old;
    if (!isatty(0))
        return;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGTTOU, &ign, &old);
    tcsetpgrp(0, getpgrp());
    sigaction(SIGTTOU, &old, NULL);
}

static void shell_on_killed(struct killer *k, int status, const struct err *e, void *data)
{
    struct shell *s = data;
    if (status < 0)
        fprintf(stderr, "bob: %s\n", e->msg);
    killer_free(k);
    s->killer = NULL;
}

static void shell_on_exit(struct proc *p, void *data)
{
    struct shell *s = data;
    s->shell_status = proc_shell_status(p);
    proc_free(p);
    s->proc = NULL;
    if (s->relay) {
        ptyrelay_free(s->relay); /* its last output, and our terminal back */
        s->relay = NULL;
    } else {
        reclaim_terminal();
    }
    if (s->shell_status != 0 && !s->interrupted)
        fprintf(stderr, "Shell exited with exit status: %d\n", s->shell_status);
    s->step = SH_POSTBUILD;
    shell_next(s);
}

static void shell_on_signal(enum run_state state, int signum, void *data)
{
    struct shell *s = data;
    /* Ctrl+C at the shell's prompt is the shell's business. */
    if (s->step == SH_SHELL && signum == SIGINT)
        return;
    if (s->interrupted)
        return;
    s->interrupted = true;
    switch (s->step) {
    case SH_CREATE:
        sandbox_batch_cancel(s->c.batch);
        break;
    case SH_PREBUILD:
        if (s->pp)
            prepost_cancel(s->pp);
        break;
    case SH_SHELL:
        s->killer = killer_start(&s->c.loop, s->root, NULL, 0, shell_on_killed, s);
        break;
    default:
        break; /* cleanup finishes whatever happens */
    }
}

/*
 * When we are on a terminal and the sandbox has its own devpts (fs = "dev"):
 * a pty of it, relayed to our terminal; returns the slave for the shell.
 * Otherwise -1, and the shell gets our terminal as it is.
 */
static int shell_pty(struct shell *s)
{
    int master, slave;
    struct err e;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return -1;
    if (plat_pty_open(s->root, &master, &slave, &e) < 0) {
        log_debug("no pty of the sandbox for the shell: %s", e.msg);
        return -1;
    }
    s->relay = ptyrelay_start(&s->c.loop, STDIN_FILENO, STDOUT_FILENO, master, slave, &e);
    if (!s->relay) {
        log_debug("no pty relay for the shell: %s", e.msg);
        close(master);
        close(slave);
        return -1;
    }
    return slave;
}

static void shell_next(struct shell *s)
{
    struct strv env = {0};
    struct proc_opts o = {0};
    struct proc_cbs cbs = {NULL, shell_on_exit, NULL, s};
    const char *argv[] = {"/bin/sh", "/.bob/shell-init", NULL};
    struct err e;
    unsigned ids[1];
    int slave;

    switch (s->step) {
    case SH_CREATE:
        return;
    case SH_PREBUILD:
        s->started = now_ms();
        cli_status_begin("Preparing sandbox %u", s->id);
        s->pp = sandbox_prebuild(&s->c.ctx, s->root, shell_on_prepost, s);
        return;
    case SH_SHELL:
        if (write_shell_init(s, &e) < 0) {
            cli_error("%s", e.msg);
            s->failed = true;
            s->step = SH_POSTBUILD;
            shell_next(s);
            return;
        }
        printf("Entering sandbox %s...\n", s->root);
        fflush(stdout);
        /* Only clear/inherit apply here: the dev vars are in shell-init. */
        sandbox_env(&s->c.cfg, CTX_DEV, false, NULL, &env);
        o.argv = argv;
        o.env = (const char *const *)env.v;
        o.root = s->root;
        o.cwd = "/";
        o.in = o.out = o.err = PROC_IO_INHERIT;
        slave = shell_pty(s);
        if (slave >= 0) {
            /* On a terminal: the shell's own session on a pty of the sandbox. */
            o.in = o.out = o.err = PROC_IO_FD;
            o.fd[0] = o.fd[1] = o.fd[2] = slave;
            o.setsid = o.ctty = true;
        }
        s->proc = proc_spawn(&s->c.loop, &o, &cbs, &e);
        if (slave >= 0)
            close(slave);
        strv_free(&env);
        if (!s->proc && s->relay) {
            ptyrelay_free(s->relay);
            s->relay = NULL;
        }
        if (!s->proc) {
            cli_error("%s", e.msg);
            s->failed = true;
            s->step = SH_POSTBUILD;
            shell_next(s);
        }
        return;
    case SH_POSTBUILD:
        s->pp = sandbox_postbuild(&s->c.ctx, s->root, shell_on_prepost, s);
        return;
    case SH_DESTROY:
        s->started = now_ms();
        cli_status_begin("Destroying sandbox");
        ids[0] = s->id;
        sandbox_batch_free(s->c.batch);
        s->c.batch = sandbox_destroy(&s->c.ctx, ids, 1, false, shell_on_batch, s);
        return;
    case SH_DONE:
        return;
    }
}

int sandbox_shell_cmd(struct cli *cli, int argc, char **argv)
{
    struct shell s;
    int rc;
    if (argc > 1) {
        fprintf(stderr, "bob sandbox shell: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    memset(&s, 0, sizeof(s));
    if ((rc = sbx_cmd_init(&s.c, cli, "bob sandbox shell", CTX_DEV)) != EXIT_OK)
        return rc;
    runstate_start(&s.c.loop, true, shell_on_signal, &s);
    s.started = now_ms();
    cli_status_begin("Creating sandbox");
    s.c.batch = sandbox_create(&s.c.ctx, 1, shell_on_batch, &s);
    sbx_cmd_run_loop(&s.c);
    sandbox_batch_free(s.c.batch);
    free(s.root);
    sbx_cmd_free(&s.c);
    if (s.interrupted)
        return EXIT_INTERRUPTED;
    if (s.failed)
        return EXIT_ERROR;
    return s.shell_status == 0 ? EXIT_OK : EXIT_ERROR;
}
