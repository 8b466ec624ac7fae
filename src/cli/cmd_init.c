/* bob init: writes the bundled default configuration. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"

static const char init_help[] =
    "usage: bob [-c FILE] init\n"
    "\n"
    "Writes the bundled default configuration for this operating system to FILE\n"
    "(default: $XDG_CONFIG_HOME/bob/config.lua), creating its directory.\n"
    "Fails if the file exists.\n";

int cmd_init(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    char *path;
    struct err e;
    int o;
    optind = 0;
    while ((o = cli_getopt(cli, "bob init", argc, argv, ":" CLI_COMMON_SHORTOPTS, longopts)) !=
           CLI_OPT_END) {
        if (o == CLI_OPT_HELP) {
            fputs(init_help, stdout);
            return EXIT_OK;
        }
        fputs(init_help, stderr);
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "bob init: unexpected argument '%s'\n%s", argv[optind], init_help);
        return EXIT_USAGE;
    }
    path = cli->config_path ? xstrdup(cli->config_path) : config_default_path();
    if (config_init(path, &e) < 0) {
        cli_error("%s", e.msg);
        free(path);
        return EXIT_ERROR;
    }
    printf("Created %s\n", path);
    free(path);
    return EXIT_OK;
}
