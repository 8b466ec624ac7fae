/* bob config check: loads and validates the configuration. */
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "actions/actions.h"
#include "platform/platform.h"
#include "cli/commands.h"

/*
 * The sources of bind mounts and copies that are missing now: a warning
 * each, since they may appear before the sandboxes are made (an only.exists
 * condition already says that they may not).
 */
static void config_check_sources(const struct config *cfg, const struct action_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct action *a = &l->v[i];
        struct stat st;
        if (!a->src || a->only_exists ||
            !((a->kind == ACTION_MOUNT && a->fs == FS_BIND) || a->kind == ACTION_COPY))
            continue;
        if (lstat(a->src, &st) != 0)
            fprintf(stderr, "Warning: %s: %s: the %s source %s does not exist (yet)\n", cfg->path,
                    a->where, a->kind == ACTION_COPY ? "copy" : "bind", a->src);
    }
}

static const char config_check_help[] =
    "usage: bob [-c FILE] config check\n"
    "\n"
    "Loads and validates the configuration; warnings and errors go to stderr;\n"
    "exit 0 when it is valid, 1 when it is not. The sources of bind mounts and\n"
    "copies that do not exist yet are warnings; mount options are checked (as\n"
    "root, the kernel checks those of tmp and proc without mounting anything).\n";

int cmd_config_check(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    struct config cfg;
    bool bad = false;
    int o;
    optind = 0;
    while ((o = cli_getopt(cli, "bob config check", argc, argv, ":" CLI_COMMON_SHORTOPTS,
                           longopts)) != CLI_OPT_END) {
        if (o == CLI_OPT_HELP) {
            fputs(config_check_help, stdout);
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "bob config check: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (cli_load_config(cli, &cfg) < 0)
        return EXIT_ERROR;
    config_check_sources(&cfg, &cfg.setup);
    config_check_sources(&cfg, &cfg.hooks);
    /* Mount options, which would otherwise fail only at create. */
    for (int l = 0; l < 2; l++) {
        const struct action_list *al = l ? &cfg.hooks : &cfg.setup;
        for (size_t i = 0; i < al->n; i++) {
            struct err e;
            if (actions_check(&al->v[i], &e) < 0) {
                cli_error("%s: %s: %s", cfg.path, al->v[i].where, e.msg);
                bad = true;
            }
        }
    }
    if (cfg.tmpfs_root && *cfg.tmpfs_root) {
        struct plat_mount_spec spec = {.fs = PLAT_FS_TMP, .name = "tmpfs", .opts = cfg.tmpfs_root};
        struct err e;
        if (plat_mount_check(&spec, &e) < 0) {
            cli_error("%s: sandboxes.tmpfs_root: %s", cfg.path, e.msg);
            bad = true;
        }
    }
    if (bad) {
        config_free(&cfg);
        return EXIT_ERROR;
    }
    fprintf(stderr, "%s: valid (%zu setup action%s, %zu hook%s, %zu job%s)\n", cfg.path,
            cfg.setup.n, cfg.setup.n == 1 ? "" : "s", cfg.hooks.n, cfg.hooks.n == 1 ? "" : "s",
            cfg.njobs, cfg.njobs == 1 ? "" : "s");
    config_free(&cfg);
    return EXIT_OK;
}
