/*
 * The commands, one per file (cmd_<name>.c), each called by main's table
 * with its own argv: argv[0] is the command's last word ("create").
 */
#ifndef BOB_COMMANDS_H
#define BOB_COMMANDS_H

#include "cli/cli.h"

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_config_check(struct cli *cli, int argc, char **argv);
int cmd_config_show(struct cli *cli, int argc, char **argv);
int cmd_sandbox_create(struct cli *cli, int argc, char **argv);
int cmd_sandbox_list(struct cli *cli, int argc, char **argv);
int cmd_sandbox_destroy(struct cli *cli, int argc, char **argv);
int cmd_sandbox_shell(struct cli *cli, int argc, char **argv);
int cmd_sandbox_run(struct cli *cli, int argc, char **argv);
int cmd_build(struct cli *cli, int argc, char **argv);
int cmd_scan(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_log(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_history(struct cli *cli, int argc, char **argv);
int cmd_diff(struct cli *cli, int argc, char **argv);
int cmd_clean(struct cli *cli, int argc, char **argv);
int cmd_rebuild(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);

struct bstate_opts;
/* bob build (or bob rebuild) with its options parsed: cmd_build.c. */
int cmd_build_run(struct cli *cli, const char *what, bool json, const char *events,
                  char *const *names, size_t nnames, const struct bstate_opts *so);

#endif
