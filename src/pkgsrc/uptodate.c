/* The up-to-date check of binary packages (see uptodate.h), from bob's documented behaviour. */
#include "pkgsrc/uptodate.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/archive_dl.h"
#include "pkgsrc/pattern.h"
#include "pkgsrc/sha256.h"

#define UPTODATE_META_MAX ((size_t)16 << 20)

/* Reads the data of the current entry into a string. */
static int uptodate_read_entry(struct archive *a, char **out, struct err *e)
{
    struct buf b = {0};
    const void *block;
    size_t size;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &block, &size, &off)) == ARCHIVE_OK) {
        if (b.len + size > UPTODATE_META_MAX) {
            buf_free(&b);
            return err_set(e, "metadata larger than %zu bytes", UPTODATE_META_MAX);
        }
        buf_add(&b, block, size);
    }
    if (r != ARCHIVE_EOF) {
        buf_free(&b);
        return err_set(e, "%s", archive_error_string(a) ? archive_error_string(a) : "read error");
    }
    free(*out);
    *out = b.p ? b.p : xstrdup("");
    return 0;
}

int uptodate_read_pkg(const char *path, char **build_version, char **contents, struct err *e)
{
    struct archive *a;
    struct archive_entry *ent;
    int fd, r, rc = 0;

    *build_version = *contents = NULL;
    if (archive_dl_load(e) < 0)
        return -1;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return err_sys(e, errno, "%s", path);
    a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
        rc = err_set(e, "%s: %s", path, archive_error_string(a));
        goto out;
    }
    /* The metadata comes first; the first other entry ends the search. */
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ent);
        if (!name || name[0] != '+')
            break;
        if (strcmp(name, "+BUILD_VERSION") == 0)
            rc = uptodate_read_entry(a, build_version, e);
        else if (strcmp(name, "+CONTENTS") == 0)
            rc = uptodate_read_entry(a, contents, e);
        if (rc < 0) {
            err_prefix(e, "%s: %s", path, name);
            goto out;
        }
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_EOF)
        rc = err_set(e, "%s: %s", path, archive_error_string(a));
out:
    archive_read_free(a);
    close(fd);
    if (rc < 0) {
        free(*build_version);
        free(*contents);
        *build_version = *contents = NULL;
    }
    return rc;
}

/* The first "$NetBSD...$" of the file at path, or NULL. */
static char *uptodate_netbsd_id(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, *id = NULL;
    size_t cap = 0;
    if (!f)
        return NULL;
    while (!id && getline(&line, &cap, f) >= 0) {
        char *s = strstr(line, "$NetBSD"), *end;
        if (s && (end = strchr(s + 1, '$')))
            id = xstrndup(s, (size_t)(end - s + 1));
    }
    free(line);
    fclose(f);
    return id;
}

/* Why a file recorded in +BUILD_VERSION no longer matches, or NULL. */
static char *uptodate_build_files(const char *pkgsrc, const char *bv)
{
    char *copy = xstrdup(bv), *save = NULL, *why = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !why;
         line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':'), *id, *path, *end;
        if (!colon || colon == line)
            continue;
        *colon = '\0';
        id = colon + 1;
        while (*id == ' ' || *id == '\t')
            id++;
        end = id + strlen(id);
        while (end > id && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if (!*id)
            continue;
        path = xasprintf("%s/%s", pkgsrc, line);
        if (access(path, F_OK) != 0) {
            why = xasprintf("build file removed: %s", line);
        } else if (strncmp(id, "$NetBSD", 7) == 0) {
            char *now = uptodate_netbsd_id(path);
            if (!now || strcmp(now, id) != 0)
                why = xasprintf("build file changed: %s", line);
            free(now);
        } else {
            char hex[65];
            if (sha256_file(path, hex) < 0 || strcmp(hex, id) != 0)
                why = xasprintf("build file changed: %s", line);
        }
        free(path);
    }
    free(copy);
    return why;
}

