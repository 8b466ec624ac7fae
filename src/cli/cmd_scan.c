/* bob scan: scan the pkgsrc pkgpaths in sandboxes and resolve them, as bob build does first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/pkgplan.h"
#include "cli/pkgscan.h"
#include "cli/sbx_cmd.h"
#include "pkgsrc/resolve.h"
#include "platform/platform.h"

static const char scan_help[] =
    "usage: bob [-c FILE] scan [--format text|json] [PKGPATH...]\n"
    "\n"
    "Scans pkgsrc.pkgpaths (or the PKGPATHs given) with `bmake pbulk-index` in\n"
    "options.scan_threads sandboxes, following every pkgpath their ALL_DEPENDS\n"
    "name, and resolves each dependency pattern to the best scanned package, as\n"
    "bob build does before it builds, scanning every pkgpath again and refreshing\n"
    "the scan kept in the build state (bob build reuses it for each pkgpath whose\n"
    "files, and the tree's mk/, are unchanged). Prints one line per package:\n"
    "  <job> <PKGNAME>[ -> <dependency jobs>]     to be built\n"
    "  <job> <PKGNAME> skipped: <reason>          not to be built\n"
    "  <pkgpath> scan failed: <reason>\n"
    "or, with --format json, {\"packages\": [{\"job\", \"pkgpath\", \"pkgname\",\n"
    "\"depends\", \"status\" (\"buildable\" or \"skipped\"), \"reason\"}],\n"
    "\"scan_failed\": [{\"pkgpath\", \"reason\"}]}.\n"
    "\n"
    "Exit status: 0, or 1 when a pkgpath failed to scan and options.strict_scan is\n"
    "set (or on an error); 130 interrupted.\n";

struct scmd {
    struct sbx_cmd c;
    struct pkgscan *scan;
    struct strv roots;
    bool json;
    int rc;
};

static void scan_on_signal(enum run_state state, int signum, void *data)
{
    struct scmd *sc = data;
    (void)signum;
    if (sc->scan)
        pkgscan_stop(sc->scan, state == RUN_SHUTDOWN);
}

/* Prints the resolution. */
static void scan_print(const struct scmd *sc, const struct pkgscan_result *res,
                       const struct resolve *r)
{
    const struct pbulk_index *x = &res->index;
    if (!sc->json) {
        for (size_t i = 0; i < r->n; i++) {
            const struct resolve_pkg *p = &r->v[i];
            printf("%s %s", p->job, x->v[p->idx].pkgname);
            if (p->state != RESOLVE_OK) {
                printf(" skipped: %s\n", p->reason ? p->reason : "");
                continue;
            }
            for (size_t k = 0; k < p->ndeps; k++)
                printf("%s%s", k ? " " : " -> ", r->v[p->deps[k]].job);
            printf("\n");
        }
        for (size_t i = 0; i < res->failed.n; i++)
            printf("%s scan failed: %s\n", res->failed.v[i], res->failures.v[i]);
        return;
    }
    printf("{\"packages\":[");
    for (size_t i = 0; i < r->n; i++) {
        const struct resolve_pkg *p = &r->v[i];
        printf("%s{\"job\":", i ? "," : "");
        json_write_str(stdout, p->job);
        printf(",\"pkgpath\":");
        json_write_str(stdout, x->v[p->idx].pkgpath);
        printf(",\"pkgname\":");
        json_write_str(stdout, x->v[p->idx].pkgname);
        printf(",\"depends\":[");
        for (size_t k = 0; k < p->ndeps; k++) {
            printf("%s", k ? "," : "");
            json_write_str(stdout, r->v[p->deps[k]].job);
        }
        printf("],\"status\":\"%s\",\"reason\":", p->state == RESOLVE_OK ? "buildable" : "skipped");
        json_write_str(stdout, p->reason ? p->reason : "");
        printf("}");
    }
    printf("],\"scan_failed\":[");
    for (size_t i = 0; i < res->failed.n; i++) {
        printf("%s{\"pkgpath\":", i ? "," : "");
        json_write_str(stdout, res->failed.v[i]);
        printf(",\"reason\":");
        json_write_str(stdout, res->failures.v[i]);
        printf("}");
    }
    printf("]}\n");
}

