/* bob log: the log of a job of the current build (by default its failed stage's). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/statecmd.h"

static const char log_help[] =
    "usage: bob [-c FILE] log [-s STAGE] [-l] JOB\n"
    "\n"
    "Prints the log of JOB's failed stage in the current build (of its running\n"
    "stage while it runs). Logs live in <options.logdir>/<job>/<stage>.log and\n"
    "are kept for failed jobs (for all with options.keep_logs = true).\n"
    "\n"
    "  -l, --list         list the job's logs, one path a line\n"
    "  -s, --stage STAGE  print the log of STAGE instead\n";

/* Copies a file to stdout. */
static int log_cat(const char *path)
{
    char buf[65536];
    size_t n;
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("cannot read %s: %s", path, strerror(errno));
        return EXIT_ERROR;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (fwrite(buf, 1, n, stdout) != n)
            break;
    fclose(f);
    return EXIT_OK;
}

/* Lists the .log files of <logdir>/<job>. */
static int log_list(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        cli_error("no logs in %s: %s", dir, strerror(errno));
        return EXIT_ERROR;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 4 && strcmp(names[i]->d_name + len - 4, ".log") == 0)
            printf("%s/%s\n", dir, names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return EXIT_OK;
}

int cmd_log(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
                                             {"stage", required_argument, NULL, 's'},
                                             {"list", no_argument, NULL, 'l'},
                                             {NULL, 0, NULL, 0}};
    const char *stage = NULL, *job;
    bool list = false, finished;
    struct config cfg;
    struct state *st;
    struct state_rows rows = {0};
    struct err e;
    char id[32], *dir = NULL, *path = NULL;
    const char *args[2];
    int64_t cur;
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob log", argc, argv, ":" CLI_COMMON_SHORTOPTS "s:l",
                            longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 's':
            stage = optarg;
            continue;
        case 'l':
            list = true;
            continue;
        case CLI_OPT_HELP:
            fputs(log_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "bob log: one JOB expected\n%s", log_help);
        return EXIT_USAGE;
    }
    job = argv[optind];
    /* A job name may hold a '/' (pkgsrc's category/package), never a step out of logdir. */
    if (job[0] == '/' || !*job || strcmp(job, "..") == 0 || strncmp(job, "../", 3) == 0 ||
        strstr(job, "/../") || (strlen(job) >= 3 && strcmp(job + strlen(job) - 3, "/..") == 0) ||
        (stage && (strchr(stage, '/') || !*stage || strcmp(stage, "..") == 0))) {
        cli_error("bob log: '%s' is not a job or stage name",
                  stage && (strchr(stage, '/') || !*stage || !strcmp(stage, "..")) ? stage : job);
        return EXIT_USAGE;
    }
    if ((rc = statecmd_open(cli, "bob log", false, &cfg, &st)) != EXIT_OK)
        return rc;
    rc = EXIT_ERROR;
    dir = xasprintf("%s/%s", cfg.logdir, job);
    if (list) {
        rc = log_list(dir);
        goto out;
    }
    if (stage) {
        path = xasprintf("%s/%s.log", dir, stage);
        rc = log_cat(path);
        goto out;
    }
    if (state_current(st, &cur, &finished, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    snprintf(id, sizeof(id), "%lld", (long long)cur);
    args[0] = id;
    args[1] = job;
    if (state_query(st,
                    "SELECT status, stage, log FROM jobs WHERE build=CAST(?1 AS INTEGER)"
                    " AND job=?2",
                    args, 2, &rows, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (rows.nrows == 0) {
        cli_error("bob log: no job '%s' in build %s (bob status lists them)", job, id);
        goto out;
    }
    if (rows.cells[2]) {
        rc = log_cat(rows.cells[2]);
    } else if (strcmp(rows.cells[0], "running") == 0 && rows.cells[1]) {
        path = xasprintf("%s/%s.log", dir, rows.cells[1]);
        rc = log_cat(path);
    } else {
        cli_error("bob log: %s did not fail (%s): bob log -l %s lists its logs, if kept", job,
                  rows.cells[0], job);
    }
out:
    state_rows_free(&rows);
    free(dir);
    free(path);
    state_close(st);
    config_free(&cfg);
    return rc;
}
