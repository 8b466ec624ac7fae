/*
 * What the state commands share (status, log, list, history, diff, clean,
 * report): opening the database of the configuration, and printing rows as
 * a table, CSV or JSON with -H (no header) and -o COLUMNS.
 */
#ifndef BOB_STATECMD_H
#define BOB_STATECMD_H

#include <stdio.h>

#include "cli/cli.h"
#include "state/state.h"

enum statecmd_format {
    STATECMD_TABLE,
    STATECMD_CSV,
    STATECMD_JSON,
};

struct statecmd_print {
    enum statecmd_format format;
    bool no_header;   /* -H */
    const char *cols; /* -o a,b,c, or NULL for every column */
};

/* Parses -f; prints the usage error for `what` and returns false when unknown. */
bool statecmd_format(const char *what, const char *s, enum statecmd_format *f);
/* The row options of the commands that print rows: their help lines and long options. */
#define STATECMD_ROW_HELP                                                                          \
    "  -f, --format table|csv|json  output format\n"                                               \
    "  -H, --no-header              no header line\n"                                              \
    "  -o, --columns A,B,...        these columns, in this order\n"
#define STATECMD_ROW_LONGOPTS                                                                      \
    {"format", required_argument, NULL, 'f'}, {"no-header", no_argument, NULL, 'H'},               \
    {                                                                                              \
        "columns", required_argument, NULL, 'o'                                                    \
    }

/* Takes one of the row options -f FORMAT, -H, -o COLS into p; false (said) on a bad value. */
bool statecmd_print_opt(const char *what, int opt, const char *arg, struct statecmd_print *p);
/*
 * Loads the config and opens its database (a reader, or the writer);
 * prints the error. EXIT_OK, or the exit status to return.
 */
int statecmd_open(struct cli *cli, const char *what, bool writer, struct config *cfg,
                  struct state **st);
/* Prints rows; an unknown -o column is a usage error (EXIT_USAGE). */
int statecmd_print(FILE *out, const struct state_rows *rows, const struct statecmd_print *p,
                   const char *what);
/* The comparison of builds ?1 and ?2 (bob diff, bob report): cmd_diff.c. */
extern const char cmd_diff_sql[];

/* Epoch ms now, as text (a query parameter). */
void statecmd_now(char *buf, size_t n);

#endif
