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
 * The scan is kept in the build state (options.dbdir): each pkgpath's
 * output with a stamp of its directory and of the tree's mk/ (files'
 * paths, sizes and mtimes, as the host sees pkgsrc.basedir). A later scan
 * takes from it every pkgpath whose stamp is unchanged, and runs
 * sandboxes only for the rest; `bob scan` (rescan) scans everything again
 * and `bob clean` forgets it. An edit that the stamps cannot see (a file
 * of another package included by this one) needs one of those two, as
 * with bob, which keeps its scan until `bob clean`.
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
    size_t cached;        /* pkgpaths taken from the cache */
    bool interrupted;
    char *error; /* an error of the run itself (sandboxes), or NULL */
};

struct pkgscan;
typedef void (*pkgscan_cb)(struct pkgscan *s, void *data);

/*
 * Starts the scan of roots (pkgpaths) on c's loop, with c's context and
 * config; tty says whether stderr shows a live display; rescan: nothing is
 * taken from the cache. done runs once, from the loop, when the last
 * wave's sandboxes are gone (or on the next pass, when the cache had it all).
 */
struct pkgscan *pkgscan_start(struct sbx_cmd *c, const struct strv *roots, bool tty, bool rescan,
                              pkgscan_cb done, void *data);
/* Ctrl+C: no new wave and no new share; now: kill the running ones. */
void pkgscan_stop(struct pkgscan *s, bool now);
struct pkgscan_result *pkgscan_result(struct pkgscan *s);
void pkgscan_free(struct pkgscan *s);
/* Frees what a result holds. */
void pkgscan_result_free(struct pkgscan_result *r);

#endif
