/* bob diff: new failures, fixes and duration changes between two builds. */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/statecmd.h"

static const char diff_help[] =
    "usage: bob [-c FILE] diff [-f table|csv|json] [-H] [-o COLUMNS] [ID1 ID2]\n"
    "\n"
    "Compares build ID2 with build ID1 (default: the last two builds): jobs that\n"
    "fail now and did not (new failure), that succeed now and failed (fixed), that\n"
    "are new or gone, and successes whose duration changed by more than 20% and\n"
    "a second (slower, faster). Build ids: bob list.\n"
    "\n" STATECMD_ROW_HELP;

/* The comparison of two builds ?1 (before) and ?2 (after), one row per change. */
const char cmd_diff_sql[] =
    "WITH a AS (SELECT * FROM jobs WHERE build=CAST(?1 AS INTEGER)),"
    " b AS (SELECT * FROM jobs WHERE build=CAST(?2 AS INTEGER)),"
    " ab AS (SELECT b.job AS job, a.status AS s1, b.status AS s2, a.duration AS d1,"
    "  b.duration AS d2, b.stage AS stage, b.reason AS reason FROM b LEFT JOIN a USING(job)"
    "  UNION ALL SELECT a.job, a.status, NULL, a.duration, NULL, NULL, NULL FROM a"
    "  WHERE a.job NOT IN (SELECT job FROM b)),"
    " c AS (SELECT *, CASE"
    "  WHEN s2 IS NULL THEN 'gone'"
    "  WHEN s2='failed' AND coalesce(s1, '')<>'failed' THEN 'new failure'"
    "  WHEN s1='failed' AND s2 IN ('succeeded','up-to-date') THEN 'fixed'"
    "  WHEN s1 IS NULL THEN 'new'"
    "  WHEN s1='succeeded' AND s2='succeeded' AND d2-d1 > max(1000, 0.2*d1) THEN 'slower'"
    "  WHEN s1='succeeded' AND s2='succeeded' AND d1-d2 > max(1000, 0.2*d1) THEN 'faster'"
    "  END AS change FROM ab)"
    " SELECT job, change, coalesce(s1, '-') AS before, coalesce(s2, '-') AS after,"
    " round(d1/1000.0, 1) AS duration_before, round(d2/1000.0, 1) AS duration_after,"
    " CASE WHEN change='new failure' THEN stage END AS stage,"
    " CASE WHEN change='new failure' THEN reason END AS reason"
    " FROM c WHERE change IS NOT NULL"
    " ORDER BY CASE change WHEN 'new failure' THEN 0 WHEN 'fixed' THEN 1 ELSE 2 END, job";

int cmd_diff(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, STATECMD_ROW_LONGOPTS, {NULL, 0, NULL, 0}};
    struct statecmd_print p = {STATECMD_TABLE, false, NULL};
    struct config cfg;
    struct state *st;
    struct state_rows rows, last;
    struct err e;
    const char *args[2];
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob diff", argc, argv,
                            ":" CLI_COMMON_SHORTOPTS "f:Ho:", longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'f':
        case 'H':
        case 'o':
            if (!statecmd_print_opt("bob diff", rc, optarg, &p))
                return EXIT_USAGE;
            continue;
        case CLI_OPT_HELP:
            fputs(diff_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 0 && argc - optind != 2) {
        fprintf(stderr, "bob diff: two build ids, or none\n%s", diff_help);
        return EXIT_USAGE;
    }
    if ((rc = statecmd_open(cli, "bob diff", false, &cfg, &st)) != EXIT_OK)
        return rc;
    rc = EXIT_ERROR;
    memset(&last, 0, sizeof(last));
    if (argc - optind == 2) {
        args[0] = argv[optind];
        args[1] = argv[optind + 1];
    } else {
        if (state_query(st, "SELECT CAST(id AS TEXT) FROM builds ORDER BY id DESC LIMIT 2", NULL, 0,
                        &last, &e) < 0) {
            cli_error("%s", e.msg);
            goto out;
        }
        if (last.nrows < 2) {
            cli_error("bob diff: %s holds %zu build%s: nothing to compare", cfg.dbdir, last.nrows,
                      last.nrows == 1 ? "" : "s");
            goto out;
        }
        args[0] = last.cells[1];
        args[1] = last.cells[0];
    }
    if (state_query(st, cmd_diff_sql, args, 2, &rows, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (p.format == STATECMD_TABLE && !p.no_header)
        fprintf(stderr, "Build %s against build %s\n", args[1], args[0]);
    rc = statecmd_print(stdout, &rows, &p, "bob diff");
    state_rows_free(&rows);
out:
    state_rows_free(&last);
    state_close(st);
    config_free(&cfg);
    return rc;
}