/* The scan is over: resolve and print. */
static void scan_on_done(struct pkgscan *ps, void *data)
{
    struct scmd *sc = data;
    struct pkgscan_result *res = pkgscan_result(ps);
    struct resolve_scanfail *fails = xcalloc(res->failed.n + 1, sizeof(*fails));
    struct resolve r;

    sc->scan = NULL;
    if (res->interrupted) {
        fprintf(stderr, "Interrupted during the scan\n");
        sc->rc = EXIT_INTERRUPTED;
    } else if (res->error) {
        cli_error("scan: %s", res->error);
        sc->rc = EXIT_ERROR;
    } else {
        for (size_t i = 0; i < res->failed.n; i++) {
            fails[i].pkgpath = res->failed.v[i];
            fails[i].reason = res->failures.v[i];
        }
        resolve_run(&res->index, &sc->roots, fails, res->failed.n, &r);
        scan_print(sc, res, &r);
        resolve_free(&r);
        fprintf(stderr, "Scanned %zu package path%s (%zu failed)\n", res->scanned,
                res->scanned == 1 ? "" : "s", res->failed.n);
        sc->rc = EXIT_OK;
        if (res->failed.n > 0 && sc->c.cfg.strict_scan) {
            cli_error("%zu package path%s failed to scan (options.strict_scan is set)",
                      res->failed.n, res->failed.n == 1 ? "" : "s");
            sc->rc = EXIT_ERROR;
        }
    }
    free(fails);
    pkgscan_free(ps);
    sc->c.end_state = runstate_get(sc->c.rs);
    runstate_free(sc->c.rs);
    sc->c.rs = NULL;
}

int cmd_scan(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, {"format", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    struct scmd sc;
    const char *format = "text";
    const struct strv *src;
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob scan", argc, argv,
                            ":" CLI_COMMON_SHORTOPTS "f:", longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'f':
            format = optarg;
            continue;
        case CLI_OPT_HELP:
            fputs(scan_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) {
        fprintf(stderr, "bob scan: --format must be text or json, not '%s'\n", format);
        return EXIT_USAGE;
    }
    memset(&sc, 0, sizeof(sc));
    sc.json = strcmp(format, "json") == 0;
    if ((rc = sbx_cmd_init(&sc.c, cli, "bob scan", CTX_BUILD)) != EXIT_OK)
        goto out;
    rc = EXIT_ERROR;
    if (!sc.c.cfg.has_pkgsrc) {
        cli_error("bob scan needs a pkgsrc section");
        goto out;
    }
    if (optind < argc) {
        struct strv args = {0};
        for (int i = optind; i < argc; i++)
            strv_push(&args, argv[i]);
        for (size_t i = 0; i < args.n; i++)
            if (!strv_contains(&sc.roots, args.v[i]))
                strv_push(&sc.roots, args.v[i]);
        strv_free(&args);
    } else {
        src = &sc.c.cfg.pkgpaths;
        for (size_t i = 0; i < src->n; i++)
            if (!strv_contains(&sc.roots, src->v[i]))
                strv_push(&sc.roots, src->v[i]);
    }
    if (sc.roots.n == 0) {
        cli_error("nothing to scan: pkgsrc.pkgpaths is empty and no PKGPATH was given");
        goto out;
    }
    for (size_t i = 0; i < sc.roots.n; i++) {
        const char *why = pkgplan_pkgpath_error(sc.roots.v[i]);
        if (why) {
            cli_error("invalid pkgpath '%s': %s", sc.roots.v[i], why);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    {
        struct err e;
        /* The scan's mounts are its own: they go with it, even on SIGKILL. */
        if (plat_own_mount_ns(&e) < 0) {
            cli_error("%s", e.msg);
            rc = EXIT_ERROR;
            goto out;
        }
        sc.c.ctx.own_mount_ns = true;
    }
    if ((rc = sbx_cmd_watch(&sc.c, false, scan_on_signal, &sc)) != EXIT_OK)
        goto out;
    sc.scan = pkgscan_start(&sc.c, &sc.roots, isatty(2) && sc.c.cfg.tui, true, scan_on_done, &sc);
    sbx_cmd_run_loop(&sc.c);
    rc = sc.rc;
out:
    pkgscan_free(sc.scan);
    strv_free(&sc.roots);
    sbx_cmd_free(&sc.c);
    return rc;
}
