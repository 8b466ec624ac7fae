/* bob sandbox shell (alias exec): an interactive shell in a new dev sandbox. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/sbx_cmd.h"
#include "sandbox/devshell.h"
#include "sandbox/pipeline.h"

static const char shell_help[] =
    "usage: bob [-c FILE] sandbox shell [ID]\n"
    "       bob [-c FILE] sandbox exec [ID]\n"
    "\n"
    "Without ID: creates a dev sandbox, runs the pre-build (bootstrap kit, hooks),\n"
    "an interactive shell in it, then the post-build, and destroys it however the\n"
    "shell ends.\n"
    "With ID: enters the existing sandbox ID (bob sandbox create, or one a build\n"
    "kept) as it is, with no pre- or post-build, and leaves it there afterwards;\n"
    "it is locked meanwhile, so that no other bob uses or destroys it.\n"
    "\n"
    "On a terminal the shell gets a pty of the sandbox; otherwise it reads its\n"
    "commands from standard input. bob exits with the shell's exit status (1 when\n"
    "the sandbox could not be made or entered, 130 interrupted). Needs root.\n";

/* The command: create a sandbox, run the pipeline with the shell as its work, destroy. */
struct shcmd {
    struct sbx_cmd c;
    unsigned id;
    char *root;
    bool created, destroying;
    struct pipeline *pl;
    struct devshell *sh;
    int shell_status;
    bool failed, interrupted;
    bool entered; /* shell ID: an existing sandbox, entered as it is */
    double started;
};

/* The sandbox is created, or destroyed. */
static void shcmd_on_batch(struct sbx_batch *b, void *data);

/* Prints what the pipeline begins. */
static void shcmd_step(struct pipeline *p, enum pipeline_step step, void *data)
{
    struct shcmd *s = data;
    if (step == PIPELINE_PRE) {
        s->started = now_ms();
        cli_status_begin("Preparing sandbox %u", s->id);
    }
}

/* Prints how a part of the pipeline ended. */
static void shcmd_ended(struct pipeline *p, enum pipeline_step step, int status,
                        const struct err *e, void *data)
{
    struct shcmd *s = data;
    if (step == PIPELINE_PRE) {
        cli_status_end(status == 0, s->started);
        if (status < 0) {
            cli_error("%s", e->msg);
            s->failed = true;
        }
    } else if (status < 0) {
        if (step == PIPELINE_KILL)
            fprintf(stderr, "bob: %s\n", e->msg);
        else
            fprintf(stderr, "Warning: %s\n", e->msg);
    }
}

/* The shell exited: the pipeline goes on (or, in an entered sandbox, we are done). */
static void shcmd_on_shell(struct devshell *sh, int status, void *data)
{
    struct shcmd *s = data;
    s->shell_status = status;
    devshell_free(sh);
    s->sh = NULL;
    if (s->shell_status != 0 && !s->interrupted)
        fprintf(stderr, "Shell exited with exit status: %d\n", s->shell_status);
    if (s->pl)
        pipeline_work_done(s->pl, 0);
}

/* shell ID: the shell in the existing sandbox s->id, which stays as it is. */
static void shcmd_enter(struct shcmd *s)
{
    struct err e;
    struct stat st;
    s->entered = true;
    s->root = sandbox_path(&s->c.cfg, s->id);
    if (lstat(s->root, &st) != 0 || !S_ISDIR(st.st_mode) ||
        !sandbox_is_complete(&s->c.cfg, s->id)) {
        cli_error("sandbox %u does not exist or is incomplete (see bob sandbox list)", s->id);
        s->failed = true;
        return;
    }
    /* Held while the shell runs: no other bob destroys it or runs in it. */
    if (sandbox_lock(&s->c.ctx, s->id, &e) < 0 ||
        devshell_write_init(&s->c.ctx, s->root, s->id, &e) < 0) {
        cli_error("%s", e.msg);
        s->failed = true;
        return;
    }
    fprintf(stderr, "Entering sandbox %s...\n", s->root);
    s->sh = devshell_start(&s->c.ctx, s->root, shcmd_on_shell, s, &e);
    if (!s->sh) {
        cli_error("%s", e.msg);
        s->failed = true;
    }
}

