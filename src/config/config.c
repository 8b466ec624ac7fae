/*
 * The configuration loader's entry points. The config file runs in an
 * embedded Lua 5.4 state that is bounded in memory and in time
 * (config_bounds.c); then every section is validated strictly and copied
 * into struct config (config_schema.c, config_guest.c, config_jobs.c), and
 * the state is closed. config_int.h says how the files share the work and
 * the one rule that keeps an unwinding validation error from leaking.
 */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "config/embed.h"
#include "util/file.h"
#include "util/path.h"

/* The largest config file read. */
#define CONFIG_MAX_FILE ((size_t)16 << 20)
/* How long after the deadline the hard stop ends a process stuck in one C call. */
#define HARD_STOP_GRACE_MS 2000

/* The names a configuration may set at its top level. */
static const char *const config_top_names[] = {"options", "sandboxes", "pkgsrc", "jobs", NULL};
/* Legacy or unsupported names: the schema speaks of them (schema_reject_legacy, _unsupported). */
static const char *const legacy[] = {"scripts", "environment", "dynamic",
                                     "publish", "summary",     NULL};

/* The edit distance of a and b (both short: names), capped at 9. */
static size_t config_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[32], prev, tmp;
    if (la > 30 || lb > 30)
        return 9;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            tmp = row[j];
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = tmp;
        }
    }
    return row[lb] > 9 ? 9 : row[lb];
}

/* __newindex of the globals while the configuration runs: where each new name was first set. */
static int config_record_global(lua_State *L)
{
    lua_Debug ar;
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNIL) {
            lua_pushvalue(L, 2);
            if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
                lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
            else
                lua_pushliteral(L, "");
            lua_rawset(L, lua_upvalueindex(1));
        }
        lua_pop(L, 1);
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

/*
 * Warns about the names the configuration set at its top level that bob
 * does not know (functions and tables of helpers aside, names that are not
 * bob's are worth a word: "optoins"), naming the file and line, with the
 * known name it is closest to. where: name -> "file:line" (at the top).
 */
static void config_warn_top(struct loader *ld, int where)
{
    lua_State *L = ld->L;
    lua_pushnil(L);
    while (lua_next(L, where)) {
        const char *name = lua_tostring(L, -2), *at = lua_tostring(L, -1), *best = NULL;
        size_t bestd = 9, n = strlen(name);
        int ty = value_get(L, ld->globals, name);
        lua_pop(L, 1);
        if (ty == LUA_TFUNCTION || ty == LUA_TNIL || value_in_list(name, config_top_names) ||
            value_in_list(name, legacy)) {
            lua_pop(L, 1);
            continue;
        }
        for (const char *const *k = config_top_names; *k; k++) {
            size_t d = config_distance(name, *k);
            if (d < bestd) {
                bestd = d;
                best = *k;
            }
        }
        if (best && bestd <= (n > 5 ? 2u : 1u))
            strv_push_owned(&ld->cfg->warnings,
                            xasprintf("%s: unknown top-level name '%s': did you mean '%s'?",
                                      at && *at ? at : ld->cfg->path, name, best));
        else
            strv_push_owned(&ld->cfg->warnings,
                            xasprintf("%s: unknown top-level name '%s' (not a setting of bob; "
                                      "make it local if it is a helper)",
                                      at && *at ? at : ld->cfg->path, name));
        lua_pop(L, 1);
    }
}

