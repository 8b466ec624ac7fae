/*
 * The simulated guest paths. The destinations of the setup actions are
 * checked before anything is made: each is resolved as the kernel would
 * resolve it inside the sandbox, through the symlinks that earlier actions
 * will have made, and must stay inside the sandbox root. Host sources of
 * binds and copies must not contain sandboxes.basedir.
 */
#include "config/config_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/path.h"

/* Symlinks followed in one resolution before it counts as a loop (as Linux's 40). */
#define MAX_LINK_HOPS 40

/*
 * The simulated symlink at the resolved guest path (the most recent one),
 * looked up in a Lua table so that many symlink actions stay linear.
 */
static const struct link *guest_find_link(struct loader *ld, const char *path)
{
    lua_Integer i;

    if (!ld->nlinks)
        return NULL;
    lua_pushstring(ld->L, path);
    i = lua_rawget(ld->L, ld->link_index) == LUA_TNUMBER ? lua_tointeger(ld->L, -1) : 0;
    lua_pop(ld->L, 1);
    return i > 0 && (size_t)i <= ld->nlinks ? &ld->links[i - 1] : NULL;
}

enum { GUEST_OK, GUEST_ROOT, GUEST_LINK, GUEST_LOOP, GUEST_LONG };

/*
 * Resolves the guest path component by component as the kernel would,
 * through the symlinks made by earlier actions (the last component only
 * when follow_last). Fails with GUEST_ROOT when ".." climbs above the
 * sandbox root and GUEST_LINK (*via set) when it goes through a symlink
 * that leads out of the sandbox. On success out is the resolved path.
 */
static int guest_resolve(struct loader *ld, const char *path, bool follow_last, char *out, size_t n,
                         const struct link **via)
{
    char rest[2 * PATH_MAX], cur[PATH_MAX];
    const char *p = rest, *c;
    size_t len = 0, cl;
    int hops = 0;

    *via = NULL;
    if (strlen(path) >= sizeof(rest))
        return GUEST_LONG;
    strcpy(rest, path);
    cur[0] = '\0';
    while ((cl = path_next(&p, &c))) {
        /* Last by the text: "a/." still follows a, as the kernel does. */
        bool last = p[strspn(p, "/")] == '\0';
        const struct link *l;

        if (path_is_dotdot(c, cl)) {
            if (len == 0)
                return GUEST_ROOT;
            while (cur[len - 1] != '/')
                len--;
            cur[--len] = '\0';
            continue;
        }
        if (len + 1 + cl + 1 > sizeof(cur))
            return GUEST_LONG;
        cur[len++] = '/';
        memcpy(cur + len, c, cl);
        len += cl;
        cur[len] = '\0';
        if (last && !follow_last)
            continue;
        if (!(l = guest_find_link(ld, cur)))
            continue;
        *via = l;
        if (l->escapes)
            return GUEST_LINK;
        if (++hops > MAX_LINK_HOPS)
            return GUEST_LOOP;
        /* Replace the link by its (relative) target, read from its directory. */
        while (cur[len - 1] != '/')
            len--;
        cur[--len] = '\0';
        {
            char tmp[2 * PATH_MAX];
            int w = snprintf(tmp, sizeof(tmp), "%s/%s", l->target, p);
            if (w < 0 || (size_t)w >= sizeof(tmp))
                return GUEST_LONG;
            strcpy(rest, tmp);
            p = rest;
        }
    }
    if (len == 0)
        strcpy(cur, "/");
    if (strlen(cur) >= n)
        return GUEST_LONG;
    strcpy(out, cur);
    return GUEST_OK;
}

/* Records a symlink action for the escape checks of the later actions. */
static void guest_add_link(struct loader *ld, const char *dest, const char *target,
                           const char *where)
{
    bool escapes = target[0] == '/';
    struct link *l;

    if (!escapes) {
        char joined[2 * PATH_MAX + 2], parent[PATH_MAX], out[PATH_MAX];
        const struct link *via;
        snprintf(parent, sizeof(parent), "%s", dest);
        path_parent(parent);
        snprintf(joined, sizeof(joined), "%s/%s", parent, target);
        escapes = guest_resolve(ld, joined, true, out, sizeof(out), &via) != GUEST_OK;
    }
    /* The index entry first: a memory error there leaves nothing half made. */
    lua_pushstring(ld->L, dest);
    lua_pushinteger(ld->L, (lua_Integer)ld->nlinks + 1);
    lua_rawset(ld->L, ld->link_index);
    if (ld->nlinks == ld->links_cap) {
        ld->links_cap = ld->links_cap ? 2 * ld->links_cap : 16;
        ld->links = xrealloc(ld->links, ld->links_cap * sizeof(*ld->links));
    }
    l = &ld->links[ld->nlinks];
    l->dest = xstrdup(dest);
    l->target = xstrdup(target);
    l->escapes = escapes;
    l->where = xstrdup(where);
    ld->nlinks++;
}

/*
 * Validates and stores an action's destination: relative means relative
 * to the sandbox root; the result must stay inside the sandbox, also
 * through the symlinks of earlier actions.
 */
