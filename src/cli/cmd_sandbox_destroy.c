/* bob sandbox destroy: destroys every sandbox, or the given ones. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/sbx_cmd.h"

static const char destroy_help[] =
    "usage: bob [-c FILE] sandbox destroy -a | ID...\n"
    "\n"
    "Destroys every sandbox (-a, --all) or the given ids (an id that names no\n"
    "sandbox is an error, after the others are destroyed):\n"
    "kills what runs inside, undoes the setup actions in reverse, unmounts\n"
    "whatever is left and removes the files on the sandbox's own mount, never\n"
    "crossing into a bind mount. Ctrl+C does not stop a destroy. Needs root.\n";

int cmd_sandbox_destroy(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, {"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    struct sbx_cmd c;
    bool all = false, missing = false;
    unsigned *found, *ids;
    size_t nfound, n = 0;
    struct strv wanted = {0};
    struct err e;
    int r;
    optind = 0;
    while ((r = cli_getopt(cli, "bob sandbox destroy", argc, argv, ":" CLI_COMMON_SHORTOPTS "a",
                           longopts)) != CLI_OPT_END) {
        if (r == 'a') {
            all = true;
            continue;
        }
        if (r == CLI_OPT_HELP) {
            fputs(destroy_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        unsigned long v;
        if (!str_to_uint(argv[i], &v)) {
            fprintf(stderr, "bob sandbox destroy: '%s' is not a sandbox id\n", argv[i]);
            strv_free(&wanted);
            return EXIT_USAGE;
        }
        strv_push(&wanted, argv[i]);
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
    /* Each id that names no sandbox is said. */
    for (size_t j = 0; j < wanted.n; j++) {
        unsigned long v;
        bool known = false;
        str_to_uint(wanted.v[j], &v);
        for (size_t i = 0; i < nfound && !known; i++)
            known = v == found[i];
        if (!known) {
            cli_error("sandbox %s: no such sandbox", wanted.v[j]);
            missing = true;
        }
    }
    free(found);
    strv_free(&wanted);
    if (n == 0) {
        free(ids);
        sbx_cmd_free(&c);
        return missing ? EXIT_ERROR : EXIT_OK;
    }
    c.destroying = true;
    if ((r = sbx_cmd_watch(&c, true, sbx_cmd_on_signal, &c)) != EXIT_OK) {
        free(ids);
        sbx_cmd_free(&c);
        return r;
    }
    if (n == 1)
        cli_status_begin("Destroying sandbox");
    else
        cli_status_begin("Destroying %zu sandboxes", n);
    c.batch = sandbox_destroy(&c.ctx, ids, n, true, sbx_cmd_on_batch, &c);
    sbx_cmd_run_loop(&c);
    free(ids);
    r = sandbox_batch_status(c.batch);
    cli_status_end(r == 0, 0);
    if (r == 0) {
        r = c.end_state != RUN_RUNNING ? EXIT_INTERRUPTED : missing ? EXIT_ERROR : EXIT_OK;
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
