/* bob config show: prints the effective configuration as Lua or JSON. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const char config_show_help[] =
    "usage: bob [-c FILE] config show [--format lua|json]\n"
    "\n"
    "Prints the effective configuration (after only.set filtering) on stdout,\n"
    "as Lua (default) or JSON.\n"
    "\n"
    "  -f, --format lua|json  the output format\n";

int cmd_config_show(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, {"format", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    struct config cfg;
    const char *format = "lua";
    int o;
    optind = 0;
    while ((o = cli_getopt(cli, "bob config show", argc, argv,
                           ":" CLI_COMMON_SHORTOPTS "f:", longopts)) != CLI_OPT_END) {
        if (o == 'f') {
            format = optarg;
            continue;
        }
        if (o == CLI_OPT_HELP) {
            fputs(config_show_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "bob config show: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (strcmp(format, "lua") && strcmp(format, "json")) {
        fprintf(stderr, "bob config show: --format must be lua or json, not '%s'\n", format);
        return EXIT_USAGE;
    }
    if (cli_load_config(cli, &cfg) < 0)
        return EXIT_ERROR;
    if (strcmp(format, "json") == 0)
        config_show_json(&cfg, stdout);
    else
        config_show_lua(&cfg, stdout);
    config_free(&cfg);
    return EXIT_OK;
}
