/*
 * bob: a sandbox supervisor for bulk package builds. main parses the global
 * options and hands the rest of argv to one command of its table; each
 * command (src/cli/cmd_*.c) parses its own options.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "util/fault.h"

static const char main_usage[] =
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
    "  sandbox shell [ID]              interactive shell in a new dev sandbox, or in ID (alias: "
    "exec)\n"
    "  sandbox run [--log FILE] ID -- CMD [ARG...]\n"
    "                                  run a command in sandbox ID\n"
    "  build [--format text|json] [--events FILE|-] [--dry-run] [-j N] [JOB...]\n"
    "                                  build the jobs in sandboxes (resumes an unfinished\n"
    "                                  build; --all: a new one running every job, for\n"
    "                                  pkgsrc also the packages that are up to date)\n"
    "  scan [--format text|json] [PKGPATH...]\n"
    "                                  scan and resolve the pkgsrc packages\n"
    "  rebuild [-a] [--only] [JOB...]  retry failed jobs of the current build\n"
    "  status [-f table|csv|json] [-H] [-o COLS] [PATTERN]\n"
    "                                  the jobs of the current build (also while it runs)\n"
    "  log [-s STAGE] [-l] JOB         the log of a job's failed stage\n"
    "  list                            the recorded builds\n"
    "  history [PATTERN]               each job across builds, with stage times\n"
    "  diff [ID1 ID2]                  new failures, fixes and timing changes\n"
    "  clean                           forget the current build (history stays)\n"
    "  report [-o DIR]                 write report.html and report.txt\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  configuration file (default: $XDG_CONFIG_HOME/bob/config.lua)\n"
    "  -v, --verbose      more messages\n"
    "  -h, --help         help (also after a command: bob sandbox create --help)\n"
    "  -V, --version      print the version\n"
    "\n"
    "Every option takes its value as --opt=value, --opt value, or -nVALUE.\n"
    "Exit status: 0 success, 1 error, 2 usage error, 3 some jobs failed or were\n"
    "skipped, 130 interrupted.\n";

static const char main_config_help[] =
    "usage: bob [-c FILE] config check\n"
    "       bob [-c FILE] config show [--format lua|json]\n"
    "\n"
    "check  loads and validates the configuration; warnings and errors go to\n"
    "       stderr; exit 0 when it is valid, 1 when it is not.\n"
    "show   prints the effective configuration (after only.set filtering) on\n"
    "       stdout, as Lua (default) or JSON.\n";

static const char main_sandbox_help[] =
    "usage: bob [-c FILE] sandbox create [-n N]\n"
    "       bob [-c FILE] sandbox list\n"
    "       bob [-c FILE] sandbox destroy -a | ID...\n"
    "       bob [-c FILE] sandbox shell [ID]\n"
    "       bob [-c FILE] sandbox run [--log FILE] ID -- CMD [ARG...]\n"
    "\n"
    "create   creates N sandboxes (default 1) in parallel under sandboxes.basedir and\n"
    "         prints their paths on stdout, in ascending id order. Ctrl+C rolls back\n"
    "         everything it made (exit 130).\n"
    "list     prints \"<path>\" or \"<path> (incomplete)\" for every sandbox, with\n"
    "         \" (in use by pid N)\" when a running bob holds it.\n"
    "destroy  destroys every sandbox (-a) or the given ids (an unknown id: exit 1):\n"
    "         kills what runs inside, undoes the setup actions in reverse, unmounts\n"
    "         whatever is left and removes the files on the sandbox's own mount,\n"
    "         never crossing into a bind mount. Ctrl+C does not stop a destroy.\n"
    "         A sandbox another bob holds is refused and left as it is (exit 1).\n"
    "shell    (alias exec) creates a dev sandbox, runs the pre-build (bootstrap kit,\n"
    "         hooks), an interactive shell in it, then the post-build, and destroys\n"
    "         it however the shell ends.\n"
    "run      runs CMD in sandbox ID with the build environment, passing its output\n"
    "         through (and, with --log FILE, appending it to FILE); exits with CMD's\n"
    "         status (128+N for signal N). Whatever CMD left running in the sandbox is\n"
    "         killed when it exits; Ctrl+C kills CMD and all it started (exit 130).\n"
    "\n"
    "Each takes --help for its own options. Sandbox commands need root.\n";

typedef int (*main_cmd_fn)(struct cli *cli, int argc, char **argv);

/* A command: a word, or a group and a word ("sandbox", "create"). */
struct main_command {
    const char *group;
    const char *name;
    main_cmd_fn fn;
};

