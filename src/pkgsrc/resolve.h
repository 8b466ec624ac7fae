/*
 * Resolution of a scan, as pbulk and bob do it: every ALL_DEPENDS pattern
 * of a package resolves to the best scanned package (pattern.h); a
 * pattern that an earlier dependency of the same package already
 * satisfies adds nothing. With roots, only the packages of those
 * pkgpaths and what they need, transitively, are kept (a limited build);
 * without, every package is. Packages not to be built, with their reason:
 *   RESOLVE_SKIP      PKG_SKIP_REASON (the reason is its text)
 *   RESOLVE_FAIL      PKG_FAIL_REASON (its text), or a malformed pattern
 *   RESOLVE_UNRESOLVED  "no package satisfies zz>=9", "cat/pkg failed to
 *                     scan" (the pattern's pkgpath did not scan), or a
 *                     dependency cycle "cycle: a -> b -> a"
 *   RESOLVE_INDIRECT  "depends on cat/pkg, which is skipped: <its reason>"
 * A package depending on several of these names the worst (fail, then
 * unresolved, then skip). Job names are the pkgpaths; where several kept
 * packages share one, each adds "/<MULTI_VERSION values>" (or
 * "/<PKGNAME>" when those do not tell them apart).
 */
#ifndef BOB_PKGSRC_RESOLVE_H
#define BOB_PKGSRC_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "pkgsrc/pbulk.h"

enum resolve_state {
    RESOLVE_OK,
    RESOLVE_SKIP,
    RESOLVE_FAIL,
    RESOLVE_UNRESOLVED,
    RESOLVE_INDIRECT,
};

struct resolve_pkg {
    size_t idx;               /* into the index */
    enum resolve_state state; /* RESOLVE_OK: to be built */
    char *reason;             /* why not, or NULL */
    char *root_reason;        /* the reason at the root of an indirect skip */
    size_t *deps;             /* the resolved dependencies: indexes into resolve.v */
    size_t ndeps;
    char *job; /* the job name */
};

/* The kept packages, in index order. */
struct resolve {
    struct resolve_pkg *v;
    size_t n;
};

/* A pkgpath whose scan failed, and why. */
struct resolve_scanfail {
    const char *pkgpath;
    const char *reason;
};

/*
 * Resolves the scan x. roots (pkgpaths) limit the result to what they
 * need; NULL or empty keeps everything. fails are the pkgpaths that did
 * not scan. Fills out (free with resolve_free). Log lines (-v) say what
 * each pattern resolved to and why a package is not built.
 */
void resolve_run(const struct pbulk_index *x, const struct strv *roots,
                 const struct resolve_scanfail *fails, size_t nfails, struct resolve *out);
/* The kept package built from index entry idx, or -1. */
long resolve_find(const struct resolve *r, size_t idx);
/* The kept package whose job is called job, or -1. */
long resolve_find_job(const struct resolve *r, const char *job);
void resolve_free(struct resolve *r);

#endif
