/* What the sandbox commands share: the loop, the config, the context. */
#ifndef BOB_SBX_CMD_H
#define BOB_SBX_CMD_H

#include <stdbool.h>
#include <uv.h>

#include "cli/cli.h"
#include "sandbox/sandbox.h"

struct sbx_cmd {
    uv_loop_t loop;
    struct config cfg;
    struct sbx_ctx ctx;
    struct sbx_batch *batch;
    bool destroying;
    bool done;
    bool loop_closed;
};

/*
 * Loads the configuration, checks there is a sandboxes section and, when
 * `what` is given, that we are root; starts a loop and a context of env_ctx.
 */
int sbx_cmd_init(struct sbx_cmd *c, struct cli *cli, const char *what, enum env_ctx env_ctx);
/* Closes the loop if sbx_cmd_run_loop did not, and frees the rest. */
void sbx_cmd_free(struct sbx_cmd *c);
/* Runs the loop until nothing is left, then closes every handle and the loop. */
void sbx_cmd_run_loop(struct sbx_cmd *c);
/* Prints the error of each failed sandbox of a batch; returns how many failed. */
size_t sbx_print_errors(const struct sbx_batch *b);

int sandbox_run_cmd(struct cli *cli, int argc, char **argv);
int sandbox_shell_cmd(struct cli *cli, int argc, char **argv);

#endif
