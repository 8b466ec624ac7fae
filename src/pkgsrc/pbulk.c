/* The pbulk-index format (see pbulk.h). */
#include "pkgsrc/pbulk.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Frees what one package holds. */
static void pbulk_pkg_free(struct pbulk_pkg *p)
{
    free(p->pkgname);
    free(p->pkgpath);
    strv_free(&p->dep_pattern);
    strv_free(&p->dep_path);
    free(p->skip_reason);
    free(p->fail_reason);
    free(p->no_bin_on_ftp);
    free(p->restricted);
    free(p->categories);
    free(p->maintainer);
    free(p->use_destdir);
    free(p->usergroup_phase);
    strv_free(&p->scan_depends);
    strv_free(&p->multi_version);
}

void pbulk_index_free(struct pbulk_index *x)
{
    for (size_t i = 0; i < x->n; i++)
        pbulk_pkg_free(&x->v[i]);
    free(x->v);
    memset(x, 0, sizeof(*x));
}

long pbulk_find(const struct pbulk_index *x, const char *pkgname)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->v[i].pkgname, pkgname) == 0)
            return (long)i;
    return -1;
}

/* Appends the blank-separated words of [s, s+n) to v. */
static void pbulk_words(const char *s, size_t n, struct strv *v)
{
    const char *end = s + n;
    while (s < end) {
        const char *w;
        while (s < end && isspace((unsigned char)*s))
            s++;
        w = s;
        while (s < end && !isspace((unsigned char)*s))
            s++;
        if (s > w)
            strv_push_owned(v, xstrndup(w, (size_t)(s - w)));
    }
}

/*
 * The pkgpath of a dependency's directory: "../../cat/pkg" (the usual
 * form), or any path whose last two components are it.
 */
