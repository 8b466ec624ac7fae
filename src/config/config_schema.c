/*
 * The schema of a config: each section (options, pkgsrc, sandboxes and
 * their setup and hook actions, with only.set and the scripts) is checked
 * strictly and copied into struct config. Unknown section keys are warnings
 * (bob's wording); unknown keys in actions are errors; keys of older bob
 * formats fail with bob's migration message.
 */
#include "config/config_int.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "util/path.h"

static const char legacy_fmt[] =
    "\n\n'%s' is no longer a supported configuration key.\n\n"
    "The configuration file format and the default location have changed.  Run\n"
    "'bob init' to generate a new file and merge any changes required for your\n"
    "setup.  See https://docs.rs/bob/latest/bob/config/ for more information.";

/* ---- scripts ---------------------------------------------------------- */

/*
 * Reads a script value t[key] into s: a string, or a function returning
 * { run = string, env = table } (scriptenv). An empty run counts as absent.
 */
static void schema_script(struct loader *ld, int t, const char *key, const char *where,
                          struct script *s)
{
    static const char *const result_keys[] = {"run", "env", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], eplace[PLACE_MAX];
    int ty = value_get(L, t, key), top = lua_gettop(L), rt;

    value_placef(place, "%s.%s", where, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (ty == LUA_TSTRING) {
        const char *run = value_str_at(ld, top, place);
        if (*run)
            s->run = xstrdup(run);
        lua_pop(L, 1);
        return;
    }
    if (ty != LUA_TFUNCTION)
        value_fail(ld, place, "field '%s' must be a string or function, got %s", key,
                   luaL_typename(L, top));
    if (lua_pcall(L, 0, 1, ld->msgh) != LUA_OK) {
        if (ld->timed_out || ld->mem_failed || lua_touserdata(L, -1) == &value_fail_token)
            lua_error(L);
        value_fail(ld, place, "'%s' function failed: %s", key, lua_tostring(L, -1));
    }
    rt = lua_gettop(L);
    if (!lua_istable(L, rt))
        value_fail(ld, place, "'%s' function must return a table (use scriptenv), got %s", key,
                   luaL_typename(L, rt));
    value_check_keys(ld, rt, place, result_keys, "run or env");
    if (value_get(L, rt, "run") != LUA_TSTRING)
        value_fail(ld, place, "'%s' table must have a 'run' string field", key);
    {
        const char *run = value_str_at(ld, -1, value_placef(eplace, "%s.run", place));
        if (*run)
            s->run = xstrdup(run);
    }
    lua_pop(L, 1);
    value_opt_env(ld, rt, "env", value_placef(eplace, "%s.env", place), &s->env, true);
    if (!s->run)
        strv_free(&s->env);
    lua_settop(L, top - 1);
}

/* ---- actions ------------------------------------------------------------ */

/* Frees what an action owns and zeroes it. */
void schema_action_clear(struct action *a)
{
    free(a->fs_name);
    free(a->src);
    free(a->dest);
    free(a->opts);
    free(a->create.run);
    strv_free(&a->create.env);
    free(a->destroy.run);
    strv_free(&a->destroy.env);
    free(a->only_exists);
    free(a->where);
    memset(a, 0, sizeof(*a));
}

/* True when the dotted path names a string or a number in the globals (only.set). */
static bool schema_lookup_set(struct loader *ld, const char *path)
{
    lua_State *L = ld->L;
    const char *p = path;
    int ty;

    lua_pushvalue(L, ld->globals);
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            return false;
        }
        lua_pushlstring(L, p, len);
        lua_rawget(L, -2);
        lua_remove(L, -2);
        if (!dot)
            break;
        p = dot + 1;
    }
    ty = lua_type(L, -1);
    lua_pop(L, 1);
    return ty == LUA_TSTRING || ty == LUA_TNUMBER;
}

