/*
 * The jobs (an extension of bob's format): names, stages, environment and
 * dependencies, with unknown and duplicate names and dependency cycles
 * refused at load time. Without a `jobs` list, pkgsrc.pkgpaths make the
 * jobs at build time, after the scan (config_pkgsrc.c).
 */
#include "config/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* ---- jobs ------------------------------------------------------------------ */

/* True for [A-Za-z0-9._+-]. */
static bool jobs_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

/* Why a job name is invalid, or NULL: [A-Za-z0-9._+-] and "/", relative, no ".". */
static const char *jobs_name_error(const char *s)
{
    const char *p, *c;

    if (!*s)
        return "must not be empty";
    if (s[0] == '/')
        return "must not be absolute";
    for (p = s; *p; p++)
        if (!jobs_name_char(*p) && *p != '/')
            return "only letters, digits, '.', '_', '+', '-' and '/' are allowed";
    for (c = s;; c = p + 1) {
        p = strchr(c, '/');
        size_t n = p ? (size_t)(p - c) : strlen(c);
        if (n == 0)
            return "empty path component";
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return "'.' and '..' components are not allowed";
        if (!p)
            return NULL;
    }
}

/* Why a stage name is not a valid file name, or NULL. */
static const char *jobs_stage_name_error(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "'.' and '..' are not allowed";
    for (; *s; s++)
        if (!jobs_name_char(*s))
            return "only letters, digits, '.', '_', '+' and '-' are allowed";
    return NULL;
}

/*
 * Records name in the set table at stack index set with mark (> 0) and
 * returns the earlier mark, 0 when the name is new: a Lua table keeps the
 * duplicate checks linear, however long the list.
 */
static lua_Integer jobs_seen(lua_State *L, int set, const char *name, lua_Integer mark)
{
    lua_Integer old;

    lua_pushstring(L, name);
    lua_rawget(L, set);
    old = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!old) {
        lua_pushstring(L, name);
        lua_pushinteger(L, mark);
        lua_rawset(L, set);
    }
    return old;
}

/* Parses job.stages, or the shorthand job.run (one stage "build"). */
static void jobs_stages(struct loader *ld, int jt, const char *where, struct job *j)
{
    static const char *const stage_keys[] = {"name", "run", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], splace[PLACE_MAX], p2[PLACE_MAX];
    int sty = value_get(L, jt, "stages"), st = lua_gettop(L), rty = value_get(L, jt, "run");
    lua_Integer m;
    int seen;

    if (sty != LUA_TNIL && rty != LUA_TNIL)
        value_fail(ld, where, "use either 'stages' or 'run', not both");
    if (rty != LUA_TNIL) {
        const char *run;
        /* A shell command: a number is a mistake, not a command. */
        if (rty != LUA_TSTRING)
            value_fail(ld, value_placef(place, "%s.run", where),
                       "must be a string (a shell command), got %s", luaL_typename(L, -1));
        run = value_str_at(ld, -1, value_placef(place, "%s.run", where));
        if (!*run)
            value_fail(ld, place, "must not be empty");
        j->stages = xcalloc(1, sizeof(*j->stages));
        j->nstages = 1;
        j->stages[0].name = xstrdup("build");
        j->stages[0].run = xstrdup(run);
        lua_settop(L, st - 1);
        return;
    }
    if (sty == LUA_TNIL)
        value_fail(ld, where, "a job needs 'stages' or 'run'");
    value_placef(place, "%s.stages", where);
    if (sty != LUA_TTABLE)
        value_fail(ld, place, "must be a table, got %s", luaL_typename(L, st));
    m = value_seq_len(ld, st, place);
    if (m == 0)
        value_fail(ld, place, "must have at least one stage");
    j->stages = xcalloc((size_t)m, sizeof(*j->stages));
    lua_newtable(L); /* the stage names seen */
    seen = lua_gettop(L);
    for (lua_Integer k = 1; k <= m; k++) {
        struct stage *s = &j->stages[j->nstages++];
        const char *why;
        int et;
        value_placef(splace, "%s[%lld]", place, (long long)k);
        et = value_table_at(ld, st, k, splace);
        value_check_keys(ld, et, splace, stage_keys, "name or run");
        s->name = value_req_str(ld, et, "name", splace);
        if ((why = jobs_stage_name_error(s->name)))
            value_fail(ld, value_placef(p2, "%s.name", splace), "invalid stage name '%s': %s",
                       s->name, why);
        if (jobs_seen(L, seen, s->name, k))
            value_fail(ld, value_placef(p2, "%s.name", splace), "duplicate stage name '%s'",
                       s->name);
        if (value_get(L, et, "run") != LUA_TSTRING && lua_type(L, -1) != LUA_TNIL)
            value_fail(ld, value_placef(p2, "%s.run", splace),
                       "must be a string (a shell command), got %s", luaL_typename(L, -1));
        lua_pop(L, 1);
        s->run = value_req_str(ld, et, "run", splace);
        lua_pop(L, 1);
    }
    lua_settop(L, st - 1);
}