/* The pipeline's work: the shell. */
static void shcmd_work(struct pipeline *p, void *data)
{
    struct shcmd *s = data;
    struct err e;
    if (s->interrupted) {
        pipeline_work_done(p, 0);
        return;
    }
    if (devshell_write_init(&s->c.ctx, s->root, s->id, &e) < 0) {
        cli_error("%s", e.msg);
        s->failed = true;
        pipeline_work_done(p, 0);
        return;
    }
    fprintf(stderr, "Entering sandbox %s...\n", s->root);
    s->sh = devshell_start(&s->c.ctx, s->root, shcmd_on_shell, s, &e);
    if (!s->sh) {
        cli_error("%s", e.msg);
        s->failed = true;
        pipeline_work_done(p, 0);
    }
}

/* The post-build is over: destroy the sandbox. */
static void shcmd_done(struct pipeline *p, void *data)
{
    struct shcmd *s = data;
    unsigned ids[1] = {s->id};
    pipeline_free(p);
    s->pl = NULL;
    s->destroying = true;
    s->started = now_ms();
    cli_status_begin("Destroying sandbox");
    sandbox_batch_free(s->c.batch);
    s->c.batch = sandbox_destroy(&s->c.ctx, ids, 1, false, shcmd_on_batch, s);
}

static const struct pipeline_ops shcmd_ops = {shcmd_step, shcmd_ended, shcmd_work, shcmd_done};

static void shcmd_on_batch(struct sbx_batch *b, void *data)
{
    struct shcmd *s = data;
    bool ok = sandbox_batch_status(b) == 0;
    cli_status_end(ok, s->started);
    if (!ok) {
        sbx_print_errors(b);
        s->failed = true;
    }
    if (s->destroying || !ok)
        return;
    s->created = true;
    s->id = sandbox_batch_id(b, 0);
    s->root = sandbox_path(&s->c.cfg, s->id);
    s->pl = pipeline_new(&s->c.ctx, s->root, true, &shcmd_ops, s);
    if (s->interrupted)
        pipeline_cancel(s->pl);
    pipeline_start(s->pl);
}

static void shcmd_on_signal(enum run_state state, int signum, void *data)
{
    struct shcmd *s = data;
    /* Ctrl+C at the shell's prompt is the shell's business. */
    if (s->sh && signum == SIGINT)
        return;
    if (s->interrupted)
        return;
    s->interrupted = true;
    if (s->entered) {
        /* The shell's init leads its pid namespace: all of it goes. */
        if (s->sh && devshell_pid(s->sh) > 0)
            kill(devshell_pid(s->sh), SIGKILL);
        return;
    }
    if (!s->created) {
        sandbox_batch_cancel(s->c.batch);
        return;
    }
    if (!s->pl)
        return; /* the destroy finishes whatever happens */
    pipeline_cancel(s->pl);
    if (s->sh)
        pipeline_kill(s->pl, devshell_pid(s->sh));
}

int cmd_sandbox_shell(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    struct shcmd s;
    int rc;
    optind = 0;
    while ((rc = cli_getopt(cli, "bob sandbox shell", argc, argv, ":" CLI_COMMON_SHORTOPTS,
                            longopts)) != CLI_OPT_END) {
        if (rc == CLI_OPT_HELP) {
            fputs(shell_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    memset(&s, 0, sizeof(s));
    if (optind < argc) {
        unsigned long id;
        if (!str_to_uint(argv[optind], &id) || id > UINT_MAX) {
            fprintf(stderr, "bob sandbox shell: %s: not a sandbox id\n", argv[optind]);
            return EXIT_USAGE;
        }
        if (optind + 1 < argc) {
            fprintf(stderr, "bob sandbox shell: unexpected argument '%s'\n", argv[optind + 1]);
            return EXIT_USAGE;
        }
        s.id = (unsigned)id;
        s.entered = true;
    }
    if ((rc = sbx_cmd_init(&s.c, cli, "bob sandbox shell", CTX_DEV)) != EXIT_OK)
        return rc;
    if ((rc = sbx_cmd_watch(&s.c, true, shcmd_on_signal, &s)) != EXIT_OK) {
        sbx_cmd_free(&s.c);
        return rc;
    }
    if (s.entered) {
        shcmd_enter(&s);
    } else {
        s.started = now_ms();
        cli_status_begin("Creating sandbox");
        s.c.batch = sandbox_create(&s.c.ctx, 1, shcmd_on_batch, &s);
    }
    sbx_cmd_run_loop(&s.c);
    sandbox_batch_free(s.c.batch);
    free(s.root);
    sbx_cmd_free(&s.c);
    if (s.interrupted)
        return EXIT_INTERRUPTED;
    if (s.failed)
        return EXIT_ERROR;
    /* The shell's own status (128+N for a signal), as a shell's caller sees it. */
    return s.shell_status;
}
