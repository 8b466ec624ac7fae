/* What the commands share: option parsing, config loading, errors, status lines. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    char *msg;
    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    fputs("Error: ", stderr);
    /* A message may quote bytes of a config or of a command's output: no
     * control byte reaches the terminal (newlines and tabs are ours). */
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
    fputc('\n', stderr);
    free(msg);
}

int cli_need_root(const char *what)
{
    if (geteuid() == 0)
        return 0;
    cli_error("%s needs root (it mounts filesystems and uses chroot)", what);
    return -1;
}

static double status_started;

void cli_status_begin(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("...", stderr);
    if (!isatty(2))
        fputc('\n', stderr);
    fflush(stderr);
    status_started = now_ms();
}

void cli_status_end(bool ok, double start_ms)
{
    char d[32];
    fmt_duration(d, sizeof(d), now_ms() - (start_ms > 0 ? start_ms : status_started));
    fprintf(stderr, "%s%s (%s)\n", isatty(2) ? " " : "", ok ? "done" : "failed", d);
}

/* s as one shell word: itself when it is plain, else in single quotes (malloc'd). */
static char *cli_shell_quote(const char *s)
{
    struct buf b = {0};
    if (*s &&
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=,:@") ==
            strlen(s))
        return xstrdup(s);
    buf_adds(&b, "'");
    for (; *s; s++)
        buf_adds(&b, *s == '\'' ? "'\\''" : (char[]){*s, 0});
    buf_adds(&b, "'");
    return b.p;
}

int cli_load_config(const struct cli *cli, struct config *cfg)
{
    char *path = cli->config_path ? xstrdup(cli->config_path) : config_default_path();
    struct err e;
    struct stat st;
    int r;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        if (cli->config_path) {
            /* bob init would write the default path: the advice names this one. */
            char *q = cli_shell_quote(path);
            cli_error("Configuration file %s does not exist.\nRun 'bob -c %s init' to create a "
                      "default configuration there.",
                      path, q);
            free(q);
        } else {
            cli_error("Configuration file %s does not exist.\nRun 'bob init' to create a default "
                      "configuration.",
                      path);
        }
        free(path);
        return -1;
    }
    r = config_load(path, cfg, &e);
    free(path);
    if (r < 0) {
        cli_error("%s", e.msg);
        return -1;
    }
    /* Every warning names the file (those with a line in it already do). */
    /* options.log_level debug or trace: the debug lines, as -v. */
    if (cfg->log_level &&
        (strcmp(cfg->log_level, "debug") == 0 || strcmp(cfg->log_level, "trace") == 0))
        log_set_verbose(true);
    for (size_t i = 0; i < cfg->warnings.n; i++) {
        const char *w = cfg->warnings.v[i];
        size_t n = strlen(cfg->path);
        if (strncmp(w, cfg->path, n) == 0 && w[n] == ':')
            fprintf(stderr, "Warning: %s\n", w);
        else
            fprintf(stderr, "Warning: %s: %s\n", cfg->path, w);
    }
    return 0;
}

int cli_getopt(struct cli *cli, const char *what, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        switch (c) {
        case 'c':
            cli->config_path = optarg;
            continue;
        case 'v':
            cli->verbose = true;
            log_set_verbose(true);
            continue;
        case 'h':
            return CLI_OPT_HELP;
        case -1:
            return CLI_OPT_END;
        case '?':
        case ':': {
            /* The option as written: a long one from argv, a short one from optopt. */
            const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
            char shortopt[3] = {'-', (char)optopt, '\0'};
            int len = (int)strcspn(arg, "=");
            if (strncmp(arg, "--", 2) != 0)
                arg = shortopt, len = 2;
            if (c == '?')
                fprintf(stderr, "%s: unknown option '%.*s'\n", what, len, arg);
            else
                fprintf(stderr, "%s: %.*s needs %s\n", what, len, arg,
                        optopt == 'c' ? "a file name" : "a value");
            return CLI_OPT_USAGE;
        }
        default:
            return c;
        }
    }
}

bool cli_parse_count(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v;
    if (!str_to_uint(s, &v) || v == 0 || v > max)
        return false;
    *out = v;
    return true;
}