/* The mtime of path in ns, or -1. */
static long long uptodate_mtime(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

/* Why the recorded dependencies differ from the resolved ones, or NULL. */
static char *uptodate_deps(const char *packages_all, const char *contents, long long mtime,
                           const char *const *deps, size_t ndeps)
{
    struct strv rec = {0};
    struct buf b = {0};
    char *copy = xstrdup(contents ? contents : ""), *save = NULL, *why = NULL;

    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(l);
        if (n && l[n - 1] == '\r')
            l[--n] = '\0';
        if (strncmp(l, "@blddep ", 8) == 0 && l[8])
            strv_push(&rec, l + 8);
    }
    free(copy);
    /* A recorded dependency that is no longer resolved: updated, or removed. */
    for (size_t i = 0; i < rec.n; i++) {
        bool found = false;
        const char *upd = NULL;
        size_t blen = pattern_pkgbase_len(rec.v[i]);
        for (size_t k = 0; k < ndeps && !found; k++) {
            found = strcmp(deps[k], rec.v[i]) == 0;
            if (!upd && pattern_pkgbase_len(deps[k]) == blen &&
                strncmp(deps[k], rec.v[i], blen) == 0)
                upd = deps[k];
        }
        if (found)
            continue;
        if (upd)
            buf_printf(&b, "%s%.*s %s -> %s", b.len ? ", " : "", (int)blen, rec.v[i],
                       rec.v[i][blen] ? rec.v[i] + blen + 1 : "", upd + blen + 1);
        else
            buf_printf(&b, "%s-%s", b.len ? ", " : "", rec.v[i]);
    }
    if (b.len) {
        why = xasprintf("dependencies changed: %s", b.p);
        goto out;
    }
    for (size_t k = 0; k < ndeps && !why; k++) {
        char *p;
        long long t;
        if (!strv_contains(&rec, deps[k]))
            continue;
        p = xasprintf("%s/%s.tgz", packages_all, deps[k]);
        t = uptodate_mtime(p);
        free(p);
        if (t < 0)
            why = xasprintf("dependency missing: %s", deps[k]);
        else if (t > mtime)
            why = xasprintf("dependency refreshed: %s", deps[k]);
    }
out:
    buf_free(&b);
    strv_free(&rec);
    return why;
}

int uptodate_check(const char *packages_all, const char *pkgsrc, const char *pkgname,
                   const char *const *deps, size_t ndeps, char **why)
{
    char *path = xasprintf("%s/%s.tgz", packages_all, pkgname), *bv = NULL, *contents = NULL;
    char *dep_why = NULL;
    long long mtime = uptodate_mtime(path);
    struct err e;

    *why = NULL;
    if (mtime < 0) {
        *why = xstrdup("package not found");
    } else if (uptodate_read_pkg(path, &bv, &contents, &e) < 0) {
        *why = xasprintf("cannot read the package: %s", e.msg);
    } else {
        dep_why = uptodate_deps(packages_all, contents, mtime, deps, ndeps);
        *why = uptodate_build_files(pkgsrc, bv ? bv : "");
        if (!*why) {
            *why = dep_why;
            dep_why = NULL;
        }
    }
    free(dep_why);
    free(bv);
    free(contents);
    free(path);
    return *why ? 1 : 0;
}

/* Appends the packages to build of r in an order where dependencies come first. */
static void uptodate_order(const struct resolve *r, size_t i, unsigned char *seen, size_t *out,
                           size_t *n)
{
    /* The resolution is acyclic among packages to build; depth is bounded by r->n. */
    if (seen[i])
        return;
    seen[i] = 1;
    for (size_t k = 0; k < r->v[i].ndeps; k++)
        if (r->v[r->v[i].deps[k]].state == RESOLVE_OK)
            uptodate_order(r, r->v[i].deps[k], seen, out, n);
    out[(*n)++] = i;
}

void uptodate_run(const struct resolve *r, const struct pbulk_index *x, const char *packages_all,
                  const char *pkgsrc, char **why)
{
    size_t *order = xcalloc(r->n + 1, sizeof(size_t)), n = 0;
    unsigned char *seen = xcalloc(r->n + 1, 1);
    bool *propagate = xcalloc(r->n + 1, sizeof(bool));

    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].state == RESOLVE_OK)
            uptodate_order(r, i, seen, order, &n);
    for (size_t o = 0; o < n; o++) {
        size_t i = order[o];
        const struct resolve_pkg *p = &r->v[i];
        const char **deps = xcalloc(p->ndeps + 1, sizeof(char *));
        for (size_t k = 0; k < p->ndeps && !why[i]; k++)
            if (propagate[p->deps[k]])
                why[i] = xasprintf("dependency refreshed: %s", x->v[r->v[p->deps[k]].idx].pkgname);
        if (why[i]) {
            propagate[i] = true;
        } else {
            for (size_t k = 0; k < p->ndeps; k++)
                deps[k] = x->v[r->v[p->deps[k]].idx].pkgname;
            uptodate_check(packages_all, pkgsrc, x->v[p->idx].pkgname, deps, p->ndeps, &why[i]);
            /* A missing package is built, but its dependents decide for themselves. */
            propagate[i] = why[i] && strcmp(why[i], "package not found") != 0;
        }
        log_debug("up-to-date: %s (%s): %s", p->job, x->v[p->idx].pkgname,
                  why[i] ? why[i] : "up to date");
        free(deps);
    }
    free(order);
    free(seen);
    free(propagate);
}
