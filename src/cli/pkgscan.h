/*
 * The scan of a pkgsrc build: `bmake pbulk-index` of the listed pkgpaths
 * in sandboxes, then of every pkgpath their ALL_DEPENDS name, wave after
 * wave, until nothing new is named. Each wave is a run of the build engine
 * (src/sandbox/build.c) with min(options.scan_threads, pkgpaths) jobs,
 * each scanning its share of the pkgpaths in one stage ("pbulk-index"),
 * so that a sandbox's pre- and post-build (bootstrap kit, hooks) run once
 * per share rather than once per pkgpath. The stage marks each pkgpath's
 * output in its log (<logdir>/scan/<first pkgpath>/pbulk-index.log),
 * which is parsed when the wave is over and removed unless it shows a
 * failure (or options.keep_logs is set).
 * Seam: the scan is not kept between runs yet; pkgscan_result is what a
 * build-state database would store and give back while the tree is
 * unchanged.
 */
#ifndef BOB_CLI_PKGSCAN_H
#define BOB_CLI_PKGSCAN_H

#include <stdbool.h>

#include "cli/sbx_cmd.h"
#include "pkgsrc/pbulk.h"

struct pkgscan_result {
    struct pbulk_index index;
    struct strv failed;   /* pkgpaths whose scan failed ... */
    struct strv failures; /* ... and why (with the output's last lines), same order */
    char *packages;       /* PACKAGES as pkgsrc gave it, or NULL */
    size_t scanned;       /* pkgpaths scanned */
    bool interrupted;
    char *error; /* an error of the run itself (sandboxes), or NULL */
};

struct pkgscan;
typedef void (*pkgscan_cb)(struct pkgscan *s, void *data);

/*
 * Starts the scan of roots (pkgpaths) on c's loop, with c's context and
 * config; tty says whether stderr shows a live display. done runs once,
 * when the last wave's sandboxes are gone.
 */
struct pkgscan *pkgscan_start(struct sbx_cmd *c, const struct strv *roots, bool tty,
                              pkgscan_cb done, void *data);
/* Ctrl+C: no new wave and no new share; now: kill the running ones. */
void pkgscan_stop(struct pkgscan *s, bool now);
struct pkgscan_result *pkgscan_result(struct pkgscan *s);
void pkgscan_free(struct pkgscan *s);
/* Frees what a result holds. */
void pkgscan_result_free(struct pkgscan_result *r);

#endif