/* The protected part of config_load: runs everything that touches Lua. */
static int config_loader_main(lua_State *L)
{
    struct loader *ld = lua_touserdata(L, 1);
    const struct embed_file *funcs = embed_find("funcs.lua");
    char chunkname[PATH_MAX + 2];
    int where;

    luaL_checkstack(L, 64, "configuration nesting");
    lua_pushcfunction(L, bounds_msgh);
    ld->msgh = lua_gettop(L);
    bounds_open_libs(ld);

    if (!funcs)
        return luaL_error(L, "internal error: funcs.lua is not embedded");
    if (luaL_loadbufferx(L, funcs->data, funcs->size, "=funcs.lua", funcs->bytecode ? "b" : "t") !=
        LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 0);

    snprintf(chunkname, sizeof(chunkname), "@%s", ld->cfg->path);
    if (luaL_loadbufferx(L, ld->source, ld->source_len, chunkname, "t") != LUA_OK)
        return lua_error(L);
    /* Where each new global is set, while the configuration runs. */
    lua_newtable(L);
    where = lua_gettop(L);
    lua_pushglobaltable(L);
    lua_newtable(L);
    lua_pushvalue(L, where);
    lua_pushcclosure(L, config_record_global, 1);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    lua_pushvalue(L, where - 1);
    lua_call(L, 0, 0);
    lua_pushglobaltable(L);
    if (lua_getmetatable(L, -1)) {
        lua_getfield(L, -1, "__newindex");
        /* Ours still (a config may have set its own): taken off. */
        if (lua_tocfunction(L, -1) == config_record_global) {
            lua_pushnil(L);
            lua_setmetatable(L, -4);
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);

    lua_pushglobaltable(L);
    ld->globals = lua_gettop(L);
    lua_newtable(L);
    ld->link_index = lua_gettop(L);
    config_warn_top(ld, where);
    schema_reject_legacy(ld);
    schema_options(ld);
    schema_pkgsrc(ld);
    schema_sandboxes(ld);
    schema_unsupported(ld);
    jobs_parse(ld);
    /* What bob accepts for bob's sake and does nothing with here: said once, together. */
    if (ld->nnoeffect) {
        struct buf b = {0};
        for (size_t i = 0; i < ld->nnoeffect; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", ld->noeffect[i]);
        strv_push_owned(&ld->cfg->warnings,
                        xasprintf("accepted for bob's sake, without effect here: %s", b.p));
        buf_free(&b);
    }
    /* Nothing for bob to do at all: surely not what was meant. */
    {
        int set = 0;
        for (const char *const *k = config_top_names; k < config_top_names + 4; k++) {
            set += value_get(L, ld->globals, *k) != LUA_TNIL;
            lua_pop(L, 1);
        }
        if (!set) {
            /* The warnings say why, most likely ("did you mean"): the error shows them. */
            char why[1200] = "";
            size_t len = 0;
            for (size_t i = 0; i < ld->cfg->warnings.n && len < sizeof(why); i++)
                if (strstr(ld->cfg->warnings.v[i], "top-level name"))
                    len += (size_t)snprintf(why + len, sizeof(why) - len, "\n  %s",
                                            ld->cfg->warnings.v[i]);
            value_fail(ld, NULL,
                       "sets none of options, sandboxes, jobs and pkgsrc: there is nothing for "
                       "bob to do%s",
                       why);
        }
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------------ */

/* Reads the config file into memory, blanking a "#!" first line as lua(1) skips it. */
static int config_read_source(const char *path, char **data, size_t *len, struct err *e)
{
    struct stat st;
    size_t cap = 4096, n = 0;
    char *buf;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        int errnum = errno;
        if (errnum == ENOENT) {
            err_set(e,
                    "Configuration file %s does not exist.\n"
                    "Run 'bob init' to create a default configuration.",
                    path);
            e->code = ENOENT;
            return -1;
        }
        return err_sys(e, errnum, "%s: cannot open", path);
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        e->code = EISDIR;
        return err_set(e, "%s: is a directory, not a configuration file", path);
    }
    buf = xmalloc(cap);
    for (;;) {
        ssize_t r;
        if (n == cap) {
            if (cap >= CONFIG_MAX_FILE) {
                free(buf);
                close(fd);
                return err_set(e, "%s: configuration file is larger than %zu MiB", path,
                               CONFIG_MAX_FILE >> 20);
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int errnum = errno;
            free(buf);
            close(fd);
            return err_sys(e, errnum, "%s: cannot read", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    {
        size_t skip = n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        if (skip)
            memset(buf, ' ', 3);
        if (n > skip && buf[skip] == '#')
            for (size_t i = skip; i < n && buf[i] != '\n'; i++)
                buf[i] = ' ';
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Turns an error that came out of the protected call into the message of e. */
static void config_loader_error(struct loader *ld, int status, const char *msg)
{
    const char *path = ld->cfg->path;
    size_t n = strlen(path);

    if (ld->timed_out) {
        if (ld->timeout_where[0] &&
            !(strncmp(ld->timeout_where, path, n) == 0 && ld->timeout_where[n] == ':'))
            err_set(ld->e, "%s: %s: configuration took too long to load (infinite loop?)", path,
                    ld->timeout_where);
        else if (ld->timeout_where[0])
            err_set(ld->e, "%s: configuration took too long to load (infinite loop?)",
                    ld->timeout_where);
        else
            err_set(ld->e, "%s: configuration took too long to load (infinite loop?)", path);
    } else if (status == LUA_ERRMEM || ld->mem_failed) {
        err_set(ld->e, "%s: configuration uses too much memory (limit %zu MiB)", path,
                ld->max_bytes >> 20);
    } else if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':') {
        err_set(ld->e, "%s", msg);
    } else {
        err_set(ld->e, "%s: %s", path, msg ? msg : "unknown Lua error");
    }
}

/* Loads and validates path with the default bounds. */
int config_load(const char *path, struct config *cfg, struct err *e)
{
    struct config_limits lim = {CONFIG_MAX_BYTES, CONFIG_MAX_MS, true};
    return config_load_limited(path, &lim, cfg, e);
}

/* Loads and validates path within the given memory and time bounds. */
int config_load_limited(const char *path, const struct config_limits *lim, struct config *cfg,
                        struct err *e)
{
    struct loader ld;
    struct bounds_hard_stop hard = {0};
    char *source = NULL, *slash;
    int status;

    memset(cfg, 0, sizeof(*cfg));
    memset(&ld, 0, sizeof(ld));
    err_clear(e);
    cfg->path = path_absolute(path);
    cfg->dir = xstrdup(cfg->path);
    slash = strrchr(cfg->dir, '/');
    if (slash == cfg->dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    if (config_read_source(cfg->path, &source, &ld.source_len, e) < 0) {
        config_free(cfg);
        return -1;
    }
    ld.source = source;
    ld.cfg = cfg;
    ld.e = e;
    ld.max_bytes = lim->max_bytes;
    ld.deadline = now_ms() + lim->max_ms;
    ld.L = bounds_state_new(&ld);
    if (!ld.L) {
        free(source);
        config_free(cfg);
        return err_set(e, "%s: cannot create a Lua state", path);
    }
    /* Pushing C functions and a light userdata needs no memory: no error here. */
    lua_pushcfunction(ld.L, bounds_msgh);
    lua_pushcfunction(ld.L, config_loader_main);
    lua_pushlightuserdata(ld.L, &ld);
    if (lim->hard_stop)
        bounds_hard_stop_arm(&hard, cfg->path, lim->max_ms + HARD_STOP_GRACE_MS);
    status = lua_pcall(ld.L, 1, 0, 1);
    bounds_hard_stop_disarm(&hard);
    if (status != LUA_OK && lua_touserdata(ld.L, -1) != &value_fail_token)
        config_loader_error(&ld, status, lua_tostring(ld.L, -1));
    else if (status == LUA_OK && ld.timed_out)
        config_loader_error(&ld, status, NULL);
    lua_close(ld.L);
    guest_free_links(&ld);
    free(source);
    if (status != LUA_OK || ld.timed_out) {
        int code = e->code;
        config_free(cfg);
        e->code = code;
        return -1;
    }
    return 0;
}

/* Frees an action list. */
static void config_actions_free(struct action_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        schema_action_clear(&l->v[i]);
    free(l->v);
}

/* Frees an environment policy. */
static void config_env_policy_free(struct env_policy *p)
{
    strv_free(&p->inherit);
    strv_free(&p->vars);
    free(p->shell);
}

/* Frees everything a loaded config owns and empties it. */
void config_free(struct config *cfg)
{
    free(cfg->path);
    free(cfg->dir);
    free(cfg->dbdir);
    free(cfg->logdir);
    free(cfg->log_level);
    free(cfg->pkgsrc_basedir);
    free(cfg->make);
    free(cfg->bootstrap);
    free(cfg->build_user);
    free(cfg->build_user_home);
    strv_free(&cfg->cachevars);
    strv_free(&cfg->pkgpaths);
    strv_free(&cfg->save_wrkdir_patterns);
    free(cfg->basedir);
    free(cfg->bindfs);
    free(cfg->tmpfs_root);
    config_actions_free(&cfg->setup);
    config_actions_free(&cfg->hooks);
    config_env_policy_free(&cfg->env_build);
    config_env_policy_free(&cfg->env_dev);
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
        schema_limits_free(&j->limits);
    }
    free(cfg->jobs);
    schema_limits_free(&cfg->limits);
    strv_free(&cfg->warnings);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- default path and init ------------------------------------------------------ */

/* $XDG_CONFIG_HOME/bob/config.lua, else ~/.config/bob/config.lua ("/.config/..." without a home).
 */
char *config_default_path(void)
{
    char *dir = config_user_dir("XDG_CONFIG_HOME", ".config");
    char *path = xasprintf("%s/bob/config.lua", dir ? dir : "/.config");
    free(dir);
    return path;
}

/* The bundled default config for the OS this binary was built for. */
static const char *config_init_template(void)
{
#if defined(__linux__)
    /* Without a pkgsrc tree: a config of jobs that builds as it is written. */
    return access("/usr/pkgsrc/mk", F_OK) == 0 ? "config/linux.lua" : "config/linux-jobs.lua";
#elif defined(__NetBSD__)
    return "config/netbsd.lua";
#elif defined(__sun)
    return "config/illumos.lua";
#elif defined(__APPLE__)
    return "config/macos.lua";
#else
    return "config/generic.lua";
#endif
}

/* Creates the parent directories of path (mode 0755 less the umask). */
static int config_make_parents(const char *path, struct err *e)
{
    char *dir = xstrdup(path), *slash = strrchr(dir, '/');
    int r = 0;

    if (slash && slash != dir) {
        *slash = '\0';
        r = file_mkdir_p(dir, 0755, 0, e);
    }
    free(dir);
    return r;
}

/* Writes the bundled default config for this OS to path, creating its parents. */
int config_init(const char *path, struct err *e)
{
    const struct embed_file *f = embed_find(config_init_template());
    struct stat st;
    int fd, r;

    err_clear(e);
    if (!f)
        return err_set(e, "internal error: %s is not embedded", config_init_template());
    if (lstat(path, &st) == 0) {
        err_set(e, "Configuration file %s already exists", path);
        e->code = EEXIST;
        return -1;
    }
    if (config_make_parents(path, e) < 0)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) {
            err_set(e, "Configuration file %s already exists", path);
            e->code = EEXIST;
            return -1;
        }
        return err_sys(e, errno, "cannot create %s", path);
    }
    if ((r = file_write_all(fd, f->data, f->size)) < 0) {
        close(fd);
        unlink(path);
        return err_sys(e, -r, "cannot write %s", path);
    }
    if (close(fd) < 0) {
        int errnum = errno;
        unlink(path);
        return err_sys(e, errnum, "cannot write %s", path);
    }
    return 0;
}
