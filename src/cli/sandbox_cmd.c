/* bob sandbox create | list | destroy | shell | run */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "loop/runstate.h"
#include "cli/sbx_cmd.h"

static const char sandbox_help[] =
    "usage: bob [-c FILE] sandbox create [-n N]\n"
    "       bob [-c FILE] sandbox list\n"
    "       bob [-c FILE] sandbox destroy -a | ID...\n"
    "       bob [-c FILE] sandbox shell\n"
    "       bob [-c FILE] sandbox run [--log FILE] ID -- CMD [ARG...]\n"
    "\n"
    "create   creates N sandboxes (default 1) in parallel under sandboxes.basedir and\n"
    "         prints their paths on stdout, in ascending id order. Ctrl+C rolls back\n"
    "         everything it made (exit 130).\n"
    "list     prints \"<path>\" or \"<path> (incomplete)\" for every sandbox, with\n"
    "         \" (in use by pid N)\" when a running bob holds it.\n"
    "destroy  destroys every sandbox (-a) or the given ids (unknown ids are skipped):\n"
    "         kills what runs inside, undoes the setup actions in reverse, unmounts\n"
    "         whatever is left and removes the files on the sandbox's own mount,\n"
    "         never crossing into a bind mount. Ctrl+C does not stop a destroy.\n"
    "         A sandbox another bob holds is refused and left as it is (exit 1).\n"
    "shell    (alias exec) creates a dev sandbox, runs the pre-build (bootstrap kit,\n"
    "         hooks), an interactive shell in it, then the post-build, and destroys\n"
    "         it however the shell ends.\n"
    "run      runs CMD in sandbox ID with the build environment, passing its output\n"
    "         through (and, with --log FILE, appending it to FILE); exits with CMD's\n"
    "         status (128+N for signal N). Whatever CMD left running in the sandbox is\n"
    "         killed when it exits; Ctrl+C kills CMD and all it started (exit 130).\n"
    "\n"
    "Sandbox commands need root.\n";

static void on_signal(enum run_state state, int signum, void *data)
{
    struct sbx_cmd *c = data;
    char what[512];
    if (c->done || !c->batch)
        return;
    if (c->destroying) {
        sandbox_batch_describe(c->batch, what, sizeof(what));
        fprintf(stderr, "\nInterrupted: finishing the destroy first%s%s\n", what[0] ? ": " : "",
                what);
        return;
    }
    fprintf(stderr, "\nInterrupted, rolling back...\n");
    sandbox_batch_cancel(c->batch);
}

static void on_created(struct sbx_batch *b, void *data)
{
    struct sbx_cmd *c = data;
    c->done = true;
}

/* Prints the error of each failed sandbox of a batch; returns how many failed. */
size_t sbx_print_errors(const struct sbx_batch *b)
{
    size_t failed = 0;
    for (size_t i = 0; i < sandbox_batch_size(b); i++) {
        const char *msg = sandbox_batch_error(b, i);
        if (msg) {
            fprintf(stderr, "%s\n", msg);
            failed++;
        }
    }
    return failed;
}

