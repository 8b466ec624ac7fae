/*
 * The output of pkgsrc's `bmake pbulk-index`: one record per package that
 * a pkgpath yields (several with MULTI_VERSION), each starting with a
 * PKGNAME= line followed by KEY=VALUE lines:
 *   PKGNAME          the package name with its version
 *   PKG_LOCATION     its pkgpath (pbulk's scanner adds it; bob sets it)
 *   ALL_DEPENDS      "pattern:../../cat/pkg" words: bootstrap, tool,
 *                    build and run-time dependencies
 *   PKG_SKIP_REASON, PKG_FAIL_REASON   why it is not to be built
 *   NO_BIN_ON_FTP, RESTRICTED, CATEGORIES, MAINTAINER, USE_DESTDIR
 *   BOOTSTRAP_PKG    "yes" for the packages of the bootstrap kit
 *   USERGROUP_PHASE  when its users and groups must exist
 *   SCAN_DEPENDS     the files the scan read
 *   MAKE_JOBS_SAFE   "no" when it cannot build in parallel
 *   PBULK_WEIGHT     its weight in the build order
 *   MULTI_VERSION    the variables ("PYTHON_VERSION_REQD=27") that select
 *                    this variant: every make call of it passes them
 * Unknown keys are ignored (DEPENDS of pbulk's presolve files among them);
 * a record repeating a PKGNAME of the same output is dropped (the first is the
 * default variant, as bob keeps it).
 */
#ifndef BOB_PKGSRC_PBULK_H
#define BOB_PKGSRC_PBULK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

struct pbulk_pkg {
    char *pkgname;
    char *pkgpath;           /* PKG_LOCATION, "cat/pkg" */
    struct strv dep_pattern; /* ALL_DEPENDS: the patterns ... */
    struct strv dep_path;    /* ... and their pkgpaths ("cat/pkg"), same order */
    char *skip_reason;       /* NULL when empty */
    char *fail_reason;       /* NULL when empty */
    char *no_bin_on_ftp;
    char *restricted;
    char *categories;
    char *maintainer;
    char *use_destdir;
    bool bootstrap_pkg;
    char *usergroup_phase; /* NULL when empty */
    struct strv scan_depends;
    struct strv multi_version; /* "VAR=value" words */
    bool make_jobs_safe;       /* default true */
    unsigned weight;           /* PBULK_WEIGHT, default 100 */
};

/* Every package of a scan, in the order found. */
struct pbulk_index {
    struct pbulk_pkg *v;
    size_t n, cap;
};

/*
 * Parses the text (len bytes) that pbulk-index printed for pkgpath and
 * appends its packages to x (their pkgpath is pkgpath, or PKG_LOCATION
 * when pkgpath is NULL). 0, or -EINVAL with e naming the line: a line
 * that is not KEY=VALUE, a key before the first PKGNAME, an empty
 * PKGNAME, an ALL_DEPENDS word that is not "pattern:dir", no PKGNAME at
 * all. On error x is left as it was.
 */
int pbulk_parse(const char *text, size_t len, const char *pkgpath, struct pbulk_index *x,
                struct err *e);
/* The package called pkgname, or -1. */
long pbulk_find(const struct pbulk_index *x, const char *pkgname);
void pbulk_index_free(struct pbulk_index *x);

#endif
