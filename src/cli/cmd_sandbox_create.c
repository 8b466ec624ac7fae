/* bob sandbox create: creates N sandboxes in parallel, prints their paths. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/sbx_cmd.h"

static const char create_help[] =
    "usage: bob [-c FILE] sandbox create [-n N]\n"
    "\n"
    "Creates N sandboxes (default 1) in parallel under sandboxes.basedir and\n"
    "prints their paths on stdout, in ascending id order. Ctrl+C rolls back\n"
    "everything it made (exit 130). Needs root.\n"
    "\n"
    "  -n, --count N  how many, from 1 to 4096 (-n4, -n 4, --count=4)\n";

int cmd_sandbox_create(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, {"count", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    struct sbx_cmd c;
    unsigned long n = 1;
    int r;
    optind = 0;
    while ((r = cli_getopt(cli, "bob sandbox create", argc, argv,
                           ":" CLI_COMMON_SHORTOPTS "n:", longopts)) != CLI_OPT_END) {
        if (r == 'n') {
            if (!cli_parse_count(optarg, 4096, &n)) {
                fprintf(stderr, "bob sandbox create: -n needs a number from 1 to 4096, not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            continue;
        }
        if (r == CLI_OPT_HELP) {
            fputs(create_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "bob sandbox create: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if ((r = sbx_cmd_init(&c, cli, "bob sandbox create", CTX_BUILD)) != EXIT_OK)
        return r;
    if ((r = sbx_cmd_watch(&c, true, sbx_cmd_on_signal, &c)) != EXIT_OK) {
        sbx_cmd_free(&c);
        return r;
    }
    if (n == 1)
        cli_status_begin("Creating sandbox");
    else
        cli_status_begin("Creating %lu sandboxes", n);
    c.batch = sandbox_create(&c.ctx, n, sbx_cmd_on_batch, &c);
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
