/* bob status: every job of the current build, with its status, stage, reason and duration. */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/statecmd.h"

static const char status_help[] =
    "usage: bob [-c FILE] status [-f table|csv|json] [-H] [-o COLUMNS] [PATTERN]\n"
    "\n"
    "Prints every job of the current build (the one bob build resumes or last\n"
    "ran) whose name matches PATTERN (a shell glob, default *): its status\n"
    "(succeeded, failed, skipped, up-to-date, pending, running, interrupted),\n"
    "stage, reason and duration in seconds. While a build runs, each running job\n"
    "shows its stage and elapsed time. Works from another terminal at any time.\n"
    "\n"
    "  -f, --format table|csv|json  output format (json: one array of objects)\n"
    "  -H, --no-header              no header line\n"
    "  -o, --columns A,B,...        these columns, in this order (job, status, stage,\n"
    "                               reason, duration, sandbox, blocker, log)\n";

int cmd_status(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, STATECMD_ROW_LONGOPTS, {NULL, 0, NULL, 0}};
    struct statecmd_print p = {STATECMD_TABLE, false, NULL};
    struct config cfg;
    struct state *st;
    struct state_rows rows;
    struct err e;
    char now[64], id[32];
    const char *args[4];
    int64_t cur;
    bool finished, running;
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob status", argc, argv,
                            ":" CLI_COMMON_SHORTOPTS "f:Ho:", longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'f':
        case 'H':
        case 'o':
            if (!statecmd_print_opt("bob status", rc, optarg, &p))
                return EXIT_USAGE;
            continue;
        case CLI_OPT_HELP:
            fputs(status_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "bob status: one PATTERN at most\n%s", status_help);
        return EXIT_USAGE;
    }
    if ((rc = statecmd_open(cli, "bob status", false, &cfg, &st)) != EXIT_OK)
        return rc;
    rc = EXIT_ERROR;
    if (state_current(st, &cur, &finished, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (!cur) {
        cli_error("no current build in %s (bob build starts one; bob list shows the past ones)",
                  cfg.dbdir);
        goto out;
    }
    running = state_locked_by_other(st);
    statecmd_now(now, sizeof(now));
    snprintf(id, sizeof(id), "%lld", (long long)cur);
    args[0] = now;
    args[1] = running ? "1" : "0";
    args[2] = id;
    args[3] = optind < argc ? argv[optind] : "*";
    if (state_query(st,
                    "SELECT job, CASE WHEN status='running' AND ?2='0' THEN 'interrupted'"
                    " ELSE status END AS status, stage, reason,"
                    " round(CASE WHEN status='running' THEN (CAST(?1 AS REAL)-started)/1000.0"
                    " ELSE duration/1000.0 END, 1) AS duration, sandbox, blocker, log"
                    " FROM jobs WHERE build=CAST(?3 AS INTEGER) AND job GLOB ?4 ORDER BY seq",
                    args, 4, &rows, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (p.format == STATECMD_TABLE && !p.no_header)
        fprintf(stderr, "Build %lld: %s\n", (long long)cur,
                running    ? "running"
                : finished ? "finished"
                           : "unfinished (bob build resumes it)");
    rc = statecmd_print(stdout, &rows, &p, "bob status");
    state_rows_free(&rows);
out:
    state_close(st);
    config_free(&cfg);
    return rc;
}
