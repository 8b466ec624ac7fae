/* bob build */
#include <stdio.h>

#include "cli/cli.h"

static const char build_help[] =
    "usage: bob [-c FILE] build [--format text|json] [--events FILE|-] [JOB...]\n"
    "\n"
    "Builds the jobs of the configuration in sandboxes.\n";

int cmd_build(struct cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(build_help, stdout);
        return EXIT_OK;
    }
    cli_error("bob build is not implemented yet");
    return EXIT_ERROR;
}
