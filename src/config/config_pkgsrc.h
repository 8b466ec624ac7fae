/*
 * The jobs of a pkgsrc build: once the scan is resolved, the packages to
 * build become cfg->jobs through lua/pkgsrc.lua (embedded), which writes
 * their stages. The callers pass plain values, not the scan's types.
 */
#ifndef BOB_CONFIG_PKGSRC_H
#define BOB_CONFIG_PKGSRC_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* One package to build. */
struct config_pkg {
    const char *name;    /* the job name */
    const char *pkgpath; /* "cat/pkg" */
    const char *pkgname;
    const char *const *depends; /* the package names its dependencies resolved to */
    size_t ndepends;
    const size_t *job_deps; /* the dependencies built in this run: indexes into the list */
    size_t njob_deps;
    const char *const *multi_version; /* "VAR=value" */
    size_t nmulti;
    bool bootstrap;
    const char *usergroup_phase; /* or NULL */
};

/*
 * Replaces cfg's jobs by one job per package of pkgs[0..n), in that order.
 * 0, or -1 with e saying why (an internal error of the module).
 */
int config_pkgsrc_jobs(struct config *cfg, const struct config_pkg *pkgs, size_t n, struct err *e);
/* Frees cfg's jobs only (config_free frees them too). */
void config_pkgsrc_free_jobs(struct config *cfg);

#endif