void guest_set_dest(struct loader *ld, struct action *a, const char *d, const char *place)
{
    char joined[PATH_MAX + 2], norm[PATH_MAX], res[PATH_MAX];
    const struct link *via = NULL;
    int r;

    if (!*d)
        value_fail(ld, place, "must not be empty");
    if (snprintf(joined, sizeof(joined), "%s%s", d[0] == '/' ? "" : "/", d) >= (int)sizeof(joined))
        value_fail(ld, place, "path is too long");
    r = path_norm(joined, norm, sizeof(norm));
    if (r == -EXDEV)
        value_fail(ld, place, "path escapes the sandbox: '%s' climbs above the sandbox root", d);
    if (r == -ENAMETOOLONG)
        value_fail(ld, place, "path is too long");
    r = guest_resolve(ld, joined, a->kind != ACTION_SYMLINK, res, sizeof(res), &via);
    switch (r) {
    case GUEST_OK:
        break;
    case GUEST_LINK:
        value_fail(
            ld, place,
            "path escapes the sandbox: '%s' goes through the symlink '%s' -> '%s' made by %s", d,
            via->dest, via->target, via->where);
    case GUEST_ROOT:
        if (via)
            value_fail(ld, place,
                       "path escapes the sandbox: '%s' climbs above the sandbox root through the "
                       "symlink '%s' -> '%s' made by %s",
                       d, via->dest, via->target, via->where);
        value_fail(ld, place, "path escapes the sandbox: '%s' climbs above the sandbox root", d);
    case GUEST_LOOP:
        value_fail(ld, place, "too many levels of symbolic links in '%s'", d);
    default:
        value_fail(ld, place, "path is too long");
    }
    /* A ".." after a symlink means what the kernel makes of it: keep the resolved path. */
    a->dest = xstrdup(path_has_dotdot(d) ? res : norm);
    if (strcmp(a->dest, "/") == 0 || strcmp(res, "/") == 0)
        value_fail(ld, place, "the sandbox root itself cannot be a destination");
    if (path_covers("/.bob", a->dest) || path_covers("/.bob", res))
        value_fail(ld, place, "'/.bob' is reserved for bob's sandbox markers");
    if (a->kind == ACTION_SYMLINK)
        guest_add_link(ld, res, a->src, a->where);
}

/*
 * Resolves the host symlinks of the longest existing prefix of the
 * normalized path into out, keeping the missing rest as written.
 */
static bool guest_real_prefix(const char *path, char *out, size_t n)
{
    char prefix[PATH_MAX], real[PATH_MAX];
    size_t len;

    if (strlen(path) >= sizeof(prefix))
        return false;
    strcpy(prefix, path);
    while (!realpath(prefix, real)) {
        if (strcmp(prefix, "/") == 0)
            return false;
        path_parent(prefix);
    }
    len = strlen(prefix);
    if (strcmp(prefix, "/") == 0)
        len = 0;
    if (snprintf(out, n, "%s%s", strcmp(real, "/") == 0 && path[len] ? "" : real, path + len) >=
        (int)n)
        return false;
    return true;
}

/*
 * Validates the host source of a bind or copy: absolute, no "..", and
 * neither sandboxes.basedir nor one of its ancestors.
 */
void guest_check_src(struct loader *ld, struct action *a, const char *place)
{
    char norm[PATH_MAX], rs[PATH_MAX], rb[PATH_MAX];
    const char *base = ld->cfg->basedir;
    const char *why = a->kind == ACTION_COPY ? "the copy would never end"
                                             : "the bind would expose the sandboxes inside "
                                               "themselves";

    if (a->src[0] != '/')
        value_fail(ld, place, "must be an absolute host path, got '%s'", a->src);
    if (path_has_dotdot(a->src))
        value_fail(ld, place, "must not contain '..' components");
    if (path_norm(a->src, norm, sizeof(norm)) != 0)
        value_fail(ld, place, "path is too long");
    free(a->src);
    a->src = xstrdup(norm);
    if (path_covers(a->src, base))
        value_fail(ld, place, "'%s' contains sandboxes.basedir '%s' (%s)", a->src, base, why);
    if (!ld->real_base_done) {
        ld->real_base_done = true;
        ld->real_base = guest_real_prefix(base, rb, sizeof(rb)) ? xstrdup(rb) : NULL;
    }
    if (ld->real_base && realpath(a->src, rs) && path_covers(rs, ld->real_base))
        value_fail(ld, place, "'%s' (really '%s') contains sandboxes.basedir '%s' (%s)", a->src, rs,
                   base, why);
}

void guest_free_links(struct loader *ld)
{
    free(ld->real_base);
    ld->real_base = NULL;
    ld->real_base_done = false;
    for (size_t i = 0; i < ld->nlinks; i++) {
        free(ld->links[i].dest);
        free(ld->links[i].target);
        free(ld->links[i].where);
    }
    free(ld->links);
    ld->links = NULL;
    ld->nlinks = ld->links_cap = 0;
}
