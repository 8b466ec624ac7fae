/* bob history: each job across builds, with outcome, duration and per-stage times. */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/statecmd.h"

static const char history_help[] =
    "usage: bob [-c FILE] history [-f table|csv|json] [-H] [-o COLUMNS] [PATTERN]\n"
    "\n"
    "Prints every recorded run of the jobs whose name matches PATTERN (a shell\n"
    "glob, default *), across builds: build id, job, outcome, failed stage,\n"
    "duration in seconds, the wall time of each stage (stage=seconds) and the CPU\n"
    "time (user + system) of each stage's processes (cpu: stage=seconds; from the\n"
    "job's cgroup, else from the rusage of the stage's reaped processes).\n"
    "\n" STATECMD_ROW_HELP;

int cmd_history(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, STATECMD_ROW_LONGOPTS, {NULL, 0, NULL, 0}};
    struct statecmd_print p = {STATECMD_TABLE, false, NULL};
    struct config cfg;
    struct state *st;
    struct state_rows rows;
    struct err e;
    const char *args[1];
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob history", argc, argv,
                            ":" CLI_COMMON_SHORTOPTS "f:Ho:", longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'f':
        case 'H':
        case 'o':
            if (!statecmd_print_opt("bob history", rc, optarg, &p))
                return EXIT_USAGE;
            continue;
        case CLI_OPT_HELP:
            fputs(history_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "bob history: one PATTERN at most\n%s", history_help);
        return EXIT_USAGE;
    }
    if ((rc = statecmd_open(cli, "bob history", false, &cfg, &st)) != EXIT_OK)
        return rc;
    args[0] = optind < argc ? argv[optind] : "*";
    if (state_query(st,
                    "SELECT build, job, status, CASE WHEN status='failed' THEN stage END AS stage,"
                    " round(duration/1000.0, 1) AS duration,"
                    " (SELECT group_concat(stage || '=' || printf('%.1f', wall/1000.0), ' ')"
                    "  FROM (SELECT * FROM stages s WHERE s.build=j.build AND s.job=j.job"
                    "  AND wall IS NOT NULL ORDER BY started)) AS stages,"
                    " (SELECT group_concat(stage || '=' || printf('%.1f', cpu/1000.0), ' ')"
                    "  FROM (SELECT * FROM stages s WHERE s.build=j.build AND s.job=j.job"
                    "  AND cpu IS NOT NULL ORDER BY started)) AS cpu"
                    " FROM jobs j WHERE job GLOB ?1 AND status NOT IN ('pending')"
                    " ORDER BY job, build",
                    args, 1, &rows, &e) < 0) {
        cli_error("%s", e.msg);
        rc = EXIT_ERROR;
    } else {
        rc = statecmd_print(stdout, &rows, &p, "bob history");
        state_rows_free(&rows);
    }
    state_close(st);
    config_free(&cfg);
    return rc;
}
