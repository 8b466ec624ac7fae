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

#endif
