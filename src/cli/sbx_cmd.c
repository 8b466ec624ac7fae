/* Scaffolding shared by the sandbox commands. */
#include "cli/sbx_cmd.h"
#include "loop/proc.h"

#include <stdio.h>
#include <string.h>

int sbx_cmd_init(struct sbx_cmd *c, struct cli *cli, const char *what, enum env_ctx env_ctx)
{
    memset(c, 0, sizeof(*c));
    if (cli_load_config(cli, &c->cfg) < 0)
        return EXIT_ERROR;
    if (!c->cfg.has_sandboxes) {
        cli_error("No sandboxes configured");
        config_free(&c->cfg);
        return EXIT_ERROR;
    }
    if (what && cli_need_root(what) < 0) {
        config_free(&c->cfg);
        return EXIT_ERROR;
    }
    if (uv_loop_init(&c->loop) < 0) {
        cli_error("cannot start an event loop");
        config_free(&c->cfg);
        return EXIT_ERROR;
    }
    sandbox_ctx_init(&c->ctx, &c->loop, &c->cfg, env_ctx);
    /* The owner record of the sandboxes this command holds: "build", "sandbox run". */
    if (what && strncmp(what, "bob ", 4) == 0)
        c->ctx.command = what + 4;
    return EXIT_OK;
}

int sbx_cmd_watch(struct sbx_cmd *c, bool stop_is_shutdown, runstate_cb cb, void *data)
{
    int err = 0;
    c->rs = runstate_new(&c->loop, stop_is_shutdown, cb, data, &err);
    if (!c->rs) {
        cli_error("cannot watch signals: %s", uv_strerror(err));
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

void sbx_cmd_on_signal(enum run_state state, int signum, void *data)
{
    struct sbx_cmd *c = data;
    char what[512];
    if (c->done || !c->batch)
        return;
    if (c->destroying) {
        sandbox_batch_describe(c->batch, what, sizeof(what));
        fprintf(stderr, "\nInterrupted: finishing the destroy first%s%s\n", what[0] ? ": " : "",
                what);
        return;
    }
    fprintf(stderr, "\nInterrupted, rolling back...\n");
    sandbox_batch_cancel(c->batch);
}

void sbx_cmd_on_batch(struct sbx_batch *b, void *data)
{
    struct sbx_cmd *c = data;
    c->done = true;
}

size_t sbx_print_errors(const struct sbx_batch *b)
{
    size_t failed = 0;
    for (size_t i = 0; i < sandbox_batch_size(b); i++) {
        const char *msg = sandbox_batch_error(b, i);
        if (msg) {
            fprintf(stderr, "%s\n", msg);
            failed++;
        }
    }
    return failed;
}

void sbx_cmd_free(struct sbx_cmd *c)
{
    if (!c->loop_closed)
        sbx_cmd_run_loop(c);
    sandbox_ctx_free(&c->ctx);
    config_free(&c->cfg);
}

/* Names a handle left open at the end (a bug of ours). */
static void sbx_cmd_report_open(uv_handle_t *h, void *arg)
{
    fprintf(stderr, "bob: internal error: a %s handle is still open\n",
            uv_handle_type_name(uv_handle_get_type(h)));
}

void sbx_cmd_run_loop(struct sbx_cmd *c)
{
    uv_run(&c->loop, UV_RUN_DEFAULT);
    if (c->rs) {
        c->end_state = runstate_get(c->rs);
        runstate_free(c->rs);
        c->rs = NULL;
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    proc_loop_done();
    if (uv_loop_close(&c->loop) != 0)
        uv_walk(&c->loop, sbx_cmd_report_open, NULL);
    c->loop_closed = true;
}
