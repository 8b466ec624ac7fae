/*
 * Resolution of a scan (see resolve.h). Written from pbulk's and bob's
 * documented behaviour: candidates are found through their package base
 * where the pattern names one, each distinct pattern is resolved once,
 * and skips are propagated to a fixed point.
 */
#include "pkgsrc/resolve.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkgsrc/pattern.h"

/* A string -> long map with open addressing (the keys are borrowed). */
struct resolve_map {
    const char **keys;
    long *vals;
    size_t cap, n;
};

static uint64_t resolve_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* The slot of key (len n) in m: where it is, or the empty one where it would go. */
static size_t resolve_slot(const struct resolve_map *m, const char *key, size_t n)
{
    size_t i = (size_t)resolve_hash(key, n) & (m->cap - 1);
    while (m->keys[i] && !(strncmp(m->keys[i], key, n) == 0 && m->keys[i][n] == '\0'))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void resolve_map_put(struct resolve_map *m, const char *key, long val)
{
    size_t i;
    if (2 * (m->n + 1) > m->cap) {
        struct resolve_map old = *m;
        m->cap = m->cap ? 2 * m->cap : 64;
        m->keys = xcalloc(m->cap, sizeof(*m->keys));
        m->vals = xcalloc(m->cap, sizeof(*m->vals));
        m->n = 0;
        for (size_t j = 0; j < old.cap; j++)
            if (old.keys[j])
                resolve_map_put(m, old.keys[j], old.vals[j]);
        free(old.keys);
        free(old.vals);
    }
    i = resolve_slot(m, key, strlen(key));
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

/* The value of the key [key, key+n), or def. */
static long resolve_map_getn(const struct resolve_map *m, const char *key, size_t n, long def)
{
    size_t i;
    if (!m->cap)
        return def;
    i = resolve_slot(m, key, n);
    return m->keys[i] ? m->vals[i] : def;
}

static void resolve_map_free(struct resolve_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* What a resolution works on. */
struct resolve_work {
    const struct pbulk_index *x;
    const struct resolve_scanfail *fails;
    size_t nfails;
    bool *dup, *active;
    enum resolve_state *state;
    int *rank; /* of the root cause: 3 fail, 2 unresolved, 1 skip, 0 none */
    char **reason, **root_reason, **job;
    size_t **deps, *ndeps;
    struct resolve_map bases; /* package base -> first index in `bybase` */
    size_t *bybase;           /* indexes sorted by package base */
    struct strv basestr;      /* the keys of `bases` */
    struct resolve_map cache; /* pattern -> best index, or -1 */
};

static const struct pbulk_index *resolve_sort_x;

static int resolve_cmp_base(const void *a, const void *b)
{
    const char *x = resolve_sort_x->v[*(const size_t *)a].pkgname;
    const char *y = resolve_sort_x->v[*(const size_t *)b].pkgname;
    size_t lx = pattern_pkgbase_len(x), ly = pattern_pkgbase_len(y);
    int c = strncmp(x, y, lx < ly ? lx : ly);
    if (c == 0 && lx != ly)
        c = lx < ly ? -1 : 1;
    if (c == 0)
        c = *(const size_t *)a < *(const size_t *)b ? -1 : 1;
    return c;
}

/* Indexes every package (not repeated ones) by its package base. */
static void resolve_index_bases(struct resolve_work *w)
{
    size_t n = 0;
    w->bybase = xcalloc(w->x->n + 1, sizeof(size_t));
    for (size_t i = 0; i < w->x->n; i++)
        if (!w->dup[i])
            w->bybase[n++] = i;
    resolve_sort_x = w->x;
    qsort(w->bybase, n, sizeof(size_t), resolve_cmp_base);
    w->bybase[n] = SIZE_MAX;
    for (size_t k = n; k-- > 0;) {
        const char *name = w->x->v[w->bybase[k]].pkgname;
        char *base = xstrndup(name, pattern_pkgbase_len(name));
        /* Written from the end: the first of a run of equal bases wins. */
        strv_push_owned(&w->basestr, base);
        resolve_map_put(&w->bases, base, (long)k);
    }
}

/* Whether candidate i is better than the current best (pbulk's order). */
static bool resolve_better(const struct resolve_work *w, size_t i, long best)
{
    const char *a = w->x->v[i].pkgname, *b;
    const char *va, *vb;
    int cmp;
    if (best < 0)
        return true;
    b = w->x->v[best].pkgname;
    va = strrchr(a, '-');
    vb = strrchr(b, '-');
    cmp = pattern_dewey_cmp(va ? va + 1 : "", vb ? vb + 1 : "");
    return cmp > 0 || (cmp == 0 && strcmp(a, b) > 0);
}

/* Considers the packages whose base is base (length n) for pattern. */
static void resolve_by_base(const struct resolve_work *w, const char *pattern, const char *base,
                            size_t n, long *best)
{
    long k = resolve_map_getn(&w->bases, base, n, -1);
    if (k < 0)
        return;
    for (size_t j = (size_t)k; w->bybase[j] != SIZE_MAX; j++) {
        size_t i = w->bybase[j];
        const char *name = w->x->v[i].pkgname;
        if (pattern_pkgbase_len(name) != n || strncmp(name, base, n) != 0)
            break;
        if (pattern_match(pattern, name) == 1 && resolve_better(w, i, *best))
            *best = (long)i;
    }
}

/* The best package for pattern (pattern.h), or -1. */
static long resolve_best(const struct resolve_work *w, const char *pattern)
{
    struct strv alts = {0};
    char base[256];
    long best = -1;
    bool all_based = pattern_expand(pattern, &alts) == 0;

    for (size_t a = 0; a < alts.n && all_based; a++)
        all_based = pattern_pkgbase(alts.v[a], base, sizeof(base));
    if (all_based) {
        for (size_t a = 0; a < alts.n; a++) {
            pattern_pkgbase(alts.v[a], base, sizeof(base));
            resolve_by_base(w, pattern, base, strlen(base), &best);
        }
    } else {
        for (size_t i = 0; i < w->x->n; i++)
            if (!w->dup[i] && pattern_match(pattern, w->x->v[i].pkgname) == 1 &&
                resolve_better(w, i, best))
                best = (long)i;
    }
    strv_free(&alts);
    return best;
}

/* Appends text to a "; "-separated reason. */
static void resolve_add_reason(char **reason, const char *text)
{
    char *r = *reason ? xasprintf("%s; %s", *reason, text) : xstrdup(text);
    free(*reason);
    *reason = r;
}

/* The reason a dependency's pkgpath gives when nothing satisfies its pattern. */
static char *resolve_missing(const struct resolve_work *w, const char *pattern, const char *path)
{
    for (size_t f = 0; f < w->nfails; f++)
        if (strcmp(w->fails[f].pkgpath, path) == 0)
            return xasprintf("no package satisfies %s: %s failed to scan", pattern, path);
    return xasprintf("no package satisfies %s", pattern);
}

/* Resolves the dependencies of package i; newly needed packages go on the stack. */
static void resolve_package(struct resolve_work *w, size_t i, size_t *stack, size_t *nstack)
{
    const struct pbulk_pkg *p = &w->x->v[i];
    for (size_t d = 0; d < p->dep_pattern.n; d++) {
        const char *pat = p->dep_pattern.v[d];
        long best;
        bool satisfied = false;

        if (pattern_check(pat) < 0) {
            char *why = xasprintf("malformed dependency pattern %s", pat);
            if (w->state[i] == RESOLVE_OK || w->state[i] == RESOLVE_UNRESOLVED) {
                w->state[i] = RESOLVE_FAIL;
                free(w->reason[i]);
                w->reason[i] = why;
                w->rank[i] = 3;
            } else {
                free(why);
            }
            continue;
        }
        best = resolve_map_getn(&w->cache, pat, strlen(pat), -2);
        if (best == -2) {
            best = resolve_best(w, pat);
            resolve_map_put(&w->cache, pat, best);
            log_debug("resolve: %s: %s -> %s", p->pkgname, pat,
                      best >= 0 ? w->x->v[best].pkgname : "nothing");
        }
        if (best < 0) {
            char *why = resolve_missing(w, pat, p->dep_path.v[d]);
            if (w->state[i] == RESOLVE_OK || w->state[i] == RESOLVE_UNRESOLVED) {
                w->state[i] = RESOLVE_UNRESOLVED;
                w->rank[i] = 2;
                resolve_add_reason(&w->reason[i], why);
            }
            free(why);
            continue;
        }
        for (size_t k = 0; k < w->ndeps[i] && !satisfied; k++)
            satisfied = w->deps[i][k] == (size_t)best ||
                        pattern_match(pat, w->x->v[w->deps[i][k]].pkgname) == 1;
        if (!satisfied) {
            w->deps[i] = xrealloc(w->deps[i], (w->ndeps[i] + 1) * sizeof(size_t));
            w->deps[i][w->ndeps[i]++] = (size_t)best;
        }
        if (!w->active[best]) {
            w->active[best] = true;
            stack[(*nstack)++] = (size_t)best;
        }
    }
}

/* A job name made of the allowed characters: the others become '_'. */
static char *resolve_clean_name(char *s)
{
    for (char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '+' || *c == '-' || *c == '/'))
            *c = '_';
    return s;
}

/* The distinguishing part of a MULTI_VERSION package's job name: its values. */
static char *resolve_variant(const struct pbulk_pkg *p)
{
    struct buf b = {0};
    for (size_t i = 0; i < p->multi_version.n; i++) {
        const char *eq = strchr(p->multi_version.v[i], '=');
        const char *v = eq ? eq + 1 : p->multi_version.v[i];
        if (*v)
            buf_printf(&b, "%s%s", b.len ? "-" : "", v);
    }
    if (!b.p || !*b.p) {
        buf_free(&b);
        return NULL;
    }
    return resolve_clean_name(b.p);
}

/* Names the jobs: the pkgpath, plus what tells apart several packages of one pkgpath. */
static void resolve_name_jobs(struct resolve_work *w)
{
    const struct pbulk_index *x = w->x;
    struct resolve_map count = {0}; /* pkgpath -> how many kept packages have it */
    for (size_t i = 0; i < x->n; i++)
        if (w->active[i] && !w->dup[i])
            resolve_map_put(&count, x->v[i].pkgpath,
                            resolve_map_getn(&count, x->v[i].pkgpath, strlen(x->v[i].pkgpath), 0) +
                                1);
    for (size_t i = 0; i < x->n; i++) {
        char *v;
        bool unique;
        if (!w->active[i] || w->dup[i])
            continue;
        if (resolve_map_getn(&count, x->v[i].pkgpath, strlen(x->v[i].pkgpath), 0) == 1) {
            w->job[i] = xstrdup(x->v[i].pkgpath);
            continue;
        }
        /* Rare (MULTI_VERSION): the others of this pkgpath are looked at one by one. */
        v = resolve_variant(&x->v[i]);
        unique = v != NULL;
        for (size_t j = 0; j < x->n && unique; j++) {
            char *o;
            if (j == i || !w->active[j] || w->dup[j] ||
                strcmp(x->v[j].pkgpath, x->v[i].pkgpath) != 0)
                continue;
            o = resolve_variant(&x->v[j]);
            unique = !o || strcmp(o, v) != 0;
            free(o);
        }
        if (!unique) {
            free(v);
            v = resolve_clean_name(xstrdup(x->v[i].pkgname));
        }
        w->job[i] = xasprintf("%s/%s", x->v[i].pkgpath, v);
        free(v);
    }
    resolve_map_free(&count);
}

/* Marks the dependents of skipped packages, to a fixed point. */
static void resolve_propagate(struct resolve_work *w)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < w->x->n; i++) {
            long worst = -1;
            if (!w->active[i] || w->dup[i] || w->state[i] != RESOLVE_OK)
                continue;
            for (size_t k = 0; k < w->ndeps[i]; k++) {
                size_t d = w->deps[i][k];
                if (w->state[d] != RESOLVE_OK && (worst < 0 || w->rank[d] > w->rank[worst]))
                    worst = (long)d;
            }
            if (worst < 0)
                continue;
            w->state[i] = RESOLVE_INDIRECT;
            w->rank[i] = w->rank[worst];
            w->root_reason[i] =
                xstrdup(w->root_reason[worst] ? w->root_reason[worst] : w->reason[worst]);
            w->reason[i] =
                xasprintf("depends on %s, which is skipped: %s", w->job[worst], w->root_reason[i]);
            log_debug("resolve: %s is skipped: %s", w->job[i], w->reason[i]);
            changed = true;
        }
    }
}