/* Reads only = {...} into a; returns false when only.set names an unset value. */
static bool schema_only(struct loader *ld, int t, const char *where, struct action *a)
{
    static const char *const only_keys[] = {"environment", "set", "exists", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], p2[PLACE_MAX];
    int ty = value_get(L, t, "only"), o = lua_gettop(L);
    const char *env;
    bool keep = true;

    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return true;
    }
    value_placef(place, "%s.only", where);
    if (ty != LUA_TTABLE)
        value_fail(ld, place, "'only' must be a table of predicates, got %s", luaL_typename(L, o));
    value_check_keys(ld, o, place, only_keys, "environment, set or exists");
    env = value_stack_str(ld, o, "environment", place);
    if (env) {
        if (strcmp(env, "build") == 0)
            a->only_env = CTX_BUILD;
        else if (strcmp(env, "dev") == 0)
            a->only_env = CTX_DEV;
        else
            value_fail(ld, value_placef(p2, "%s.environment", place),
                       "must be 'build' or 'dev', got '%s'", env);
    }
    lua_pop(L, 1);
    a->only_exists = value_opt_str(ld, o, "exists", place, true);
    ty = value_get(L, o, "set");
    if (ty != LUA_TNIL) {
        if (ty != LUA_TSTRING)
            value_fail(ld, value_placef(p2, "%s.set", place), "must be a string, got %s",
                       luaL_typename(L, -1));
        keep = schema_lookup_set(ld, lua_tostring(L, -1));
    }
    lua_settop(L, o - 1);
    return keep;
}

/* Fails on keys of the action table t that its kind does not use. */
static void schema_kind_keys(struct loader *ld, int t, const char *where, enum action_kind k)
{
    static const char *const mount[] = {"action", "only", "fs", "dir", "src", "dest", "opts", NULL};
    static const char *const copy[] = {"action", "only", "dir", "src", "dest", NULL};
    static const char *const symlink[] = {"action", "only", "src", "dest", NULL};
    static const char *const cmd[] = {"action", "only", "create", "destroy", "chroot", NULL};
    static const char *const mdns[] = {"action", "only", NULL};
    const char *const *known = k == ACTION_MOUNT     ? mount
                               : k == ACTION_COPY    ? copy
                               : k == ACTION_SYMLINK ? symlink
                               : k == ACTION_CMD     ? cmd
                                                     : mdns;
    lua_State *L = ld->L;
    char place[PLACE_MAX];

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (value_in_list(lua_tostring(L, -1), known)) /* keys were checked to be strings */
            continue;
        value_fail(ld, value_key_place(L, place, where, lua_gettop(L)),
                   "'%s' is not used by '%s' actions", lua_tostring(L, -1), action_kind_name(k));
    }
}

/* Looks a filesystem name up (bob's names and aliases); false when unknown. */
static bool schema_fs_lookup(const char *s, enum fs_type *t)
{
    static const struct {
        const char *name;
        enum fs_type type;
    } names[] = {
        {"bind", FS_BIND}, {"lofs", FS_BIND}, {"loop", FS_BIND}, {"null", FS_BIND}, {"dev", FS_DEV},
        {"fd", FS_FD},     {"nfs", FS_NFS},   {"proc", FS_PROC}, {"tmp", FS_TMP},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0) {
            *t = names[i].type;
            return true;
        }
    return false;
}

/* Looks an action name up; false when unknown. */
static bool schema_kind_lookup(const char *s, enum action_kind *k)
{
    static const enum action_kind kinds[] = {ACTION_MOUNT, ACTION_COPY, ACTION_SYMLINK, ACTION_CMD,
                                             ACTION_MDNS};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(s, action_kind_name(kinds[i])) == 0) {
            *k = kinds[i];
            return true;
        }
    return false;
}

