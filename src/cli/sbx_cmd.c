/* Scaffolding shared by the sandbox commands. */
#include "cli/sbx_cmd.h"

#include <stdio.h>
#include <string.h>

#include "loop/runstate.h"

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
    uv_loop_init(&c->loop);
    sandbox_ctx_init(&c->ctx, &c->loop, &c->cfg, env_ctx);
    /* The owner record of the sandboxes this command holds: "build", "sandbox run". */
    if (what && strncmp(what, "bob ", 4) == 0)
        c->ctx.command = what + 4;
    return EXIT_OK;
}

void sbx_cmd_free(struct sbx_cmd *c)
{
    if (!c->loop_closed)
        sbx_cmd_run_loop(c);
    sandbox_ctx_free(&c->ctx);
    config_free(&c->cfg);
}

static void report_open(uv_handle_t *h, void *arg)
{
    fprintf(stderr, "bob: internal error: a %s handle is still open\n",
            uv_handle_type_name(uv_handle_get_type(h)));
}

void sbx_cmd_run_loop(struct sbx_cmd *c)
{
    uv_run(&c->loop, UV_RUN_DEFAULT);
    runstate_stop();
    uv_run(&c->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&c->loop) != 0)
        uv_walk(&c->loop, report_open, NULL);
    c->loop_closed = true;
}
