/* The command line: parsing, commands, exit codes (SPEC section 2). */
#ifndef BOB_CLI_H
#define BOB_CLI_H

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

int cli_main(int argc, char **argv);

/* Loads the configuration named by -c (or the default), printing errors. */
int cli_load_config(const struct cli *cli, struct config *cfg);
/* Prints "Error: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Fails unless we are root, naming the command. */
int cli_need_root(const char *what);

/* Progress lines on stderr: "msg..." then " done (1.2s)" on a terminal, whole lines otherwise. */
void cli_status_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_status_end(bool ok, double start_ms);

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_sandbox(struct cli *cli, int argc, char **argv);
int cmd_build(struct cli *cli, int argc, char **argv);

/* Whether argv holds -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);

#endif
