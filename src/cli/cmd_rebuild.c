/* bob rebuild: the current build again, retrying failed jobs. */
#include <stdlib.h>
#include <string.h>

#include "cli/build_state.h"
#include "cli/commands.h"

static const char rebuild_help[] =
    "usage: bob [-c FILE] rebuild [-a] [--only] [--format text|json] [--events FILE|-]\n"
    "                             [JOB...]\n"
    "\n"
    "Continues the current build, running the given failed jobs again (-a: every\n"
    "failed job) and then the jobs their failure skipped. bob build keeps\n"
    "failures as they are; this is how to retry them.\n"
    "\n"
    "  -a, --all               retry every failed job\n"
    "      --only              run only the named jobs: their dependents stay skipped\n"
    "                          (this may leave packages built against old ones)\n"
    "  -f, --format text|json  the summary as text (default) or one JSON object\n"
    "  -e, --events FILE|-     a JSON line for every event\n";

int cmd_rebuild(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
                                             {"all", no_argument, NULL, 'a'},
                                             {"only", no_argument, NULL, 'O'},
                                             {"format", required_argument, NULL, 'f'},
                                             {"events", required_argument, NULL, 'e'},
                                             {NULL, 0, NULL, 0}};
    struct bstate_opts so = {0};
    const char *format = "text", *events = NULL;
    bool only = false;
    int rc;

    so.rebuild = true;
    optind = 0;
    while ((rc = cli_getopt(cli, "bob rebuild", argc, argv,
                            ":" CLI_COMMON_SHORTOPTS "af:e:", longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'a':
            so.retry_all = true;
            continue;
        case 'O':
            only = true;
            continue;
        case 'f':
            format = optarg;
            continue;
        case 'e':
            events = optarg;
            continue;
        case CLI_OPT_HELP:
            fputs(rebuild_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) {
        fprintf(stderr, "bob rebuild: --format must be text or json, not '%s'\n", format);
        return EXIT_USAGE;
    }
    if (so.retry_all == (optind < argc)) {
        fprintf(stderr, "bob rebuild: give -a or JOB names (not both)\n%s", rebuild_help);
        return EXIT_USAGE;
    }
    if (only && so.retry_all) {
        fprintf(stderr, "bob rebuild: --only needs JOB names\n%s", rebuild_help);
        return EXIT_USAGE;
    }
    so.retry_names = argv + optind;
    so.nretry = (size_t)(argc - optind);
    if (only)
        fprintf(stderr, "Warning: rebuilding without dependents may lead to inconsistent "
                        "packages\n");
    /* --only: the named jobs and what they need; else every job, as bob build. */
    return cmd_build_run(cli, "bob rebuild", strcmp(format, "json") == 0, events,
                         only ? argv + optind : NULL, only ? (size_t)(argc - optind) : 0, &so);
}
