/* bob sandbox run: a command in an existing sandbox. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/sbx_cmd.h"
#include "loop/capture.h"
#include "loop/proc.h"
#include "sandbox/exec.h"
#include "sandbox/pipeline.h"

struct run {
    struct sbx_cmd c;
    char *root;
    struct proc *proc;
    struct pipeline *pl; /* no pre/post-build: CMD, then a kill of what it started */
    pid_t pgid;
    bool out_closed[2];
    struct capture log;
    bool logging;
    int status;
    bool interrupted;
};

/* Writes all of buf to fd; false when the reader went away (EPIPE). */
static bool run_write_all(int fd, const char *buf, size_t n)
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
    if (!r->out_closed[stream - 1] && !run_write_all(stream, buf, n))
        r->out_closed[stream - 1] = true; /* keep draining, quietly */
    if (r->logging)
        capture_add(&r->log, buf, n);
}

/* A kill of what CMD started failed. */
static void run_ended(struct pipeline *p, enum pipeline_step step, int status, const struct err *e,
                      void *data)
{
    if (status < 0)
        fprintf(stderr, "bob: %s\n", e->msg);
}

/* The pipeline's work is CMD, started before the pipeline: nothing to do here. */
static void run_work(struct pipeline *p, void *data)
{
}

/* What CMD started is gone. */
static void run_done(struct pipeline *p, void *data)
{
    struct run *r = data;
    pipeline_free(p);
    r->pl = NULL;
}

static const struct pipeline_ops run_ops = {NULL, run_ended, run_work, run_done};

static void run_on_linger(struct proc *p, void *data)
{
    struct run *r = data;
    /* CMD has exited, something it started still holds the output. */
    pipeline_kill(r->pl, r->pgid);
}

static void run_on_exit(struct proc *p, void *data)
{
    struct run *r = data;
    r->status = proc_shell_status(p);
    proc_free(p);
    r->proc = NULL;
    /* Nothing CMD started outlives it. */
    pipeline_work_done(r->pl, r->pgid);
}

/* Ctrl+C kills CMD and all it started (not what was in the sandbox before it). */
static void run_on_signal(enum run_state state, int signum, void *data)
{
    struct run *r = data;
    r->interrupted = true;
    if (r->proc)
        pipeline_kill(r->pl, r->pgid);
}

static const char run_help[] =
    "usage: bob [-c FILE] sandbox run [--log FILE] ID -- CMD [ARG...]\n"
    "\n"
    "Runs CMD in sandbox ID with the build environment, passing its output\n"
    "through (and, with --log FILE, appending it to FILE); exits with CMD's\n"
    "status (128+N for signal N). Whatever CMD left running in the sandbox is\n"
    "killed when it exits; Ctrl+C kills CMD and all it started (exit 130).\n"
    "Options go before ID; everything after it is CMD's. Needs root.\n"
    "\n"
    "  -l, --log FILE  append CMD's output to FILE too\n";

int cmd_sandbox_run(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, {"log", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
    struct run r;
    const char *logpath = NULL;
    unsigned long id;
    int cmd, rc;
    struct strv env = {0};
    struct proc_opts o = {0};
    struct cgroup_job *cg = NULL;
    struct launch_cgroup lc;
    struct proc_cbs cbs = {run_on_data, run_on_exit, run_on_linger, &r};
    struct err e;
    struct stat st;

    /* "+": options stop at ID, so that CMD's own options stay CMD's. */
    optind = 0;
    while ((rc = cli_getopt(cli, "bob sandbox run", argc, argv,
                            "+:" CLI_COMMON_SHORTOPTS "l:", longopts)) != CLI_OPT_END) {
        if (rc == 'l') {
            logpath = optarg;
            continue;
        }
        if (rc == CLI_OPT_HELP) {
            fputs(run_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    cmd = optind;
    if (cmd < argc && strcmp(argv[cmd], "--") != 0 && !str_to_uint(argv[cmd], &id)) {
        fprintf(stderr, "bob sandbox run: %s: not a sandbox id\n", argv[cmd]);
        return EXIT_USAGE;
    }
    if (cmd < argc && str_to_uint(argv[cmd], &id)) {
        cmd++;
        if (cmd < argc && strcmp(argv[cmd], "--") == 0)
            cmd++;
    } else {
        cmd = argc;
    }
    if (cmd >= argc) {
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
    if (logpath && capture_open(&r.log, logpath, NULL, CAPTURE_NO_RING, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    r.logging = logpath != NULL;
    {
        struct strv extra = {0};
        char idbuf[16];
        for (size_t i = 0; i < r.c.ctx.env.n; i++)
            strv_push(&extra, r.c.ctx.env.v[i]);
        snprintf(idbuf, sizeof(idbuf), "%lu", id);
        env_setkv(&extra, "bob_job", "");
        env_setkv(&extra, "bob_stage", "run");
        env_setkv(&extra, "bob_sandbox_id", idbuf);
        sandbox_env(&r.c.cfg, CTX_BUILD, true, &extra, &env);
        strv_free(&extra);
    }
    o.argv = (const char *const *)argv + cmd;
    o.env = (const char *const *)env.v;
    o.root = r.root;
    o.cover = sandbox_cover;
    o.cwd = "/";
    o.setsid = true;
    o.in = PROC_IO_INHERIT;
    o.out = PROC_IO_PIPE;
    o.err = PROC_IO_PIPE;
    o.drain_ms = 1000;
    if ((rc = sbx_cmd_watch(&r.c, true, run_on_signal, &r)) != EXIT_OK) {
        strv_free(&env);
        goto out_log;
    }
    rc = EXIT_ERROR;
    if (sandbox_cmd_cgroup(r.root, &cg, &lc) == 0)
        o.cgroup = &lc;
    r.proc = proc_spawn(&r.c.loop, &o, &cbs, &e);
    strv_free(&env);
    if (!r.proc) {
        cli_error("%s", e.msg);
        sbx_cmd_run_loop(&r.c);
        goto out_log;
    }
    r.pgid = proc_pid(r.proc);
    r.pl = pipeline_new(&r.c.ctx, r.root, false, &run_ops, &r);
    pipeline_set_cgroup(r.pl, cg);
    pipeline_start(r.pl);
    sbx_cmd_run_loop(&r.c);
    pipeline_free(r.pl); /* NULL unless the loop ended before it did */
    rc = r.interrupted ? EXIT_INTERRUPTED : r.status;
out_log:
    cgroup_job_free(cg); /* empty now: the kill waited for it */
    cg = NULL;
    if (r.logging && capture_close(&r.log, &e) < 0) {
        cli_error("%s", e.msg);
        if (rc == 0)
            rc = EXIT_ERROR;
    }
    r.logging = false;
out:
    cgroup_job_free(cg);
    if (r.logging)
        capture_close(&r.log, &e);
    free(r.root);
    sbx_cmd_free(&r.c);
    return rc;
}
