/*
 * Whether a package's binary package is current, as bob (and pbulk)
 * decide it, so that it is not built again:
 *   - PACKAGES/All/<PKGNAME>.tgz exists ("package not found");
 *   - every file its +BUILD_VERSION records ("path: id", path relative to
 *     the pkgsrc tree) still exists and matches: an id starting with
 *     "$NetBSD" against the first "$NetBSD...$" of the file, any other id
 *     against the file's SHA-256 ("build file removed/changed: path");
 *   - every dependency its +CONTENTS records (@blddep) is still among the
 *     resolved dependencies ("dependencies changed: ..."; a resolved
 *     dependency that was not recorded is no reason, as in pbulk);
 *   - the binary packages of the recorded dependencies exist and are not
 *     newer than it ("dependency missing/refreshed: name").
 * A build-file reason wins over a dependency one. Over a resolution, a
 * package found out of date makes every package that depends on it out
 * of date too ("dependency refreshed: name"); one whose binary package is
 * merely missing does not (its dependents find out for themselves).
 */
#ifndef BOB_PKGSRC_UPTODATE_H
#define BOB_PKGSRC_UPTODATE_H

#include <stddef.h>

#include "pkgsrc/pbulk.h"
#include "pkgsrc/resolve.h"

/* Reads +BUILD_VERSION and +CONTENTS of a binary package (either may come back NULL). */
int uptodate_read_pkg(const char *path, char **build_version, char **contents, struct err *e);
/*
 * Checks pkgname's binary package in packages_all (PACKAGES/All) against
 * the tree at pkgsrc and its resolved dependencies deps (package names).
 * 0 when it is up to date; 1 with *why (malloc'd) when it must be built.
 */
int uptodate_check(const char *packages_all, const char *pkgsrc, const char *pkgname,
                   const char *const *deps, size_t ndeps, char **why);
/*
 * The check over the packages of r that are to be built (RESOLVE_OK):
 * why[i] (for r->v[i]) is NULL when it is up to date, else why it is
 * built. why has r->n entries; the caller frees them.
 */
void uptodate_run(const struct resolve *r, const struct pbulk_index *x, const char *packages_all,
                  const char *pkgsrc, char **why);

#endif