static int sandbox_create_cmd(struct cli *cli, int argc, char **argv)
{
    struct sbx_cmd c;
    unsigned long n = 1;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--count") == 0) && i + 1 < argc) {
            if (!str_to_uint(argv[++i], &n) || n > 4096) {
                fprintf(stderr, "bob sandbox create: -n needs a number from 1 to 4096, not '%s'\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "bob sandbox create: unexpected argument '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (n == 0) {
        cli_error("--count must be at least 1");
        return EXIT_ERROR;
    }
    if ((r = sbx_cmd_init(&c, cli, "bob sandbox create", CTX_BUILD)) != EXIT_OK)
        return r;
    runstate_start(&c.loop, true, on_signal, &c);
    if (n == 1)
        cli_status_begin("Creating sandbox");
    else
        cli_status_begin("Creating %lu sandboxes", n);
    c.batch = sandbox_create(&c.ctx, n, on_created, &c);
    sbx_cmd_run_loop(&c);
    r = sandbox_batch_status(c.batch);
    cli_status_end(r == 0, 0);
    if (r == 0) {
        for (size_t i = 0; i < sandbox_batch_size(c.batch); i++) {
            char *p = sandbox_path(&c.cfg, sandbox_batch_id(c.batch, i));
            printf("%s\n", p);
            free(p);
        }
        r = EXIT_OK;
    } else {
        sbx_print_errors(c.batch);
        if (sandbox_batch_cancelled(c.batch)) {
            fprintf(stderr, "Interrupted: everything created was rolled back\n");
            r = EXIT_INTERRUPTED;
        } else {
            cli_error("Failed to create %lu sandbox%s", n, n == 1 ? "" : "es");
            r = EXIT_ERROR;
        }
    }
    sandbox_batch_free(c.batch);
    sbx_cmd_free(&c);
    return r;
}

static int sandbox_list_cmd(struct cli *cli, int argc, char **argv)
{
    struct sbx_cmd c;
    unsigned *ids;
    size_t n;
    struct err e;
    int r;
    if (argc > 1) {
        fprintf(stderr, "bob sandbox list: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    if ((r = sbx_cmd_init(&c, cli, NULL, CTX_BUILD)) != EXIT_OK)
        return r;
    if (sandbox_discover(&c.cfg, &ids, &n, &e) < 0) {
        cli_error("%s", e.msg);
        sbx_cmd_free(&c);
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        char *p = sandbox_path(&c.cfg, ids[i]);
        pid_t holder = sandbox_holder(&c.cfg, ids[i]);
        printf("%s%s", p, sandbox_is_complete(&c.cfg, ids[i]) ? "" : " (incomplete)");
        if (holder > 0)
            printf(" (in use by pid %ld)", (long)holder);
        printf("\n");
        free(p);
    }
    free(ids);
    sbx_cmd_free(&c);
    return EXIT_OK;
}

static int sandbox_destroy_cmd(struct cli *cli, int argc, char **argv)
{
    struct sbx_cmd c;
    bool all = false;
    unsigned *found, *ids;
    size_t nfound, n = 0;
    struct strv wanted = {0};
    struct err e;
    int r;
    for (int i = 1; i < argc; i++) {
        unsigned long v;
        if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--all") == 0) {
            all = true;
        } else if (str_to_uint(argv[i], &v)) {
            strv_push(&wanted, argv[i]);
        } else {
            fprintf(stderr, "bob sandbox destroy: '%s' is not a sandbox id\n", argv[i]);
            strv_free(&wanted);
            return EXIT_USAGE;
        }
    }
    if (all == (wanted.n > 0)) {
        fprintf(stderr, "bob sandbox destroy: give either -a or one or more ids\n");
        strv_free(&wanted);
        return EXIT_USAGE;
    }
    if ((r = sbx_cmd_init(&c, cli, "bob sandbox destroy", CTX_BUILD)) != EXIT_OK) {
        strv_free(&wanted);
        return r;
    }
    if (all)
        sandbox_prune_unmarked(&c.cfg);
    if (sandbox_discover(&c.cfg, &found, &nfound, &e) < 0) {
        cli_error("%s", e.msg);
        strv_free(&wanted);
        sbx_cmd_free(&c);
        return EXIT_ERROR;
    }
    ids = xcalloc(nfound ? nfound : 1, sizeof(*ids));
    for (size_t i = 0; i < nfound; i++) {
        char num[24];
        snprintf(num, sizeof(num), "%u", found[i]);
        if (all || strv_contains(&wanted, num))
            ids[n++] = found[i];
        else {
            /* "07" names sandbox 7 too. */
            for (size_t j = 0; j < wanted.n; j++) {
                unsigned long v;
                if (str_to_uint(wanted.v[j], &v) && v == found[i]) {
                    ids[n++] = found[i];
                    break;
                }
            }
        }
    }
    free(found);
    strv_free(&wanted);
    if (n == 0) {
        free(ids);
        sbx_cmd_free(&c);
        return EXIT_OK;
    }
    c.destroying = true;
    runstate_start(&c.loop, true, on_signal, &c);
    if (n == 1)
        cli_status_begin("Destroying sandbox");
    else
        cli_status_begin("Destroying %zu sandboxes", n);
    c.batch = sandbox_destroy(&c.ctx, ids, n, true, on_created, &c);
    sbx_cmd_run_loop(&c);
    free(ids);
    r = sandbox_batch_status(c.batch);
    cli_status_end(r == 0, 0);
    if (r == 0) {
        r = runstate_get() != RUN_RUNNING ? EXIT_INTERRUPTED : EXIT_OK;
    } else {
        size_t failed = sbx_print_errors(c.batch);
        cli_error("Failed to destroy %zu sandbox%s.\nRemove unexpected files, then try again.",
                  failed, failed == 1 ? "" : "es");
        r = EXIT_ERROR;
    }
    sandbox_batch_free(c.batch);
    sbx_cmd_free(&c);
    return r;
}

int cmd_sandbox(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs(sandbox_help, stderr);
        return EXIT_USAGE;
    }
    if (cli_wants_help(argc, argv)) {
        fputs(sandbox_help, stdout);
        return EXIT_OK;
    }
    argc--;
    argv++;
    if (strcmp(argv[0], "create") == 0)
        return sandbox_create_cmd(cli, argc, argv);
    if (strcmp(argv[0], "list") == 0)
        return sandbox_list_cmd(cli, argc, argv);
    if (strcmp(argv[0], "destroy") == 0)
        return sandbox_destroy_cmd(cli, argc, argv);
    if (strcmp(argv[0], "shell") == 0 || strcmp(argv[0], "exec") == 0)
        return sandbox_shell_cmd(cli, argc, argv);
    if (strcmp(argv[0], "run") == 0)
        return sandbox_run_cmd(cli, argc, argv);
    fprintf(stderr, "bob sandbox: unknown subcommand '%s'\n\n%s", argv[0], sandbox_help);
    return EXIT_USAGE;
}
