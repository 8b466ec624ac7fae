/*
 * What the commands share (SPEC section 2): exit codes, the global options,
 * loading the config, errors, the root check, status lines, option parsing.
 * cli.c calls no command.
 */
#ifndef BOB_CLI_H
#define BOB_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "config/config.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_JOBS_FAILED = 3,
    EXIT_INTERRUPTED = 130,
};

/* Options common to every command. */
struct cli {
    const char *config_path; /* -c, or NULL for the default */
    bool verbose;            /* -v */
};

/* The long options every command also takes: -c/--config FILE, -v/--verbose, -h/--help. */
#define CLI_COMMON_LONGOPTS                                                                        \
    {"config", required_argument, NULL, 'c'}, {"verbose", no_argument, NULL, 'v'},                 \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }
/* Their short letters, for a command's optstring (after "+:" or ":"). */
#define CLI_COMMON_SHORTOPTS "c:vh"

enum cli_opt_result {
    CLI_OPT_END = -1,   /* no more options: argv[optind..] are the operands */
    CLI_OPT_USAGE = -2, /* a usage error was printed: exit 2 */
    CLI_OPT_HELP = -3,  /* -h/--help: print the help, exit 0 */
};

/*
 * getopt_long for the command `what` ("bob sandbox create"): returns the
 * next option of the command's own, after taking -c/-v into cli; prints the
 * usage error for an unknown option or a missing value. shortopts must begin
 * with ":" (or "+:") and contain CLI_COMMON_SHORTOPTS; longopts must contain
 * CLI_COMMON_LONGOPTS. Set optind = 0 before the first call (a fresh start).
 */
int cli_getopt(struct cli *cli, const char *what, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* Parses a count from 1 to max; false (nothing printed) otherwise. */
bool cli_parse_count(const char *s, unsigned long max, unsigned long *out);

/* Loads the configuration named by -c (or the default), printing errors. */
int cli_load_config(const struct cli *cli, struct config *cfg);
/* Prints "Error: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Fails unless we are root, naming the command. */
int cli_need_root(const char *what);

/* Progress lines on stderr: "msg..." then " done (1.2s)" on a terminal, whole lines otherwise. */
void cli_status_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_status_end(bool ok, double start_ms);

#endif
