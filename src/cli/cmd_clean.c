/* bob clean: forgets the current build and the kept scan; the history of past builds stays. */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/statecmd.h"

static const char clean_help[] =
    "usage: bob [-c FILE] clean\n"
    "\n"
    "Forgets the current build: the next bob build starts a new one instead of\n"
    "resuming it, and still skips what is up to date (bob build --all runs\n"
    "everything), and forgets the kept pkgsrc scan: the next build scans every\n"
    "pkgpath again. The records of every build stay for bob list, history, diff\n"
    "and report. Refused while a bob builds with this database.\n";

int cmd_clean(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    struct config cfg;
    struct state *st;
    struct err e;
    int64_t cur;
    bool finished;
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob clean", argc, argv, ":" CLI_COMMON_SHORTOPTS, longopts)) !=
           CLI_OPT_END) {
        if (rc == CLI_OPT_HELP) {
            fputs(clean_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "bob clean: no arguments expected\n%s", clean_help);
        return EXIT_USAGE;
    }
    if ((rc = statecmd_open(cli, "bob clean", true, &cfg, &st)) != EXIT_OK)
        return rc;
    rc = EXIT_ERROR;
    if (state_lock(st, &e) < 0 || state_current(st, &cur, &finished, &e) < 0 ||
        state_forget_current(st, &e) < 0 || state_scan_forget(st, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (cur)
        fprintf(stderr, "Forgot build %lld%s\n", (long long)cur,
                finished ? "" : " (unfinished: the next bob build starts anew)");
    else
        fprintf(stderr, "No current build\n");
    rc = EXIT_OK;
out:
    state_close(st);
    config_free(&cfg);
    return rc;
}
