/* bob list: the builds in the database, with id, date, counts and duration. */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/statecmd.h"

static const char list_help[] =
    "usage: bob [-c FILE] list [-f table|csv|json] [-H] [-o COLUMNS]\n"
    "\n"
    "Prints every build recorded in options.dbdir: its id, start date, outcome\n"
    "(succeeded, failed, interrupted, or running/unfinished), its counts and its\n"
    "duration in seconds. The current build is marked with current = 1.\n"
    "\n" STATECMD_ROW_HELP;

int cmd_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, STATECMD_ROW_LONGOPTS, {NULL, 0, NULL, 0}};
    struct statecmd_print p = {STATECMD_TABLE, false, NULL};
    struct config cfg;
    struct state *st;
    struct state_rows rows;
    struct err e;
    char now[64];
    const char *args[2];
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob list", argc, argv,
                            ":" CLI_COMMON_SHORTOPTS "f:Ho:", longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'f':
        case 'H':
        case 'o':
            if (!statecmd_print_opt("bob list", rc, optarg, &p))
                return EXIT_USAGE;
            continue;
        case CLI_OPT_HELP:
            fputs(list_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bob list: no arguments expected\n%s", list_help);
        return EXIT_USAGE;
    }
    if ((rc = statecmd_open(cli, "bob list", false, &cfg, &st)) != EXIT_OK)
        return rc;
    statecmd_now(now, sizeof(now));
    args[0] = now;
    args[1] = state_locked_by_other(st) ? "running" : "unfinished";
    if (state_query(st,
                    "SELECT id, datetime(started/1000, 'unixepoch', 'localtime') AS date,"
                    " coalesce(outcome, ?2) AS outcome,"
                    " (SELECT count(*) FROM jobs WHERE build=b.id) AS jobs,"
                    " (SELECT count(*) FROM jobs WHERE build=b.id AND status='succeeded')"
                    "  AS succeeded,"
                    " (SELECT count(*) FROM jobs WHERE build=b.id AND status='failed') AS failed,"
                    " (SELECT count(*) FROM jobs WHERE build=b.id AND status='skipped')"
                    "  AS skipped,"
                    " (SELECT count(*) FROM jobs WHERE build=b.id AND status='up-to-date')"
                    "  AS \"up-to-date\","
                    " round((coalesce(ended, CAST(?1 AS REAL)) - started)/1000.0, 1) AS duration,"
                    " (id = (SELECT CAST(value AS INTEGER) FROM meta WHERE key='current'))"
                    "  AS current, host, config FROM builds b ORDER BY id",
                    args, 2, &rows, &e) < 0) {
        cli_error("%s", e.msg);
        rc = EXIT_ERROR;
    } else {
        rc = statecmd_print(stdout, &rows, &p, "bob list");
        state_rows_free(&rows);
    }
    state_close(st);
    config_free(&cfg);
    return rc;
}
