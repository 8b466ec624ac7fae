/* Command-line parsing, help, and the commands that need no sandbox. */
#include "cli/cli.h"
#include "util/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: bob [-c FILE] [-v] COMMAND ...\n"
    "\n"
    "A sandbox supervisor for bulk package builds.\n"
    "\n"
    "Commands:\n"
    "  init                            write the default configuration for this OS\n"
    "  config check                    load and validate the configuration\n"
    "  config show [--format lua|json] print the effective configuration\n"
    "  sandbox create [-n N]           create N sandboxes (default 1), print their paths\n"
    "  sandbox list                    list the sandboxes\n"
    "  sandbox destroy -a | ID...      destroy all, or the given sandboxes\n"
    "  sandbox shell                   interactive shell in a new dev sandbox (alias: exec)\n"
    "  sandbox run ID -- CMD [ARG...]  run a command in sandbox ID\n"
    "  build [--format text|json] [--events FILE|-] [JOB...]\n"
    "                                  build the jobs in sandboxes\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  configuration file (default: $XDG_CONFIG_HOME/bob/config.lua)\n"
    "  -v, --verbose      more messages\n"
    "  -h, --help         help (also after a command: bob sandbox create --help)\n"
    "  -V, --version      print the version\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error, 3 some jobs failed or were\n"
    "skipped, 130 interrupted.\n";

static const char init_help[] =
    "usage: bob [-c FILE] init\n"
    "\n"
    "Writes the bundled default configuration for this operating system to FILE\n"
    "(default: $XDG_CONFIG_HOME/bob/config.lua), creating its directory.\n"
    "Fails if the file exists.\n";

static const char config_help[] =
    "usage: bob [-c FILE] config check\n"
    "       bob [-c FILE] config show [--format lua|json]\n"
    "\n"
    "check  loads and validates the configuration; warnings and errors go to\n"
    "       stderr; exit 0 when it is valid, 1 when it is not.\n"
    "show   prints the effective configuration (after only.set filtering) on\n"
    "       stdout, as Lua (default) or JSON.\n";

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

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int cli_load_config(const struct cli *cli, struct config *cfg)
{
    char *path = cli->config_path ? xstrdup(cli->config_path) : config_default_path();
    struct err e;
    struct stat st;
    int r;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        cli_error("Configuration file %s does not exist.\nRun 'bob init' to create a default "
                  "configuration.",
                  path);
        free(path);
        return -1;
    }
    r = config_load(path, cfg, &e);
    free(path);
    if (r < 0) {
        cli_error("%s", e.msg);
        return -1;
    }
    for (size_t i = 0; i < cfg->warnings.n; i++)
        fprintf(stderr, "Warning: %s\n", cfg->warnings.v[i]);
    return 0;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
    char *path;
    struct err e;
    if (cli_wants_help(argc, argv)) {
        fputs(init_help, stdout);
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "bob init: unexpected argument '%s'\n%s", argv[1], init_help);
        return EXIT_USAGE;
    }
    path = cli->config_path ? xstrdup(cli->config_path) : config_default_path();
    if (config_init(path, &e) < 0) {
        cli_error("%s", e.msg);
        free(path);
        return EXIT_ERROR;
    }
    printf("Created %s\n", path);
    free(path);
    return EXIT_OK;
}

int cmd_config(struct cli *cli, int argc, char **argv)
{
    struct config cfg;
    const char *format = "lua";
    if (cli_wants_help(argc, argv)) {
        fputs(config_help, stdout);
        return EXIT_OK;
    }
    if (argc < 2) {
        fprintf(stderr, "bob config: missing subcommand\n%s", config_help);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "check") == 0) {
        if (argc > 2) {
            fprintf(stderr, "bob config check: unexpected argument '%s'\n", argv[2]);
            return EXIT_USAGE;
        }
        if (cli_load_config(cli, &cfg) < 0)
            return EXIT_ERROR;
        fprintf(stderr, "%s: valid (%zu setup actions, %zu hooks, %zu jobs)\n", cfg.path,
                cfg.setup.n, cfg.hooks.n, cfg.njobs);
        config_free(&cfg);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "show") == 0) {
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
                format = argv[++i];
            } else if (str_startswith(argv[i], "--format=")) {
                format = argv[i] + 9;
            } else {
                fprintf(stderr, "bob config show: unexpected argument '%s'\n", argv[i]);
                return EXIT_USAGE;
            }
        }
        if (strcmp(format, "lua") && strcmp(format, "json")) {
            fprintf(stderr, "bob config show: --format must be lua or json, not '%s'\n", format);
            return EXIT_USAGE;
        }
        if (cli_load_config(cli, &cfg) < 0)
            return EXIT_ERROR;
        if (strcmp(format, "json") == 0)
            config_show_json(&cfg, stdout);
        else
            config_show_lua(&cfg, stdout);
        config_free(&cfg);
        return EXIT_OK;
    }
    fprintf(stderr, "bob config: unknown subcommand '%s'\n%s", argv[1], config_help);
    return EXIT_USAGE;
}

/* Removes -c/--config/-v from argv (up to "--"), recording them in cli. */
static int take_global_options(struct cli *cli, int *argc, char **argv)
{
    int out = 0;
    bool rest = false;
    for (int i = 0; i < *argc; i++) {
        char *a = argv[i];
        if (!rest && strcmp(a, "--") == 0)
            rest = true;
        if (rest) {
            argv[out++] = a;
            continue;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "bob: %s needs a file name\n", a);
                return -1;
            }
            cli->config_path = argv[++i];
        } else if (str_startswith(a, "--config=")) {
            cli->config_path = a + 9;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            cli->verbose = true;
        } else {
            argv[out++] = a;
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

int cli_main(int argc, char **argv)
{
    struct cli cli = {0};
    int r;
    /* Closed standard streams are /dev/null, so that no file of ours (a
     * command's output pipe) ever takes their numbers. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
            open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
            return EXIT_ERROR;
    argc--;
    argv++;
    if (take_global_options(&cli, &argc, argv) < 0)
        return EXIT_USAGE;
    log_set_verbose(cli.verbose);
    fault_init();
    if (argc == 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0 ||
        strcmp(argv[0], "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "-V") == 0 || strcmp(argv[0], "--version") == 0) {
        printf("bob %s\n", BOB_VERSION);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "init") == 0)
        r = cmd_init(&cli, argc, argv);
    else if (strcmp(argv[0], "config") == 0)
        r = cmd_config(&cli, argc, argv);
    else if (strcmp(argv[0], "sandbox") == 0)
        r = cmd_sandbox(&cli, argc, argv);
    else if (strcmp(argv[0], "build") == 0)
        r = cmd_build(&cli, argc, argv);
    else {
        fprintf(stderr, "bob: unknown command '%s'\n\n%s", argv[0], usage_text);
        return EXIT_USAGE;
    }
    /* A closed stdout (EPIPE) ends quietly with status 0. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == EPIPE)
            return r == EXIT_ERROR ? EXIT_OK : r;
        return r ? r : EXIT_ERROR;
    }
    return r;
}
