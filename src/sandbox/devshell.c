/* The dev shell: its init file, its pty, its process. */
#include "sandbox/devshell.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "loop/proc.h"
#include "display/ptyrelay.h"
#include "sandbox/exec.h"
#include "platform/platform.h"
#include "sandbox/exec.h"

struct devshell {
    struct proc *proc;
    struct ptyrelay *relay; /* the shell's pty, when we are on a terminal */
    struct cgroup_job *cg;  /* the shell's own cgroup, or NULL */
    devshell_cb cb;
    void *data;
};

int devshell_write_init(const struct sbx_ctx *ctx, const char *root, unsigned id, struct err *e)
{
    const struct config *cfg = ctx->cfg;
    struct strv vars = {0};
    struct strv dev = {0};
    struct buf b = {0};
    char *path = xasprintf("%s/%s", root, DEVSHELL_INIT + 1);
    char idbuf[24];
    int dfd, fd = -1, r = 0;

    for (size_t i = 0; i < ctx->env.n; i++)
        strv_push(&vars, ctx->env.v[i]);
    snprintf(idbuf, sizeof(idbuf), "%u", id);
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
    buf_printf(&b, "rm -f %s\n", DEVSHELL_INIT);
    buf_printf(&b, "exec %s -i\n",
               cfg->env_dev.present && cfg->env_dev.shell ? cfg->env_dev.shell : "/bin/sh");
    /*
     * Beside .bob, not in it: the shell's /.bob is covered like every job's.
     * Made fresh beneath the root, never through a link a build planted.
     */
    dfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd >= 0) {
        (void)unlinkat(dfd, DEVSHELL_INIT + 1, 0);
        fd = openat(dfd, DEVSHELL_INIT + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0644);
        close(dfd);
    }
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

/* Gives the terminal back to our process group after the shell took it. */
static void devshell_reclaim_terminal(void)
{
    struct sigaction ign = {0}, old;
    if (!isatty(0))
        return;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGTTOU, &ign, &old);
    tcsetpgrp(0, getpgrp());
    sigaction(SIGTTOU, &old, NULL);
}

/* The shell exited: its last output and our terminal back first. */
static void devshell_on_exit(struct proc *p, void *data)
{
    struct devshell *sh = data;
    int status = proc_shell_status(p);
    proc_free(p);
    sh->proc = NULL;
    if (sh->relay) {
        ptyrelay_free(sh->relay);
        sh->relay = NULL;
    } else {
        devshell_reclaim_terminal();
    }
    sh->cb(sh, status, sh->data);
}

/*
 * When we are on a terminal and the sandbox has its own devpts (fs = "dev"):
 * a pty of it, relayed to our terminal; returns the slave for the shell.
 * Otherwise -1, and the shell gets our terminal as it is.
 */
static int devshell_pty(struct devshell *sh, uv_loop_t *loop, const char *root)
{
    int master, slave;
    struct err e;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return -1;
    if (plat_pty_open(root, &master, &slave, &e) < 0) {
        log_debug("no pty of the sandbox for the shell: %s", e.msg);
        return -1;
    }
    sh->relay = ptyrelay_start(loop, STDIN_FILENO, STDOUT_FILENO, master, slave, &e);
    if (!sh->relay) {
        log_debug("no pty relay for the shell: %s", e.msg);
        close(master);
        close(slave);
        return -1;
    }
    return slave;
}

struct devshell *devshell_start(struct sbx_ctx *ctx, const char *root, devshell_cb cb, void *data,
                                struct err *e)
{
    struct devshell *sh = xcalloc(1, sizeof(*sh));
    struct strv env = {0};
    struct proc_opts o = {0};
    struct launch_cgroup lc;
    struct proc_cbs cbs = {NULL, devshell_on_exit, NULL, sh};
    const char *argv[] = {"/bin/sh", DEVSHELL_INIT, NULL};
    int slave;

    sh->cb = cb;
    sh->data = data;
    /* Only clear/inherit apply here: the dev vars are in shell-init. */
    sandbox_env(ctx->cfg, CTX_DEV, false, NULL, &env);
    o.argv = argv;
    o.env = (const char *const *)env.v;
    o.root = root;
    o.cover = sandbox_cover;
    o.cwd = "/";
    o.in = o.out = o.err = PROC_IO_INHERIT;
    slave = devshell_pty(sh, ctx->loop, root);
    if (slave >= 0) {
        /* On a terminal: the shell's own session on a pty of the sandbox. */
        o.in = o.out = o.err = PROC_IO_FD;
        o.fd[0] = o.fd[1] = o.fd[2] = slave;
        o.setsid = o.ctty = true;
    }
    if (sandbox_cmd_cgroup(root, &sh->cg, &lc) == 0)
        o.cgroup = &lc;
    sh->proc = proc_spawn(ctx->loop, &o, &cbs, e);
    if (slave >= 0)
        close(slave);
    strv_free(&env);
    if (!sh->proc) {
        devshell_free(sh);
        return NULL;
    }
    return sh;
}

void devshell_free(struct devshell *sh)
{
    struct err e;
    if (!sh)
        return;
    proc_free(sh->proc);
    ptyrelay_free(sh->relay);
    /* An init that reported the end is only exiting: nothing to kill. */
    if (sh->cg && cgroup_job_populated_but_inits(sh->cg, &e) != 0 &&
        cgroup_job_kill(sh->cg, &e) < 0)
        log_debug("%s", e.msg);
    cgroup_job_free(sh->cg);
    free(sh);
}

pid_t devshell_pid(const struct devshell *sh)
{
    return sh->proc ? proc_pid(sh->proc) : 0;
}
