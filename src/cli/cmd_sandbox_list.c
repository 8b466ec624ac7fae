/* bob sandbox list: the sandboxes, complete or not. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/sbx_cmd.h"

static const char list_help[] = "usage: bob [-c FILE] sandbox list\n"
                                "\n"
                                "Prints \"<path>\" or \"<path> (incomplete)\" for every sandbox.\n";

int cmd_sandbox_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    struct sbx_cmd c;
    unsigned *ids;
    size_t n;
    struct err e;
    int r;
    optind = 0;
    while ((r = cli_getopt(cli, "bob sandbox list", argc, argv, ":" CLI_COMMON_SHORTOPTS,
                           longopts)) != CLI_OPT_END) {
        if (r == CLI_OPT_HELP) {
            fputs(list_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "bob sandbox list: unexpected argument '%s'\n", argv[optind]);
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
