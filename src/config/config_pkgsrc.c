/* The jobs of a pkgsrc build, from lua/pkgsrc.lua (see config_pkgsrc.h). */
#include "config/config_pkgsrc.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "config/embed.h"

void config_pkgsrc_free_jobs(struct config *cfg)
{
    for (size_t i = 0; i < cfg->njobs; i++) {
        struct job *j = &cfg->jobs[i];
        free(j->name);
        strv_free(&j->depends);
        free(j->dep_idx);
        strv_free(&j->env);
        for (size_t k = 0; k < j->nstages; k++) {
            free(j->stages[k].name);
            free(j->stages[k].run);
        }
        free(j->stages);
        free(j->limits.time_text);
        free(j->limits.silence_text);
        free(j->limits.memory_text);
    }
    free(cfg->jobs);
    cfg->jobs = NULL;
    cfg->njobs = 0;
}

/* Pushes a list of n strings. */
static void config_pkgsrc_list(lua_State *L, const char *const *v, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* Pushes the list of packages for M.jobs. */
static void config_pkgsrc_push(lua_State *L, const struct config_pkg *pkgs, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const struct config_pkg *p = &pkgs[i];
        lua_createtable(L, 0, 9);
        lua_pushstring(L, p->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, p->pkgpath);
        lua_setfield(L, -2, "pkgpath");
        lua_pushstring(L, p->pkgname);
        lua_setfield(L, -2, "pkgname");
        config_pkgsrc_list(L, p->depends, p->ndepends);
        lua_setfield(L, -2, "depends");
        config_pkgsrc_list(L, p->multi_version, p->nmulti);
        lua_setfield(L, -2, "multi_version");
        lua_pushboolean(L, p->bootstrap);
        lua_setfield(L, -2, "bootstrap");
        if (p->usergroup_phase) {
            lua_pushstring(L, p->usergroup_phase);
            lua_setfield(L, -2, "usergroup_phase");
        }
        lua_createtable(L, (int)p->njob_deps, 0);
        for (size_t k = 0; k < p->njob_deps; k++) {
            lua_pushstring(L, pkgs[p->job_deps[k]].name);
            lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        lua_setfield(L, -2, "job_depends");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* A string field of the table on top, or NULL. */
static const char *config_pkgsrc_str(lua_State *L, const char *key)
{
    const char *s;
    lua_getfield(L, -1, key);
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return s;
}

/* Reads the stages of the job table on top into j; false when they are malformed. */
static bool config_pkgsrc_stages(lua_State *L, struct job *j)
{
    size_t n;
    if (lua_getfield(L, -1, "stages") != LUA_TTABLE) {
        lua_pop(L, 1);
        return false;
    }
    n = (size_t)lua_rawlen(L, -1);
    j->stages = xcalloc(n ? n : 1, sizeof(*j->stages));
    for (size_t k = 0; k < n; k++) {
        const char *name, *run;
        if (lua_rawgeti(L, -1, (lua_Integer)k + 1) != LUA_TTABLE) {
            lua_pop(L, 2);
            return false;
        }
        name = config_pkgsrc_str(L, "name");
        run = config_pkgsrc_str(L, "run");
        if (!name || !run) {
            lua_pop(L, 2);
            return false;
        }
        j->stages[j->nstages].name = xstrdup(name);
        j->stages[j->nstages++].run = xstrdup(run);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return true;
}

int config_pkgsrc_jobs(struct config *cfg, const struct config_pkg *pkgs, size_t n, struct err *e)
{
    const struct embed_file *mod = embed_find("pkgsrc.lua");
    lua_State *L;
    int rc = -1;

    config_pkgsrc_free_jobs(cfg);
    if (!mod)
        return err_set(e, "internal error: pkgsrc.lua is not embedded");
    if (!(L = luaL_newstate()))
        return err_set(e, "cannot start Lua: out of memory");
    luaL_openlibs(L);
    if (luaL_loadbufferx(L, mod->data, mod->size, "=pkgsrc.lua", mod->bytecode ? "b" : "t") !=
            LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
        err_set(e, "pkgsrc.lua: %s", lua_tostring(L, -1));
        goto out;
    }
    if (lua_getfield(L, -1, "jobs") != LUA_TFUNCTION) {
        err_set(e, "internal error: pkgsrc.lua has no function jobs");
        goto out;
    }
    config_pkgsrc_push(L, pkgs, n);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        err_set(e, "cannot generate the jobs: %s", lua_tostring(L, -1));
        goto out;
    }
    if (lua_type(L, -1) != LUA_TTABLE || (size_t)lua_rawlen(L, -1) != n) {
        err_set(e, "internal error: the job generator returned no list of %zu jobs", n);
        goto out;
    }
    cfg->jobs = xcalloc(n ? n : 1, sizeof(*cfg->jobs));
    for (size_t i = 0; i < n; i++) {
        struct job *j = &cfg->jobs[cfg->njobs++];
        j->name = xstrdup(pkgs[i].name);
        /* options.limits and options.network, as for a job without its own. */
        j->limits = cfg->limits;
        j->limits.time_text = cfg->limits.time_text ? xstrdup(cfg->limits.time_text) : NULL;
        j->limits.silence_text =
            cfg->limits.silence_text ? xstrdup(cfg->limits.silence_text) : NULL;
        j->limits.memory_text = cfg->limits.memory_text ? xstrdup(cfg->limits.memory_text) : NULL;
        j->network = cfg->network;
        j->dep_idx = xcalloc(pkgs[i].njob_deps ? pkgs[i].njob_deps : 1, sizeof(size_t));
        for (size_t k = 0; k < pkgs[i].njob_deps; k++) {
            strv_push(&j->depends, pkgs[pkgs[i].job_deps[k]].name);
            j->dep_idx[k] = pkgs[i].job_deps[k];
        }
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TTABLE || !config_pkgsrc_stages(L, j)) {
            err_set(e, "internal error: the job generator returned a malformed job %s", j->name);
            config_pkgsrc_free_jobs(cfg);
            goto out;
        }
        lua_pop(L, 1);
    }
    rc = 0;
out:
    lua_close(L);
    return rc;
}