/* Fills the paths of a mount, copy or symlink action (dir = src and dest). */
static void schema_paths(struct loader *ld, int t, const char *where, struct action *a)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int top = lua_gettop(L);
    const char *src = value_stack_str(ld, t, "src", where);
    const char *dest = value_stack_str(ld, t, "dest", where);
    const char *dir = a->kind == ACTION_SYMLINK ? NULL : value_stack_str(ld, t, "dir", where);
    const char *s = src, *d, *skey = "src", *dkey;
    bool has_src =
        a->kind == ACTION_COPY || a->kind == ACTION_SYMLINK || a->fs == FS_BIND || a->fs == FS_NFS;

    if (a->kind == ACTION_SYMLINK) {
        if (!src)
            value_fail(ld, value_placef(place, "%s.src", where),
                       "'symlink' action requires 'src' (link target)");
        if (!dest)
            value_fail(ld, value_placef(place, "%s.dest", where),
                       "'symlink' action requires 'dest' (link name)");
        if (!*src)
            value_fail(ld, value_placef(place, "%s.src", where), "must not be empty");
    } else if (has_src && !s) {
        s = dir ? dir : dest;
        skey = dir ? "dir" : "dest";
    }
    d = dest ? dest : dir ? dir : src;
    dkey = dest ? "dest" : dir ? "dir" : "src";
    if (!d)
        value_fail(ld, where, "'%s' action requires 'src' or 'dest' path",
                   action_kind_name(a->kind));
    if (s)
        a->src = xstrdup(s);
    if (a->kind == ACTION_COPY || a->fs == FS_BIND) {
        if (!*a->src)
            value_fail(ld, value_placef(place, "%s.%s", where, skey), "must not be empty");
        guest_check_src(ld, a, value_placef(place, "%s.%s", where, skey));
    } else if (a->src && !*a->src) {
        value_fail(ld, value_placef(place, "%s.%s", where, skey), "must not be empty");
    }
    guest_set_dest(ld, a, d, value_placef(place, "%s.%s", where, dkey));
    lua_settop(L, top);
}

/* Parses the action table t (entry i of list) into a new entry of out, unless only.set drops it. */
static void schema_action(struct loader *ld, int t, const char *list, lua_Integer i,
                          struct action_list *out)
{
    static const char *const keys[] = {"action", "fs",      "dir",    "src",  "dest", "opts",
                                       "create", "destroy", "chroot", "only", NULL};
    static const char *const legacy[] = {"ifset", "ifexists", NULL};
    lua_State *L = ld->L;
    char where[PLACE_MAX], place[PLACE_MAX];
    struct action *a;
    const char *kind;

    value_placef(where, "%s[%lld]", list, (long long)i);
    for (const char *const *k = legacy; *k; k++) {
        int ty = value_get(L, t, *k);
        lua_pop(L, 1);
        if (ty != LUA_TNIL)
            value_fail(ld, value_placef(place, "%s.%s", where, *k), legacy_fmt, *k);
    }
    value_check_keys(ld, t, where, keys,
                     "action, fs, dir, src, dest, opts, create, destroy, chroot or only");

    a = &out->v[out->n++];
    a->where = xstrdup(where);
    if (!schema_only(ld, t, where, a)) {
        /* Dropped at load time, as bob does: its other fields may name unset values. */
        schema_action_clear(a);
        out->n--;
        return;
    }

    value_placef(place, "%s.action", where);
    if (value_get(L, t, "action") == LUA_TNIL)
        value_fail(ld, place, "missing required field 'action'");
    kind = value_str_at(ld, -1, place);
    if (!schema_kind_lookup(kind, &a->kind))
        value_fail(ld, place,
                   "unsupported action type '%s' (expected mount, copy, symlink, cmd or "
                   "macos-mdns-listener)",
                   kind);
    lua_pop(L, 1);
    schema_kind_keys(ld, t, where, a->kind);

    switch (a->kind) {
    case ACTION_MOUNT: {
        const char *fs;
        value_placef(place, "%s.fs", where);
        if (value_get(L, t, "fs") == LUA_TNIL)
            value_fail(ld, place, "'mount' action requires 'fs' field");
        fs = value_str_at(ld, -1, place);
        if (!schema_fs_lookup(fs, &a->fs))
            value_fail(
                ld, place,
                "unsupported filesystem type '%s' (expected bind, dev, fd, nfs, proc or tmp)", fs);
        a->fs_name = xstrdup(fs);
        lua_pop(L, 1);
        a->opts = value_opt_str(ld, t, "opts", where, false);
        schema_paths(ld, t, where, a);
        break;
    }
    case ACTION_COPY:
        schema_paths(ld, t, where, a);
        break;
    case ACTION_SYMLINK:
        schema_paths(ld, t, where, a);
        break;
    case ACTION_CMD:
        a->chroot = value_opt_bool(ld, t, "chroot", where, false);
        schema_script(ld, t, "create", where, &a->create);
        schema_script(ld, t, "destroy", where, &a->destroy);
        if (!a->create.run && !a->destroy.run)
            value_fail(ld, where, "'cmd' action requires 'create' or 'destroy' command");
        break;
    case ACTION_MDNS:
        break;
    }
}