/* Fails when the dependency graph of the jobs has a cycle, naming it (base: "jobs"). */
static void jobs_check_cycles(struct loader *ld, const char *base)
{
    struct config *cfg = ld->cfg;
    size_t n = cfg->njobs, sp;
    /* Scratch memory from Lua, so that an unwind cannot leak it. */
    unsigned char *color = lua_newuserdatauv(ld->L, n ? n : 1, 0);
    size_t *stack = lua_newuserdatauv(ld->L, (n ? n : 1) * sizeof(size_t), 0);
    size_t *next = lua_newuserdatauv(ld->L, (n ? n : 1) * sizeof(size_t), 0);

    memset(color, 0, n ? n : 1);
    for (size_t r = 0; r < n; r++) {
        if (color[r])
            continue;
        sp = 0;
        stack[sp++] = r;
        next[r] = 0;
        color[r] = 1;
        while (sp) {
            size_t u = stack[sp - 1];
            struct job *j = &cfg->jobs[u];
            if (next[u] < j->depends.n) {
                size_t v = j->dep_idx[next[u]++];
                if (color[v] == 0) {
                    color[v] = 1;
                    next[v] = 0;
                    stack[sp++] = v;
                } else if (color[v] == 1) {
                    char chain[1600];
                    size_t len = 0, at = 0;
                    while (stack[at] != v)
                        at++;
                    chain[0] = '\0';
                    for (size_t q = at; q <= sp; q++) {
                        const char *name = cfg->jobs[q < sp ? stack[q] : v].name;
                        int w = snprintf(chain + len, sizeof(chain) - len, "%s%s",
                                         q == at ? "" : " -> ", name);
                        if (w < 0 || (size_t)w >= sizeof(chain) - len) {
                            strcpy(chain + sizeof(chain) - 5, "...");
                            break;
                        }
                        len += (size_t)w;
                    }
                    value_fail(ld, base, "dependency cycle: %s", chain);
                }
            } else {
                color[u] = 2;
                sp--;
            }
        }
    }
    lua_pop(ld->L, 3);
}

/*
 * Parses the list of jobs at stack index t (the user's `jobs`, or the ones
 * generated from pkgsrc.pkgpaths): names, dependencies, env and stages.
 * base names the list in messages ("jobs"); the list stays on the stack.
 */
static void jobs_parse_list(struct loader *ld, int t, const char *base)
{
    static const char *const keys[] = {"name", "depends", "env",     "stages",
                                       "run",  "limits",  "network", NULL};
    lua_State *L = ld->L;
    struct config *cfg = ld->cfg;
    char where[PLACE_MAX], place[PLACE_MAX];
    int names;
    lua_Integer n;

    n = value_seq_len(ld, t, base);
    cfg->jobs = xcalloc((size_t)n, sizeof(*cfg->jobs));
    lua_newtable(L); /* name -> index */
    names = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        struct job *j = &cfg->jobs[cfg->njobs++];
        const char *why;
        lua_Integer also;
        int jt;

        value_placef(where, "%s[%lld]", base, (long long)i);
        jt = value_table_at(ld, t, i, where);
        value_check_keys(ld, jt, where, keys, "name, depends, env, stages, run, limits or network");
        j->name = value_req_str(ld, jt, "name", where);
        value_placef(place, "%s.name", where);
        if ((why = jobs_name_error(j->name)))
            value_fail(ld, place, "invalid job name '%s': %s", j->name, why);
        if ((also = jobs_seen(L, names, j->name, i)))
            value_fail(ld, place, "duplicate job name '%s' (also %s[%lld])", j->name, base,
                       (long long)also);

        value_string_list(ld, jt, "depends", where, &j->depends, NULL);
        lua_newtable(L); /* the dependencies seen */
        for (size_t q = 0; q < j->depends.n; q++)
            if (jobs_seen(L, lua_gettop(L), j->depends.v[q], (lua_Integer)q + 1))
                value_fail(ld, value_placef(place, "%s.depends[%zu]", where, q + 1),
                           "duplicate dependency '%s'", j->depends.v[q]);
        lua_pop(L, 1);
        value_opt_env(ld, jt, "env", value_placef(place, "%s.env", where), &j->env, true);
        jobs_stages(ld, jt, where, j);
        schema_limits(ld, jt, where, &cfg->limits, &j->limits);
        j->network = value_opt_bool(ld, jt, "network", where, cfg->network);
        lua_pop(L, 1);
    }
    for (size_t i = 0; i < cfg->njobs; i++) {
        struct job *j = &cfg->jobs[i];
        j->dep_idx = xcalloc(j->depends.n, sizeof(size_t));
        for (size_t q = 0; q < j->depends.n; q++) {
            if (value_get(L, names, j->depends.v[q]) != LUA_TNUMBER)
                value_fail(ld, value_placef(place, "%s[%zu].depends[%zu]", base, i + 1, q + 1),
                           "unknown job '%s'", j->depends.v[q]);
            j->dep_idx[q] = (size_t)lua_tointeger(L, -1) - 1;
            lua_pop(L, 1);
        }
    }
    jobs_check_cycles(ld, base);
    lua_pop(L, 1);
}

/*
 * Parses the jobs extension. Without `jobs`, pkgsrc.pkgpaths make the jobs
 * at build time, after the scan (config_pkgsrc.h); each pkgpath is checked
 * here, since it becomes a job name and a word of the scan's and the
 * stages' scripts.
 */
void jobs_parse(struct loader *ld)
{
    int t = schema_section(ld, "jobs");
    const struct strv *pp = &ld->cfg->pkgpaths;
    char place[PLACE_MAX];

    if (!t) {
        for (size_t i = 0; i < pp->n; i++)
            if (strspn(pp->v[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                 "._+-/") != strlen(pp->v[i]))
                value_fail(ld, value_placef(place, "pkgsrc.pkgpaths[%zu]", i + 1),
                           "invalid pkgpath '%s': only letters, digits, '.', '_', '+' and '-' "
                           "are allowed",
                           pp->v[i]);
        return;
    }
    jobs_parse_list(ld, t, "jobs");
    lua_pop(ld->L, 1);
}
