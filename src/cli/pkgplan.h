/*
 * What a pkgsrc build will do, once the scan is over: the scan resolved
 * (pkgsrc/resolve.h), the packages whose binary package is current set
 * aside (pkgsrc/uptodate.h, unless --all), and the rest made into the
 * config's jobs (config/config_pkgsrc.h), named by pkgpath.
 */
#ifndef BOB_CLI_PKGPLAN_H
#define BOB_CLI_PKGPLAN_H

#include <stdbool.h>

#include "cli/pkgscan.h"
#include "config/config.h"
#include "pkgsrc/resolve.h"

struct pkgplan {
    struct resolve res;
    struct strv skipped, reasons; /* jobs not built (resolution, scan failures) and why */
    struct strv uptodate;         /* jobs whose binary package is current */
    size_t nbuild;                /* jobs to build: cfg->njobs */
};

/*
 * Resolves scan (roots: the listed pkgpaths), decides what is up to date
 * (all: nothing is) and replaces cfg's jobs. Scan failures are printed on
 * stderr; with options.strict_scan they are an error. 0, or -1 with e.
 */
int pkgplan_make(struct config *cfg, const struct pkgscan_result *scan, const struct strv *roots,
                 bool all, struct pkgplan *plan, struct err *e);
void pkgplan_free(struct pkgplan *plan);
/* Why pkgpath is not a pkgpath bob scans, or NULL. */
const char *pkgplan_pkgpath_error(const char *s);

#endif