static char *pbulk_dep_dir(const char *dir)
{
    const char *end = dir + strlen(dir), *slash = NULL, *start = dir;
    while (end > dir && end[-1] == '/')
        end--;
    for (const char *p = end - 1; p >= dir; p--)
        if (*p == '/') {
            if (slash) {
                start = p + 1;
                break;
            }
            slash = p;
        }
    if (!slash || slash == start || slash + 1 >= end)
        return NULL;
    if ((slash - start == 2 && strncmp(start, "..", 2) == 0) ||
        (slash - start == 1 && start[0] == '.') ||
        (end - slash == 3 && slash[1] == '.' && slash[2] == '.') ||
        (end - slash == 2 && slash[1] == '.'))
        return NULL;
    /* It becomes a job name and a word of the scan's and the stages' scripts. */
    for (const char *p = start; p < end; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._+-/", *p))
            return NULL;
    return xstrndup(start, (size_t)(end - start));
}

/* A value, or NULL when it is empty. */
static char *pbulk_value(const char *v, size_t n)
{
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    return n ? xstrndup(v, n) : NULL;
}

/* Sets the field key of p from the value [v, v+n); -EINVAL with e when it is malformed. */
static int pbulk_field(struct pbulk_pkg *p, const char *key, size_t klen, const char *v, size_t n,
                       unsigned line, struct err *e)
{
#define PBULK_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
#define PBULK_STR(k, field)                                                                        \
    if (PBULK_IS(k)) {                                                                             \
        free(p->field);                                                                            \
        p->field = pbulk_value(v, n);                                                              \
        return 0;                                                                                  \
    }
    PBULK_STR("PKG_SKIP_REASON", skip_reason)
    PBULK_STR("PKG_FAIL_REASON", fail_reason)
    PBULK_STR("NO_BIN_ON_FTP", no_bin_on_ftp)
    PBULK_STR("RESTRICTED", restricted)
    PBULK_STR("CATEGORIES", categories)
    PBULK_STR("MAINTAINER", maintainer)
    PBULK_STR("USE_DESTDIR", use_destdir)
    PBULK_STR("USERGROUP_PHASE", usergroup_phase)
    if (PBULK_IS("PKG_LOCATION")) {
        char *loc = pbulk_value(v, n);
        if (loc && !p->pkgpath)
            p->pkgpath = loc;
        else
            free(loc);
        return 0;
    }
    if (PBULK_IS("ALL_DEPENDS")) {
        struct strv words = {0};
        strv_free(&p->dep_pattern);
        strv_free(&p->dep_path);
        pbulk_words(v, n, &words);
        for (size_t i = 0; i < words.n; i++) {
            char *colon = strchr(words.v[i], ':'), *dir;
            if (!colon || colon == words.v[i] || strchr(colon + 1, ':') ||
                !(dir = pbulk_dep_dir(colon + 1))) {
                err_set(e, "line %u: ALL_DEPENDS: '%s' is not pattern:../../category/package", line,
                        words.v[i]);
                strv_free(&words);
                return -EINVAL;
            }
            strv_push_owned(&p->dep_pattern, xstrndup(words.v[i], (size_t)(colon - words.v[i])));
            strv_push_owned(&p->dep_path, dir);
        }
        strv_free(&words);
        return 0;
    }
    if (PBULK_IS("SCAN_DEPENDS")) {
        strv_free(&p->scan_depends);
        pbulk_words(v, n, &p->scan_depends);
        return 0;
    }
    if (PBULK_IS("MULTI_VERSION")) {
        strv_free(&p->multi_version);
        pbulk_words(v, n, &p->multi_version);
        return 0;
    }
    if (PBULK_IS("BOOTSTRAP_PKG")) {
        char *s = pbulk_value(v, n);
        p->bootstrap_pkg = s && strcasecmp(s, "yes") == 0;
        free(s);
        return 0;
    }
    if (PBULK_IS("MAKE_JOBS_SAFE")) {
        char *s = pbulk_value(v, n);
        p->make_jobs_safe = !s || strcasecmp(s, "no") != 0;
        free(s);
        return 0;
    }
    if (PBULK_IS("PBULK_WEIGHT")) {
        char *s = pbulk_value(v, n);
        unsigned long w;
        p->weight = s && str_to_uint(s, &w) && w <= 1000000 ? (unsigned)w : 100;
        free(s);
        return 0;
    }
#undef PBULK_STR
#undef PBULK_IS
    return 0; /* an unknown key */
}

int pbulk_parse(const char *text, size_t len, const char *pkgpath, struct pbulk_index *x,
                struct err *e)
{
    const char *p = text, *end = text + len;
    size_t first = x->n;
    unsigned line = 0;
    struct pbulk_pkg *cur = NULL;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        line++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0) {
            p = nl ? nl + 1 : end;
            continue;
        }
        eq = memchr(p, '=', n);
        if (!eq || eq == p) {
            err_set(e, "line %u: not KEY=VALUE: '%.*s'", line, n > 80 ? 80 : (int)n, p);
            goto fail;
        }
        for (const char *k = p; k < eq; k++)
            if (!isupper((unsigned char)*k) && !isdigit((unsigned char)*k) && *k != '_') {
                err_set(e, "line %u: not KEY=VALUE: '%.*s'", line, n > 80 ? 80 : (int)n, p);
                goto fail;
            }
        if ((size_t)(eq - p) == 7 && memcmp(p, "PKGNAME", 7) == 0) {
            char *name = pbulk_value(eq + 1, (size_t)(p + n - eq - 1));
            if (!name || strchr(name, ' ') || strchr(name, '/')) {
                err_set(e, "line %u: PKGNAME: '%s' is not a package name", line, name ? name : "");
                free(name);
                goto fail;
            }
            if (x->n == x->cap) {
                x->cap = x->cap ? 2 * x->cap : 16;
                x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
            }
            cur = &x->v[x->n++];
            memset(cur, 0, sizeof(*cur));
            cur->pkgname = name;
            cur->pkgpath = pkgpath ? xstrdup(pkgpath) : NULL;
            cur->make_jobs_safe = true;
            cur->weight = 100;
        } else if (!cur) {
            err_set(e, "line %u: %.*s before the first PKGNAME", line, (int)(eq - p), p);
            goto fail;
        } else if (pbulk_field(cur, p, (size_t)(eq - p), eq + 1, (size_t)(p + n - eq - 1), line,
                               e) < 0) {
            goto fail;
        }
        p = nl ? nl + 1 : end;
    }
    if (x->n == first) {
        err_set(e, "no PKGNAME in the output");
        goto fail;
    }
    for (size_t i = first; i < x->n; i++)
        if (!x->v[i].pkgpath) {
            err_set(e, "%s: no PKG_LOCATION", x->v[i].pkgname);
            goto fail;
        }
    /* Drop the repeated names of this output: the first record of a name is the one kept. */
    for (size_t i = first + 1; i < x->n; i++) {
        bool dup = false;
        for (size_t j = first; j < i && !dup; j++)
            dup = strcmp(x->v[j].pkgname, x->v[i].pkgname) == 0;
        if (dup) {
            pbulk_pkg_free(&x->v[i]);
            memmove(&x->v[i], &x->v[i + 1], (x->n - i - 1) * sizeof(*x->v));
            x->n--;
            i--;
        }
    }
    return 0;
fail:
    while (x->n > first)
        pbulk_pkg_free(&x->v[--x->n]);
    return -EINVAL;
}
