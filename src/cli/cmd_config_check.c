/* bob config check: loads and validates the configuration. */
#include <stdio.h>

#include "cli/commands.h"

static const char config_check_help[] =
    "usage: bob [-c FILE] config check\n"
    "\n"
    "Loads and validates the configuration; warnings and errors go to stderr;\n"
    "exit 0 when it is valid, 1 when it is not.\n";

int cmd_config_check(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    struct config cfg;
    int o;
    optind = 0;
    while ((o = cli_getopt(cli, "bob config check", argc, argv, ":" CLI_COMMON_SHORTOPTS,
                           longopts)) != CLI_OPT_END) {
        if (o == CLI_OPT_HELP) {
            fputs(config_check_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "bob config check: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (cli_load_config(cli, &cfg) < 0)
        return EXIT_ERROR;
    fprintf(stderr, "%s: valid (%zu setup action%s, %zu hook%s, %zu job%s)\n", cfg.path,
            cfg.setup.n, cfg.setup.n == 1 ? "" : "s", cfg.hooks.n, cfg.hooks.n == 1 ? "" : "s",
            cfg.njobs, cfg.njobs == 1 ? "" : "s");
    config_free(&cfg);
    return EXIT_OK;
}
