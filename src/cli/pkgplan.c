/* What a pkgsrc build will do (see pkgplan.h). */
#include "cli/pkgplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_pkgsrc.h"
#include "pkgsrc/uptodate.h"

const char *pkgplan_pkgpath_error(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!*s)
        return "empty";
    if (!slash || strchr(slash + 1, '/') || slash == s || !slash[1])
        return "must be of the form category/package";
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/") !=
        strlen(s))
        return "only letters, digits, '.', '_', '+' and '-' are allowed";
    if (!strncmp(s, "./", 2) || !strncmp(s, "../", 3) || !strcmp(slash, "/.") ||
        !strcmp(slash, "/.."))
        return "'.' and '..' are not package paths";
    return NULL;
}

int pkgplan_make(struct config *cfg, const struct pkgscan_result *scan, const struct strv *roots,
                 bool all, struct pkgplan *plan, struct err *e)
{
    const struct pbulk_index *x = &scan->index;
    struct resolve_scanfail *fails = xcalloc(scan->failed.n + 1, sizeof(*fails));
    struct config_pkg *pkgs = NULL;
    char **why = NULL, *packages_all = NULL;
    long *jobpos = NULL;
    size_t nb = 0;
    int rc = 0;

    memset(plan, 0, sizeof(*plan));
    if (scan->failed.n > 0) {
        fprintf(stderr, "Scan errors:\n");
        for (size_t i = 0; i < scan->failed.n; i++)
            fprintf(stderr, "  %s: %s\n", scan->failed.v[i], scan->failures.v[i]);
        if (cfg->strict_scan) {
            free(fails);
            return err_set(e, "%zu package path%s failed to scan (options.strict_scan is set)",
                           scan->failed.n, scan->failed.n == 1 ? "" : "s");
        }
    }
    for (size_t i = 0; i < scan->failed.n; i++) {
        fails[i].pkgpath = scan->failed.v[i];
        fails[i].reason = scan->failures.v[i];
        if (strv_contains(roots, scan->failed.v[i])) {
            strv_push(&plan->skipped, scan->failed.v[i]);
            strv_push_owned(&plan->reasons, xasprintf("scan failed: %s", scan->failures.v[i]));
        }
    }
    resolve_run(x, roots, fails, scan->failed.n, &plan->res);
    free(fails);
    why = xcalloc(plan->res.n + 1, sizeof(char *));
    if (all) {
        for (size_t i = 0; i < plan->res.n; i++)
            why[i] = xstrdup("--all");
    } else if (!scan->packages) {
        log_warn("pkgsrc did not say where PACKAGES is: every package is built");
        for (size_t i = 0; i < plan->res.n; i++)
            why[i] = xstrdup("PACKAGES unknown");
    } else {
        packages_all = xasprintf("%s/All", scan->packages);
        uptodate_run(&plan->res, x, packages_all, cfg->pkgsrc_basedir, why);
    }
    /* The jobs: the packages to build, in the order of the scan. */
    jobpos = xcalloc(plan->res.n + 1, sizeof(long));
    pkgs = xcalloc(plan->res.n + 1, sizeof(*pkgs));
    for (size_t i = 0; i < plan->res.n; i++) {
        const struct resolve_pkg *r = &plan->res.v[i];
        jobpos[i] = -1;
        if (r->state != RESOLVE_OK) {
            strv_push(&plan->skipped, r->job);
            strv_push(&plan->reasons, r->reason ? r->reason : "skipped");
        } else if (!why[i]) {
            strv_push(&plan->uptodate, r->job);
        } else {
            jobpos[i] = (long)nb++;
        }
    }
    for (size_t i = 0; i < plan->res.n; i++) {
        const struct resolve_pkg *r = &plan->res.v[i];
        const struct pbulk_pkg *p = &x->v[r->idx];
        struct config_pkg *c;
        const char **deps;
        size_t *jd, njd = 0;
        if (jobpos[i] < 0)
            continue;
        c = &pkgs[jobpos[i]];
        deps = xcalloc(r->ndeps + 1, sizeof(char *));
        jd = xcalloc(r->ndeps + 1, sizeof(size_t));
        for (size_t k = 0; k < r->ndeps; k++) {
            deps[k] = x->v[plan->res.v[r->deps[k]].idx].pkgname;
            if (jobpos[r->deps[k]] >= 0)
                jd[njd++] = (size_t)jobpos[r->deps[k]];
        }
        c->name = r->job;
        c->pkgpath = p->pkgpath;
        c->pkgname = p->pkgname;
        c->depends = deps;
        c->ndepends = r->ndeps;
        c->job_deps = jd;
        c->njob_deps = njd;
        c->multi_version = (const char *const *)p->multi_version.v;
        c->nmulti = p->multi_version.n;
        c->bootstrap = p->bootstrap_pkg;
        c->usergroup_phase = p->usergroup_phase;
        log_debug("build: %s (%s): %s", r->job, p->pkgname, why[i]);
    }
    plan->nbuild = nb;
    if (config_pkgsrc_jobs(cfg, pkgs, nb, e) < 0)
        rc = -1;
    for (size_t i = 0; i < nb; i++) {
        free((void *)pkgs[i].depends);
        free((void *)pkgs[i].job_deps);
    }
    free(pkgs);
    free(jobpos);
    for (size_t i = 0; i < plan->res.n; i++)
        free(why[i]);
    free(why);
    free(packages_all);
    return rc;
}

void pkgplan_free(struct pkgplan *plan)
{
    resolve_free(&plan->res);
    strv_free(&plan->skipped);
    strv_free(&plan->reasons);
    strv_free(&plan->uptodate);
}
