/*
 * What the sandbox commands share: the loop, the config, the context, the
 * run state, and the loop's start and end. sbx_cmd.c calls no command.
 */
#ifndef BOB_SBX_CMD_H
#define BOB_SBX_CMD_H

#include <stdbool.h>
#include <uv.h>

#include "cli/cli.h"
#include "loop/runstate.h"
#include "sandbox/sandbox.h"

struct sbx_cmd {
    uv_loop_t loop;
    struct config cfg;
    struct sbx_ctx ctx;
    struct runstate *rs;      /* the command's run state, from sbx_cmd_watch */
    enum run_state end_state; /* its state when the loop ended */
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
/* Starts the command's run state on its loop (see runstate_new); EXIT_OK or EXIT_ERROR. */
int sbx_cmd_watch(struct sbx_cmd *c, bool stop_is_shutdown, runstate_cb cb, void *data);
/* The run state callback of create and destroy: Ctrl+C rolls back a create, not a destroy. */
void sbx_cmd_on_signal(enum run_state state, int signum, void *data);
/* The batch callback of create and destroy: the batch is over. */
void sbx_cmd_on_batch(struct sbx_batch *b, void *data);
/* Closes the loop if sbx_cmd_run_loop did not, and frees the rest. */
void sbx_cmd_free(struct sbx_cmd *c);
/* Runs the loop until nothing is left, then closes every handle and the loop. */
void sbx_cmd_run_loop(struct sbx_cmd *c);
/* Prints the error of each failed sandbox of a batch; returns how many failed. */
size_t sbx_print_errors(const struct sbx_batch *b);

#endif