/*
 * Marks the packages that depend on themselves through others as
 * unresolved, each with a cycle it is on: a depth-first walk over the
 * packages to build; a dependency still on the walk's path closes one.
 */
static void resolve_cycles(struct resolve_work *w)
{
    size_t n = w->x->n;
    unsigned char *color = xcalloc(n ? n : 1, 1); /* 0 new, 1 on the path, 2 done */
    size_t *path = xcalloc(n ? n : 1, sizeof(size_t)), *next = xcalloc(n ? n : 1, sizeof(size_t));
    bool found = false;

    for (size_t r = 0; r < n; r++) {
        size_t depth = 0;
        if (color[r] || !w->active[r] || w->dup[r] || w->state[r] != RESOLVE_OK)
            continue;
        path[depth] = r;
        next[depth++] = 0;
        color[r] = 1;
        while (depth > 0) {
            size_t u = path[depth - 1];
            if (next[depth - 1] < w->ndeps[u]) {
                size_t v = w->deps[u][next[depth - 1]++];
                if (w->state[v] != RESOLVE_OK)
                    continue;
                if (color[v] == 1) {
                    struct buf b = {0};
                    size_t s = depth;
                    while (path[s - 1] != v)
                        s--;
                    for (size_t k = s - 1; k < depth; k++)
                        buf_printf(&b, "%s -> ", w->job[path[k]]);
                    buf_adds(&b, w->job[v]);
                    for (size_t k = s - 1; k < depth; k++) {
                        size_t m = path[k];
                        if (w->reason[m])
                            continue;
                        w->reason[m] = xasprintf("dependency cycle: %s", b.p);
                        w->rank[m] = 2;
                    }
                    found = true;
                    buf_free(&b);
                } else if (color[v] == 0) {
                    color[v] = 1;
                    path[depth] = v;
                    next[depth++] = 0;
                }
            } else {
                color[u] = 2;
                depth--;
            }
        }
    }
    if (found) {
        for (size_t i = 0; i < n; i++)
            if (w->state[i] == RESOLVE_OK && w->reason[i]) {
                w->state[i] = RESOLVE_UNRESOLVED;
                log_debug("resolve: %s is skipped: %s", w->job[i], w->reason[i]);
            }
        resolve_propagate(w);
    }
    free(color);
    free(path);
    free(next);
}