/* Parses sandboxes.<key> (setup or hooks), a list of action tables. */
static void schema_actions(struct loader *ld, int sb, const char *key, struct action_list *out)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX], iplace[PLACE_MAX];
    int lt = value_opt_table(ld, sb, key, value_placef(place, "sandboxes.%s", key));
    lua_Integer n;

    if (!lt)
        return;
    n = value_seq_len(ld, lt, place);
    out->v = xcalloc((size_t)n, sizeof(*out->v));
    for (lua_Integer i = 1; i <= n; i++) {
        int at = value_table_at(ld, lt, i, value_placef(iplace, "%s[%lld]", place, (long long)i));
        schema_action(ld, at, place, i, out);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* ---- sections ------------------------------------------------------------ */

/* Fails with bob's migration message when t (a section) has one of the legacy keys. */
static void schema_reject_keys(struct loader *ld, int t, const char *section,
                               const char *const *keys)
{
    char key[PLACE_MAX];
    for (; *keys; keys++) {
        int ty = value_get(ld->L, t, *keys);
        lua_pop(ld->L, 1);
        if (ty != LUA_TNIL)
            value_fail(ld, value_placef(key, "%s.%s", section, *keys), legacy_fmt, key);
    }
}

/* Fails with bob's migration message when a key of an older format is present. */
void schema_reject_legacy(struct loader *ld)
{
    static const char *const top[] = {"scripts", "environment", NULL};
    static const char *const sandboxes[] = {"actions", "build", NULL};
    static const char *const environment[] = {"clear", "inherit", "set", NULL};
    static const char *const pkgsrc[] = {"env", "logdir", NULL};
    static const char *const publish[] = {"rsync_args", NULL};
    lua_State *L = ld->L;

    for (const char *const *k = top; *k; k++) {
        int ty = value_get(L, ld->globals, *k);
        lua_pop(L, 1);
        if (ty != LUA_TNIL)
            value_fail(ld, *k, legacy_fmt, *k);
    }
    if (value_get(L, ld->globals, "sandboxes") == LUA_TTABLE) {
        schema_reject_keys(ld, lua_gettop(L), "sandboxes", sandboxes);
        if (value_get(L, lua_gettop(L), "environment") == LUA_TTABLE)
            schema_reject_keys(ld, lua_gettop(L), "sandboxes.environment", environment);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (value_get(L, ld->globals, "pkgsrc") == LUA_TTABLE)
        schema_reject_keys(ld, lua_gettop(L), "pkgsrc", pkgsrc);
    lua_pop(L, 1);
    if (value_get(L, ld->globals, "publish") == LUA_TTABLE)
        schema_reject_keys(ld, lua_gettop(L), "publish", publish);
    lua_pop(L, 1);
}

/* Pushes the global section and returns its stack index, or 0 (nothing pushed) when absent. */
int schema_section(struct loader *ld, const char *name)
{
    return value_opt_table(ld, ld->globals, name, name);
}

/* The default data directory: $BOB_DATADIR, $XDG_DATA_HOME/bob or ~/.local/share/bob. */
static char *schema_default_dbdir(void)
{
    const char *bd = getenv("BOB_DATADIR");
    char *dir, *db;
    if (bd && bd[0] == '/')
        return xstrdup(bd);
    dir = config_user_dir("XDG_DATA_HOME", ".local/share");
    if (!dir)
        return NULL;
    db = xasprintf("%s/bob", dir);
    free(dir);
    return db;
}

#define LIMIT_MAX_SECONDS 1000000000u /* about 31 years */
#define LIMIT_MAX_TASKS 4194304u      /* the kernel's PID_MAX_LIMIT */

/*
 * Parses t.limits (t absolute, base its place) into *out, starting from
 * def (NULL: none): a key that is nil keeps the default, false removes it.
 * time and silence are seconds, or strings "90", "90s", "30m", "2h", "1d";
 * memory is bytes, or a size "512M" (K, M, G, T); tasks is a count. The
 * user's wording is kept in the *_text fields (a number as its digits).
 * Every string is stored in *out as soon as it is made (see the top).
 */
void schema_limits(struct loader *ld, int t, const char *base, const struct job_limits *def,
                   struct job_limits *out)
{
    static const char *const keys[] = {"time", "silence", "memory", "tasks", NULL};
    lua_State *L = ld->L;
    char where[PLACE_MAX], place[PLACE_MAX];
    int ty, lt;

    if (def) {
        out->time = def->time;
        out->silence = def->silence;
        out->memory = def->memory;
        out->tasks = def->tasks;
        out->time_text = def->time_text ? xstrdup(def->time_text) : NULL;
        out->silence_text = def->silence_text ? xstrdup(def->silence_text) : NULL;
        out->memory_text = def->memory_text ? xstrdup(def->memory_text) : NULL;
    }
    value_placef(where, "%s.limits", base);
    if ((ty = value_get(L, t, "limits")) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (ty != LUA_TTABLE)
        value_fail(ld, where, "must be a table such as { time = \"2h\", memory = \"4G\" }, got %s",
                   luaL_typename(L, -1));
    lt = lua_gettop(L);
    value_check_keys(ld, lt, where, keys, "time, silence, memory or tasks");
    for (int k = 0; k < 2; k++) {
        const char *key = k == 0 ? "time" : "silence";
        unsigned *v = k == 0 ? &out->time : &out->silence;
        char **text = k == 0 ? &out->time_text : &out->silence_text;
        unsigned long long n = 0, unit = 1;
        const char *s, *p;
        value_placef(place, "%s.%s", where, key);
        ty = value_get(L, lt, key);
        if (ty == LUA_TNIL || (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
            if (ty != LUA_TNIL) { /* false: no limit, whatever the default */
                *v = 0;
                free(*text);
                *text = NULL;
            }
            lua_pop(L, 1);
            continue;
        }
        if (ty != LUA_TNUMBER && ty != LUA_TSTRING)
            value_fail(ld, place,
                       "must be a number of seconds or a duration such as \"2h\", got %s",
                       luaL_typename(L, -1));
        if (ty == LUA_TNUMBER && !lua_isinteger(L, -1))
            value_fail(ld, place, "must be a whole number of seconds, got %s", lua_tostring(L, -1));
        s = lua_tostring(L, -1);
        for (p = s; *p >= '0' && *p <= '9' && n <= LIMIT_MAX_SECONDS; p++)
            n = n * 10 + (unsigned long long)(*p - '0');
        if (p > s && *p && !p[1] && strchr("smhd", *p))
            unit = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600 : 86400;
        else if (*p || p == s)
            unit = 0;
        if (unit == 0 || n == 0 || n * unit > LIMIT_MAX_SECONDS)
            value_fail(
                ld, place,
                "must be a positive number of seconds or a duration such as \"90s\", \"30m\" or "
                "\"2h\" (at most %u s), got '%s'",
                LIMIT_MAX_SECONDS, s);
        *v = (unsigned)(n * unit);
        free(*text);
        *text = xstrdup(s);
        lua_pop(L, 1);
    }
    value_placef(place, "%s.memory", where);
    ty = value_get(L, lt, "memory");
    if (ty == LUA_TBOOLEAN && lua_toboolean(L, -1))
        value_fail(ld, place,
                   "must be a number of bytes, a size such as \"4G\" or false, got true");
    lua_pop(L, 1);
    if (ty != LUA_TNIL) {
        free(out->memory_text);
        out->memory_text = NULL;
        out->memory = 0;
    }
    if (ty == LUA_TNUMBER) {
        out->memory = value_opt_size(ld, lt, "memory", where);
        out->memory_text = xasprintf("%llu", (unsigned long long)out->memory);
    } else if (ty != LUA_TNIL && ty != LUA_TBOOLEAN) {
        out->memory = value_opt_size(ld, lt, "memory", where);
        value_get(L, lt, "memory");
        out->memory_text = xstrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    value_placef(place, "%s.tasks", where);
    ty = value_get(L, lt, "tasks");
    if (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        out->tasks = 0;
    } else if (ty != LUA_TNIL) {
        int isint = 0;
        lua_Integer n = ty == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || n < 1 || n > (lua_Integer)LIMIT_MAX_TASKS)
            value_fail(ld, place, "must be an integer from 1 to %u (or false), got %s",
                       LIMIT_MAX_TASKS,
                       ty == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
        out->tasks = (uint64_t)n;
    }
    lua_pop(L, 2);
}

/* Frees the texts of a job_limits. */
void schema_limits_free(struct job_limits *l)
{
    free(l->time_text);
    free(l->silence_text);
    free(l->memory_text);
}

/*
 * Fails when directory path cannot be made: its nearest existing ancestor
 * is not a directory (a logdir under a file fails here, named, rather than
 * every job later).
 */
static void schema_check_makeable(struct loader *ld, const char *place, const char *path)
{
    char *p = xstrdup(path), *slash;
    struct stat st;
    while (p[0] && stat(p, &st) != 0 && (errno == ENOENT || errno == ENOTDIR) &&
           (slash = strrchr(p, '/')) && slash != p)
        *slash = '\0';
    if (p[0] && stat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
        char msg[PATH_MAX * 2 + 64];
        snprintf(msg, sizeof(msg), "%s cannot be made: %s is not a directory", path, p);
        free(p);
        value_fail(ld, place, "%s", msg);
    }
    free(p);
}

/* Parses options (all optional) and fills the defaults. */
void schema_options(struct loader *ld)
{
    static const char *const known[] = {
        "build_threads", "scan_threads", "dbdir",  "logdir",  "log_level",       "strict_scan",
        "tui",           "keep_logs",    "limits", "network", "status_interval", NULL};
    static const char *const levels[] = {"error", "warn", "info", "debug", "trace", NULL};
    struct config *cfg = ld->cfg;
    int t = schema_section(ld, "options");
    char *dbdir = NULL, norm[PATH_MAX];

    cfg->build_threads = 1;
    cfg->scan_threads = 1;
    cfg->tui = true;
    cfg->network = true;
    cfg->status_interval = 60;
    if (t) {
        value_warn_unknown(ld, t, "options", known);
        cfg->build_threads = value_opt_count(ld, t, "build_threads", "options", 1);
        cfg->scan_threads = value_opt_count(ld, t, "scan_threads", "options", 1);
        /* options.dbdir = false: no build state (the logs keep the default place). */
        if (value_get(ld->L, t, "dbdir") == LUA_TBOOLEAN && !lua_toboolean(ld->L, -1)) {
            lua_pop(ld->L, 1);
            cfg->nostate = true;
        } else {
            lua_pop(ld->L, 1);
            cfg->dbdir = dbdir = value_opt_str(ld, t, "dbdir", "options", true);
        }
        cfg->logdir = value_opt_str(ld, t, "logdir", "options", true);
        cfg->log_level = value_opt_str(ld, t, "log_level", "options", true);
        cfg->strict_scan = value_opt_bool(ld, t, "strict_scan", "options", false);
        cfg->tui = value_opt_bool(ld, t, "tui", "options", true);
        cfg->keep_logs = value_opt_bool(ld, t, "keep_logs", "options", false);
        cfg->network = value_opt_bool(ld, t, "network", "options", true);
        cfg->status_interval = value_opt_seconds(ld, t, "status_interval", "options", 60);
        schema_limits(ld, t, "options", NULL, &cfg->limits);
        if (cfg->log_level && !value_in_list(cfg->log_level, levels))
            value_fail(ld, "options.log_level",
                       "unknown log level '%s' (expected error, warn, info, debug or trace)",
                       cfg->log_level);
        lua_pop(ld->L, 1);
    }
    if (!cfg->log_level)
        cfg->log_level = xstrdup("info");
    if (dbdir) {
        /* A relative dbdir is relative to the config file's directory (bob). */
        cfg->dbdir = dbdir[0] == '/' ? xstrdup(dbdir) : xasprintf("%s/%s", cfg->dir, dbdir);
        free(dbdir);
    } else if (!(cfg->dbdir = schema_default_dbdir())) {
        value_fail(ld, "options.dbdir", "no default data directory (HOME is not set): set it");
    }
    if (path_norm(cfg->dbdir, norm, sizeof(norm)) != 0)
        value_fail(ld, "options.dbdir", "path is too long");
    free(cfg->dbdir);
    cfg->dbdir = xstrdup(norm);
    if (!cfg->logdir)
        cfg->logdir = xasprintf("%s/logs", cfg->dbdir);
    schema_check_makeable(ld, "options.dbdir", cfg->dbdir);
    schema_check_makeable(ld, "options.logdir", cfg->logdir);
}

/* Parses pkgsrc; build_user_home is written back to the Lua table for only.set. */
void schema_pkgsrc(struct loader *ld)
{
    static const char *const known[] = {
        "basedir", "bootstrap", "build_user",           "build_user_home",    "cachevars",
        "make",    "pkgpaths",  "save_wrkdir_patterns", "bootstrap_max_size", NULL};
    lua_State *L = ld->L;
    struct config *cfg = ld->cfg;
    int t = schema_section(ld, "pkgsrc");

    if (!t)
        return;
    cfg->has_pkgsrc = true;
    value_warn_unknown(ld, t, "pkgsrc", known);
    cfg->pkgsrc_basedir = value_req_str(ld, t, "basedir", "pkgsrc");
    cfg->make = value_req_str(ld, t, "make", "pkgsrc");
    cfg->bootstrap = value_opt_str(ld, t, "bootstrap", "pkgsrc", true);
    cfg->bootstrap_max_size = value_opt_size(ld, t, "bootstrap_max_size", "pkgsrc");
    cfg->build_user = value_opt_str(ld, t, "build_user", "pkgsrc", true);
    if (cfg->build_user) {
        cfg->build_user_home = value_opt_str(ld, t, "build_user_home", "pkgsrc", true);
        if (!cfg->build_user_home) {
            struct passwd *pw = getpwnam(cfg->build_user);
            if (!pw || !pw->pw_dir)
                value_fail(ld, "pkgsrc.build_user", "user '%s' not found in password database",
                           cfg->build_user);
            cfg->build_user_home = xstrdup(pw->pw_dir);
            lua_pushstring(L, "build_user_home");
            lua_pushstring(L, cfg->build_user_home);
            lua_rawset(L, t);
        }
    }
    if (!value_string_list(ld, t, "cachevars", "pkgsrc", &cfg->cachevars, value_check_ident)) {
        strv_push(&cfg->cachevars, "NATIVE_OPSYS");
        strv_push(&cfg->cachevars, "NATIVE_OPSYS_VERSION");
        strv_push(&cfg->cachevars, "NATIVE_OS_VERSION");
#if defined(__NetBSD__)
        strv_push(&cfg->cachevars, "HOST_MACHINE_ARCH");
#elif defined(__sun)
        strv_push(&cfg->cachevars, "_UNAME_V");
#endif
    }
    value_string_list(ld, t, "pkgpaths", "pkgsrc", &cfg->pkgpaths, value_check_pkgpath);
    value_string_list(ld, t, "save_wrkdir_patterns", "pkgsrc", &cfg->save_wrkdir_patterns, NULL);
    if (cfg->save_wrkdir_patterns.n)
        ld->noeffect[ld->nnoeffect++] = "pkgsrc.save_wrkdir_patterns";
    lua_pop(L, 1);
}

/* Parses sandboxes.environment.<name> into p. */
static void schema_env_ctx(struct loader *ld, int et, const char *name, struct env_policy *p)
{
    static const char *const build_keys[] = {"clear", "inherit", "vars", NULL};
    static const char *const dev_keys[] = {"clear", "inherit", "vars", "shell", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], label[PLACE_MAX], vplace[PLACE_MAX];
    bool dev = strcmp(name, "dev") == 0;
    int ct = value_opt_table(ld, et, name, value_placef(place, "sandboxes.environment.%s", name));

    if (!ct)
        return;
    value_placef(label, "environment.%s", name);
    p->present = true;
    value_warn_unknown(ld, ct, label, dev ? dev_keys : build_keys);
    p->clear = value_opt_bool(ld, ct, "clear", place, true);
    value_string_list(ld, ct, "inherit", place, &p->inherit, value_check_ident);
    value_opt_env(ld, ct, "vars", value_placef(vplace, "%s.vars", place), &p->vars, false);
    if (dev)
        p->shell = value_opt_str(ld, ct, "shell", place, true);
    lua_pop(L, 1);
}

/* Parses sandboxes: basedir, bindfs, tmpfs_root, environment, setup and hooks. */
void schema_sandboxes(struct loader *ld)
{
    static const char *const known[] = {"basedir", "bindfs",     "environment", "hooks",
                                        "setup",   "tmpfs_root", NULL};
    static const char *const env_known[] = {"build", "dev", NULL};
    lua_State *L = ld->L;
    struct config *cfg = ld->cfg;
    int t = schema_section(ld, "sandboxes"), et;
    char norm[PATH_MAX];

    if (!t)
        return;
    cfg->has_sandboxes = true;
    value_warn_unknown(ld, t, "sandboxes", known);
    cfg->basedir = value_req_str(ld, t, "basedir", "sandboxes");
    if (cfg->basedir[0] != '/')
        value_fail(ld, "sandboxes.basedir", "must be an absolute path, got '%s'", cfg->basedir);
    if (path_has_dotdot(cfg->basedir))
        value_fail(ld, "sandboxes.basedir", "must not contain '..' components, got '%s'",
                   cfg->basedir);
    if (path_norm(cfg->basedir, norm, sizeof(norm)) != 0)
        value_fail(ld, "sandboxes.basedir", "path is too long");
    if (strcmp(norm, "/") == 0)
        value_fail(ld, "sandboxes.basedir", "must not be '/'");
    free(cfg->basedir);
    cfg->basedir = xstrdup(norm);
    cfg->bindfs = value_opt_str(ld, t, "bindfs", "sandboxes", true);
    if (cfg->bindfs && strcmp(cfg->bindfs, "bindfs") != 0) /* bob's default: nothing to say */
        ld->noeffect[ld->nnoeffect++] = "sandboxes.bindfs";
    if (!cfg->bindfs)
        cfg->bindfs = xstrdup("bindfs");
    /*
     * Our extension: a tmpfs of its own at each sandbox's root, by default
     * (README, "Configuration"); false for a directory on basedir's disk,
     * true or a string of tmpfs options.
     */
    switch (value_get(L, t, "tmpfs_root")) {
    case LUA_TNIL:
        lua_pop(L, 1);
        cfg->tmpfs_root = xstrdup("");
        break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, -1))
            cfg->tmpfs_root = xstrdup("");
        lua_pop(L, 1);
        break;
    default:
        lua_pop(L, 1);
        cfg->tmpfs_root = value_opt_str(ld, t, "tmpfs_root", "sandboxes", false);
    }

    if ((et = value_opt_table(ld, t, "environment", "sandboxes.environment"))) {
        value_warn_unknown(ld, et, "environment", env_known);
        schema_env_ctx(ld, et, "build", &cfg->env_build);
        schema_env_ctx(ld, et, "dev", &cfg->env_dev);
        lua_pop(L, 1);
    }

    schema_actions(ld, t, "setup", &cfg->setup);
    schema_actions(ld, t, "hooks", &cfg->hooks);
    lua_pop(L, 1);
}

/* Warns about the bob sections that we accept but do not implement. */
void schema_unsupported(struct loader *ld)
{
    static const char *const names[] = {"dynamic", "publish", "summary", NULL};
    for (const char *const *n = names; *n; n++) {
        int ty = value_get(ld->L, ld->globals, *n);
        lua_pop(ld->L, 1);
        if (ty != LUA_TNIL)
            strv_push_owned(&ld->cfg->warnings, xasprintf("%s: not supported, ignored", *n));
    }
}