static const struct main_command main_commands[] = {
    {NULL, "init", cmd_init},
    {"config", "check", cmd_config_check},
    {"config", "show", cmd_config_show},
    {"sandbox", "create", cmd_sandbox_create},
    {"sandbox", "list", cmd_sandbox_list},
    {"sandbox", "destroy", cmd_sandbox_destroy},
    {"sandbox", "shell", cmd_sandbox_shell},
    {"sandbox", "exec", cmd_sandbox_shell},
    {"sandbox", "run", cmd_sandbox_run},
    {NULL, "build", cmd_build},
    {NULL, "scan", cmd_scan},
    {NULL, "rebuild", cmd_rebuild},
    {NULL, "status", cmd_status},
    {NULL, "log", cmd_log},
    {NULL, "list", cmd_list},
    {NULL, "ls", cmd_list},
    {NULL, "history", cmd_history},
    {NULL, "diff", cmd_diff},
    {NULL, "clean", cmd_clean},
    {NULL, "report", cmd_report},
};

#define MAIN_NCOMMANDS (sizeof(main_commands) / sizeof(main_commands[0]))

/* The help of a group of commands ("config", "sandbox"), or NULL when word is none. */
static const char *main_group_help(const char *word)
{
    if (strcmp(word, "config") == 0)
        return main_config_help;
    if (strcmp(word, "sandbox") == 0)
        return main_sandbox_help;
    return NULL;
}

/* Finds and runs the command named by argv[0] (and argv[1] for a group). */
static int main_dispatch(struct cli *cli, int argc, char **argv)
{
    const char *help = main_group_help(argv[0]);
    for (size_t i = 0; i < MAIN_NCOMMANDS; i++) {
        const struct main_command *c = &main_commands[i];
        if (!c->group && strcmp(c->name, argv[0]) == 0)
            return c->fn(cli, argc, argv);
        if (c->group && strcmp(c->group, argv[0]) == 0 && argc > 1 && strcmp(c->name, argv[1]) == 0)
            return c->fn(cli, argc - 1, argv + 1);
    }
    if (!help) {
        fprintf(stderr, "bob: unknown command '%s'\n\n%s", argv[0], main_usage);
        return EXIT_USAGE;
    }
    if (argc < 2) {
        if (strcmp(argv[0], "config") == 0)
            fprintf(stderr, "bob config: missing subcommand\n%s", help);
        else
            fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    fprintf(stderr, "bob %s: unknown subcommand '%s'\n%s%s", argv[0], argv[1],
            strcmp(argv[0], "sandbox") == 0 ? "\n" : "", help);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    struct cli cli = {0};
    int r;
    /* Closed standard streams are /dev/null, so that no file of ours (a
     * command's output pipe) ever takes their numbers. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
            open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
            return EXIT_ERROR;
    fault_init();
    optind = 0;
    for (;;) {
        r = cli_getopt(&cli, "bob", argc, argv, "+:" CLI_COMMON_SHORTOPTS "V", longopts);
        if (r == CLI_OPT_END)
            break;
        if (r == CLI_OPT_USAGE)
            return EXIT_USAGE;
        if (r == CLI_OPT_HELP) {
            fputs(main_usage, stdout);
            return EXIT_OK;
        }
        if (r == 'V') {
            printf("bob %s\n", BOB_VERSION);
            return EXIT_OK;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc == 0) {
        fputs(main_usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "help") == 0) {
        fputs(main_usage, stdout);
        return EXIT_OK;
    }
    r = main_dispatch(&cli, argc, argv);
    /* A closed stdout (EPIPE) ends quietly with status 0. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == EPIPE)
            return r == EXIT_ERROR ? EXIT_OK : r;
        return r ? r : EXIT_ERROR;
    }
    return r;
}
