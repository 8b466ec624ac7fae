/* The state commands' shared part: opening the database, printing rows. */
#include "cli/statecmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool statecmd_format(const char *what, const char *s, enum statecmd_format *f)
{
    if (strcmp(s, "table") == 0)
        *f = STATECMD_TABLE;
    else if (strcmp(s, "csv") == 0)
        *f = STATECMD_CSV;
    else if (strcmp(s, "json") == 0)
        *f = STATECMD_JSON;
    else {
        fprintf(stderr, "%s: --format must be table, csv or json, not '%s'\n", what, s);
        return false;
    }
    return true;
}

int statecmd_open(struct cli *cli, const char *what, bool writer, struct config *cfg,
                  struct state **st)
{
    struct err e;
    int r;
    *st = NULL;
    if (cli_load_config(cli, cfg) < 0)
        return EXIT_ERROR;
    if (cfg->nostate) {
        cli_error("%s: options.dbdir = false: this configuration keeps no build state", what);
        config_free(cfg);
        return EXIT_ERROR;
    }
    r = state_open(cfg->dbdir, writer, st, &e);
    if (r < 0) {
        cli_error("%s", e.msg);
        config_free(cfg);
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

void statecmd_now(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, n, "%.3f", (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void statecmd_csv(FILE *out, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* The columns to print, by index: -o's names in order, or all. */
static int statecmd_columns(const struct state_rows *rows, const char *spec, size_t **out,
                            size_t *n, const char *what)
{
    char *copy, *tok, *save = NULL;
    *out = xcalloc(rows->ncols + 1, sizeof(**out));
    *n = 0;
    if (!spec) {
        for (size_t c = 0; c < rows->ncols; c++)
            (*out)[(*n)++] = c;
        return 0;
    }
    copy = xstrdup(spec);
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t c = 0;
        while (c < rows->ncols && strcmp(rows->cols[c], tok) != 0)
            c++;
        if (c == rows->ncols) {
            fprintf(stderr, "%s: unknown column '%s' (columns:", what, tok);
            for (size_t k = 0; k < rows->ncols; k++)
                fprintf(stderr, " %s", rows->cols[k]);
            fprintf(stderr, ")\n");
            free(copy);
            free(*out);
            *out = NULL;
            return -1;
        }
        if (*n < rows->ncols)
            (*out)[(*n)++] = c;
    }
    free(copy);
    return 0;
}

int statecmd_print(FILE *out, const struct state_rows *rows, const struct statecmd_print *p,
                   const char *what)
{
    size_t *cols, n, *width;
    if (statecmd_columns(rows, p->cols, &cols, &n, what) < 0)
        return EXIT_USAGE;
    if (p->format == STATECMD_JSON) {
        fputc('[', out);
        for (size_t r = 0; r < rows->nrows; r++) {
            fputs(r ? ",\n{" : "{", out);
            for (size_t i = 0; i < n; i++) {
                const char *v = rows->cells[r * rows->ncols + cols[i]];
                if (i)
                    fputc(',', out);
                json_write_str(out, rows->cols[cols[i]]);
                fputc(':', out);
                if (!v)
                    fputs("null", out);
                else if (rows->num[cols[i]] && strspn(v, "0123456789.-e+") == strlen(v))
                    fputs(v, out);
                else
                    json_write_str(out, v);
            }
            fputc('}', out);
        }
        fputs("]\n", out);
    } else if (p->format == STATECMD_CSV) {
        for (size_t i = 0; i < n && !p->no_header; i++) {
            statecmd_csv(out, rows->cols[cols[i]]);
            fputc(i + 1 < n ? ',' : '\n', out);
        }
        for (size_t r = 0; r < rows->nrows; r++)
            for (size_t i = 0; i < n; i++) {
                statecmd_csv(out, rows->cells[r * rows->ncols + cols[i]]);
                fputc(i + 1 < n ? ',' : '\n', out);
            }
    } else {
        width = xcalloc(n + 1, sizeof(*width));
        for (size_t i = 0; i < n; i++) {
            width[i] = p->no_header ? 0 : strlen(rows->cols[cols[i]]);
            for (size_t r = 0; r < rows->nrows; r++) {
                const char *v = rows->cells[r * rows->ncols + cols[i]];
                size_t len = v ? strlen(v) : 1;
                if (len > width[i])
                    width[i] = len;
            }
        }
        for (size_t r = p->no_header ? 1 : 0; r <= rows->nrows; r++)
            for (size_t i = 0; i < n; i++) {
                const char *v =
                    r == 0 ? rows->cols[cols[i]] : rows->cells[(r - 1) * rows->ncols + cols[i]];
                if (!v)
                    v = "-";
                if (i + 1 < n)
                    fprintf(out, "%-*s  ", (int)width[i], v);
                else
                    fprintf(out, "%s\n", v);
            }
        free(width);
    }
    free(cols);
    return EXIT_OK;
}

bool statecmd_print_opt(const char *what, int opt, const char *arg, struct statecmd_print *p)
{
    if (opt == 'f')
        return statecmd_format(what, arg, &p->format);
    if (opt == 'H')
        p->no_header = true;
    else if (opt == 'o')
        p->cols = arg;
    return true;
}