void resolve_run(const struct pbulk_index *x, const struct strv *roots,
                 const struct resolve_scanfail *fails, size_t nfails, struct resolve *out)
{
    struct resolve_work w = {.x = x, .fails = fails, .nfails = nfails};
    size_t n = x->n, *stack, nstack = 0, kept = 0;
    struct resolve_map names = {0}, rootset = {0};
    long *pos;

    memset(out, 0, sizeof(*out));
    w.dup = xcalloc(n + 1, sizeof(bool));
    w.active = xcalloc(n + 1, sizeof(bool));
    w.state = xcalloc(n + 1, sizeof(*w.state));
    w.rank = xcalloc(n + 1, sizeof(int));
    w.reason = xcalloc(n + 1, sizeof(char *));
    w.root_reason = xcalloc(n + 1, sizeof(char *));
    w.job = xcalloc(n + 1, sizeof(char *));
    w.deps = xcalloc(n + 1, sizeof(size_t *));
    w.ndeps = xcalloc(n + 1, sizeof(size_t));
    stack = xcalloc(n + 1, sizeof(size_t));
    for (size_t i = 0; roots && i < roots->n; i++)
        resolve_map_put(&rootset, roots->v[i], 1);

    for (size_t i = 0; i < n; i++) {
        const struct pbulk_pkg *p = &x->v[i];
        if (resolve_map_getn(&names, p->pkgname, strlen(p->pkgname), -1) >= 0) {
            w.dup[i] = true;
            log_debug("resolve: %s (%s) repeats a package name: ignored", p->pkgname, p->pkgpath);
            continue;
        }
        resolve_map_put(&names, p->pkgname, (long)i);
        if (p->skip_reason) {
            w.state[i] = RESOLVE_SKIP;
            w.reason[i] = xstrdup(p->skip_reason);
            w.rank[i] = 1;
        } else if (p->fail_reason) {
            w.state[i] = RESOLVE_FAIL;
            w.reason[i] = xstrdup(p->fail_reason);
            w.rank[i] = 3;
        }
        if (rootset.n == 0 || resolve_map_getn(&rootset, p->pkgpath, strlen(p->pkgpath), -1) > 0) {
            w.active[i] = true;
            stack[nstack++] = i;
        }
    }
    resolve_index_bases(&w);
    /* Each package once: its dependencies become active and are resolved in turn. */
    while (nstack > 0)
        resolve_package(&w, stack[--nstack], stack, &nstack);
    resolve_name_jobs(&w);
    for (size_t i = 0; i < n; i++)
        if (w.active[i] && !w.dup[i] && w.state[i] != RESOLVE_OK)
            log_debug("resolve: %s (%s) is skipped: %s", w.job[i], x->v[i].pkgname, w.reason[i]);
    resolve_propagate(&w);
    resolve_cycles(&w);

    pos = xcalloc(n + 1, sizeof(long));
    for (size_t i = 0; i < n; i++)
        pos[i] = w.active[i] && !w.dup[i] ? (long)kept++ : -1;
    out->v = xcalloc(kept + 1, sizeof(*out->v));
    for (size_t i = 0; i < n; i++) {
        struct resolve_pkg *r;
        if (pos[i] < 0) {
            free(w.deps[i]);
            free(w.reason[i]);
            free(w.root_reason[i]);
            free(w.job[i]);
            continue;
        }
        r = &out->v[out->n++];
        r->idx = i;
        r->state = w.state[i];
        r->reason = w.reason[i];
        r->root_reason = w.root_reason[i];
        r->job = w.job[i];
        r->deps = w.deps[i];
        r->ndeps = w.ndeps[i];
        for (size_t k = 0; k < r->ndeps; k++)
            r->deps[k] = (size_t)pos[r->deps[k]];
    }
    free(pos);
    free(stack);
    free(w.dup);
    free(w.active);
    free(w.state);
    free(w.rank);
    free(w.reason);
    free(w.root_reason);
    free(w.job);
    free(w.deps);
    free(w.ndeps);
    free(w.bybase);
    resolve_map_free(&w.bases);
    strv_free(&w.basestr);
    resolve_map_free(&w.cache);
    resolve_map_free(&names);
    resolve_map_free(&rootset);
}

long resolve_find(const struct resolve *r, size_t idx)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].idx == idx)
            return (long)i;
    return -1;
}

long resolve_find_job(const struct resolve *r, const char *job)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].job, job) == 0)
            return (long)i;
    return -1;
}

void resolve_free(struct resolve *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].reason);
        free(r->v[i].root_reason);
        free(r->v[i].job);
        free(r->v[i].deps);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}
