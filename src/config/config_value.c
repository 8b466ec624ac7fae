/*
 * Reading Lua values for the configuration loader: each reader checks the
 * type and the form of one value and, when it is wrong, fails naming the
 * place in the config ("sandboxes.setup[3].fs") with the reason.
 */
#include "config/config_int.h"

#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

/* build_threads and scan_threads: from 1 to this. */
#define VALUE_MAX_THREADS 1024

/* Its address marks an error whose message is already in the struct err. */
const char value_fail_token;

/* Fills the error with "<path>: <place>: <reason>" and unwinds to config_load. */
void value_fail(struct loader *ld, const char *place, const char *fmt, ...)
{
    char reason[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (place && *place)
        err_set(ld->e, "%s: %s: %s", ld->cfg->path, place, reason);
    else
        err_set(ld->e, "%s: %s", ld->cfg->path, reason);
    lua_pushlightuserdata(ld->L, (void *)&value_fail_token);
    lua_error(ld->L);
    abort(); /* not reached: lua_error does not return */
}

/* Formats a place name ("sandboxes.setup[3].fs") into buf and returns buf. */
const char *value_placef(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, PLACE_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

/* ---- small helpers over the Lua stack -------------------------------- */

/* Pushes t[key] without metamethods and returns its type; t is absolute. */
int value_get(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* Writes a printable name of the key at idx without converting it in place. */
static const char *value_key_name(lua_State *L, int idx, char *buf, size_t n)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        snprintf(buf, n, "%s", lua_tostring(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
        else
            snprintf(buf, n, "%.14g", (double)lua_tonumber(L, idx));
        break;
    case LUA_TBOOLEAN:
        snprintf(buf, n, "%s", lua_toboolean(L, idx) ? "true" : "false");
        break;
    default:
        snprintf(buf, n, "<%s>", luaL_typename(L, idx));
    }
    return buf;
}

/* Formats the place of key (on the stack at idx) inside base: "base.key" or "base[1]". */
const char *value_key_place(lua_State *L, char *buf, const char *base, int idx)
{
    char k[256];
    value_key_name(L, idx, k, sizeof(k));
    if (lua_type(L, idx) == LUA_TSTRING)
        return value_placef(buf, "%s.%s", base, k);
    return value_placef(buf, "%s[%s]", base, k);
}

/* True when s is one of the NULL-terminated list. */
bool value_in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Warns (bob's wording) about keys of table t that are not in known, sorted. */
void value_warn_unknown(struct loader *ld, int t, const char *label, const char *const *known)
{
    lua_State *L = ld->L;
    struct strv *w = &ld->cfg->warnings;
    size_t first = w->n;
    char k[256];

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && value_in_list(lua_tostring(L, -1), known))
            continue;
        strv_push_owned(
            w, xasprintf("unknown config key '%s.%s'", label, value_key_name(L, -1, k, sizeof(k))));
    }
    if (w->n > first) { /* (w->v is NULL while there is no warning) */
        struct strv added = {w->v + first, w->n - first, 0}; /* a view: strv_sort only sorts */
        strv_sort(&added);
    }
}

/* Fails on a key of table t that is not in known (action tables, jobs). */
void value_check_keys(struct loader *ld, int t, const char *base, const char *const *known,
                      const char *expected)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && value_in_list(lua_tostring(L, -1), known))
            continue;
        value_fail(ld, value_key_place(L, place, base, lua_gettop(L)), "unknown key (expected %s)",
                   expected);
    }
}

/* Checks that table t is a sequence 1..n without other keys; returns n. */
lua_Integer value_seq_len(struct loader *ld, int t, const char *place)
{
    lua_State *L = ld->L;
    lua_Integer n = (lua_Integer)lua_rawlen(L, t), count = 0;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n)
            value_fail(ld, place, "must be a list, not a keyed table");
        count++;
    }
    if (count != n)
        value_fail(ld, place, "must be a list without holes");
    return n;
}

/*
 * Returns the string (or number, converted) at idx, which stays valid while
 * the value is on the stack; fails naming place for any other type.
 */
const char *value_str_at(struct loader *ld, int idx, const char *place)
{
    lua_State *L = ld->L;
    size_t len;
    const char *s;
    int ty = lua_type(L, idx);

    if (ty != LUA_TSTRING && ty != LUA_TNUMBER)
        value_fail(ld, place, "must be a string, got %s", luaL_typename(L, idx));
    s = lua_tolstring(L, idx, &len);
    if (memchr(s, '\0', len))
        value_fail(ld, place, "must not contain a NUL byte");
    return s;
}

/*
 * Pushes t[key] and returns it as a string (see value_str_at), or NULL when nil;
 * the caller pops the value.
 */
const char *value_stack_str(struct loader *ld, int t, const char *key, const char *base)
{
    char place[PLACE_MAX];
    if (value_get(ld->L, t, key) == LUA_TNIL)
        return NULL;
    return value_str_at(ld, lua_gettop(ld->L), value_placef(place, "%s.%s", base, key));
}

/* t[key] as a new string, NULL when nil; non_empty refuses "". */
char *value_opt_str(struct loader *ld, int t, const char *key, const char *base, bool non_empty)
{
    char place[PLACE_MAX];
    const char *s = value_stack_str(ld, t, key, base);
    char *r;

    if (!s) {
        lua_pop(ld->L, 1);
        return NULL;
    }
    if (non_empty && !*s)
        value_fail(ld, value_placef(place, "%s.%s", base, key), "must not be empty");
    r = xstrdup(s);
    lua_pop(ld->L, 1);
    return r;
}

/* t[key] as a required non-empty string (bob: "missing required field"). */
char *value_req_str(struct loader *ld, int t, const char *key, const char *base)
{
    char place[PLACE_MAX];
    int ty = value_get(ld->L, t, key);
    lua_pop(ld->L, 1);
    if (ty == LUA_TNIL)
        value_fail(ld, value_placef(place, "%s.%s", base, key), "missing required field '%s'", key);
    return value_opt_str(ld, t, key, base, true);
}

/* t[key] as a Lua boolean (strict: "no" and 0 are errors), def when nil. */
bool value_opt_bool(struct loader *ld, int t, const char *key, const char *base, bool def)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int ty = value_get(L, t, key);
    bool v = def;

    if (ty == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (ty != LUA_TNIL)
        value_fail(ld, value_placef(place, "%s.%s", base, key),
                   "must be a boolean (true or false), got %s", luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

/* t[key] as an integer from 1 to VALUE_MAX_THREADS, def when nil. */
unsigned value_opt_count(struct loader *ld, int t, const char *key, const char *base, unsigned def)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int ty = value_get(L, t, key), isint = 0;
    lua_Integer v = 0;

    value_placef(place, "%s.%s", base, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (ty != LUA_TNUMBER)
        value_fail(ld, place, "must be an integer from 1 to %d, got %s", VALUE_MAX_THREADS,
                   luaL_typename(L, -1));
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 1 || v > VALUE_MAX_THREADS)
        value_fail(ld, place, "must be an integer from 1 to %d, got %s", VALUE_MAX_THREADS,
                   lua_tostring(L, -1));
    lua_pop(L, 1);
    return (unsigned)v;
}

unsigned value_opt_seconds(struct loader *ld, int t, const char *key, const char *base,
                           unsigned def)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int ty = value_get(L, t, key), isint = 0;
    lua_Integer v = 0;

    value_placef(place, "%s.%s", base, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (ty != LUA_TNUMBER)
        value_fail(ld, place, "must be a number of seconds from 0 to 86400, got %s",
                   luaL_typename(L, -1));
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 0 || v > 86400)
        value_fail(ld, place, "must be a number of seconds from 0 to 86400, got %s",
                   lua_tostring(L, -1));
    lua_pop(L, 1);
    return (unsigned)v;
}

/* True when s matches [A-Za-z_][A-Za-z0-9_]*. */
bool value_is_ident(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* Compares "K=V" strings by key only, for sorting environment lists. */
static int value_cmp_env(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t xl = strcspn(x, "="), yl = strcspn(y, "=");
    int r = memcmp(x, y, xl < yl ? xl : yl);
    if (r)
        return r;
    return xl < yl ? -1 : xl > yl;
}

/* Sorts a list of "K=V" by key. */
static void value_env_sort(struct strv *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(char *), value_cmp_env);
}

/*
 * Reads the map at idx into out as "K=V" sorted by key: keys must be shell
 * identifiers; values strings or numbers, and booleans when allow_bool.
 */
void value_env_map(struct loader *ld, int idx, const char *place, struct strv *out, bool allow_bool)
{
    lua_State *L = ld->L;
    char vplace[PLACE_MAX], k[256];

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int vi = lua_gettop(L), ty = lua_type(L, vi);
        const char *key, *val;

        if (lua_type(L, vi - 1) != LUA_TSTRING || !value_is_ident(lua_tostring(L, vi - 1)))
            value_fail(ld, place,
                       "key '%s' is not a valid shell identifier (must match "
                       "[A-Za-z_][A-Za-z0-9_]*)",
                       value_key_name(L, vi - 1, k, sizeof(k)));
        key = lua_tostring(L, vi - 1);
        value_placef(vplace, "%s.%s", place, key);
        if (ty == LUA_TBOOLEAN && allow_bool) {
            val = lua_toboolean(L, vi) ? "true" : "false";
        } else if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
            lua_pushvalue(L, vi); /* convert a copy: the key must stay intact */
            val = value_str_at(ld, -1, vplace);
        } else if (allow_bool) {
            value_fail(ld, vplace, "must be a string, number, or boolean, got %s",
                       luaL_typename(L, vi));
        } else {
            value_fail(ld, vplace, "must be a string, got %s", luaL_typename(L, vi));
        }
        strv_push_owned(out, xasprintf("%s=%s", key, val));
        lua_settop(L, vi - 1);
    }
    value_env_sort(out);
}

/* A validator for list entries: fails naming place when s is not acceptable. */
typedef void (*value_check_fn)(struct loader *ld, const char *place, const char *s);

/* Entries of lists of environment variable names. */
void value_check_ident(struct loader *ld, const char *place, const char *s)
{
    if (!value_is_ident(s))
        value_fail(ld, place,
                   "'%s' is not a valid variable name (must match [A-Za-z_][A-Za-z0-9_]*)", s);
}

/* A pkgsrc package path: "category/package". */
void value_check_pkgpath(struct loader *ld, const char *place, const char *s)
{
    const char *slash = strchr(s, '/');
    const char *why = NULL;

    if (!*s)
        why = "empty";
    else if (strpbrk(s, " \t\n\r\v\f"))
        why = "contains whitespace";
    else if (!slash || strchr(slash + 1, '/') || slash == s || !slash[1])
        why = "must be of the form category/package";
    else if (!strncmp(s, "./", 2) || !strncmp(s, "../", 3) || !strcmp(slash, "/.") ||
             !strcmp(slash, "/.."))
        why = "'.' and '..' are not package paths";
    if (why)
        value_fail(ld, place, "invalid pkgpath '%s': %s", s, why);
}

int value_opt_table(struct loader *ld, int t, const char *key, const char *place)
{
    lua_State *L = ld->L;
    int ty = value_get(L, t, key);

    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (ty != LUA_TTABLE)
        value_fail(ld, place, "must be a table, got %s", luaL_typename(L, -1));
    return lua_gettop(L);
}

int value_table_at(struct loader *ld, int t, lua_Integer i, const char *place)
{
    if (lua_rawgeti(ld->L, t, i) != LUA_TTABLE)
        value_fail(ld, place, "must be a table, got %s", luaL_typename(ld->L, -1));
    return lua_gettop(ld->L);
}

void value_opt_env(struct loader *ld, int t, const char *key, const char *place, struct strv *out,
                   bool allow_bool)
{
    int et = value_opt_table(ld, t, key, place);
    if (et) {
        value_env_map(ld, et, place, out, allow_bool);
        lua_pop(ld->L, 1);
    }
}

/*
 * Reads t[key], a list of strings, into out (each checked by check when
 * given). Returns false when the key is absent.
 */
bool value_string_list(struct loader *ld, int t, const char *key, const char *base,
                       struct strv *out, value_check_fn check)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX], iplace[PLACE_MAX];
    int lt;
    lua_Integer n;

    if (!(lt = value_opt_table(ld, t, key, value_placef(place, "%s.%s", base, key))))
        return false;
    n = value_seq_len(ld, lt, place);
    for (lua_Integer i = 1; i <= n; i++) {
        const char *s;
        value_placef(iplace, "%s[%lld]", place, (long long)i);
        if (lua_rawgeti(L, lt, i) != LUA_TSTRING)
            value_fail(ld, iplace, "must be a string, got %s", luaL_typename(L, -1));
        s = value_str_at(ld, -1, iplace);
        if (check)
            check(ld, iplace, s);
        strv_push(out, s);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return true;
}

/* t[key] as a size in bytes, 0 when nil: a positive integer or a string such as "512M" or "4G". */
size_t value_opt_size(struct loader *ld, int t, const char *key, const char *base)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int ty = value_get(L, t, key), isint = 0;
    unsigned long long v = 0, unit = 1;
    const char *s, *p, *u;

    value_placef(place, "%s.%s", base, key);
    if (ty == LUA_TNUMBER) {
        lua_Integer n = lua_tointegerx(L, -1, &isint);
        if (!isint || n < 1)
            value_fail(ld, place, "must be a positive number of bytes, got %s",
                       lua_tostring(L, -1));
        lua_pop(L, 1);
        return (size_t)n;
    }
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (ty != LUA_TSTRING)
        value_fail(ld, place, "must be a number of bytes or a string such as \"4G\", got %s",
                   luaL_typename(L, -1));
    s = lua_tostring(L, -1);
    for (p = s; *p >= '0' && *p <= '9' && v < ULLONG_MAX / 10; p++)
        v = v * 10 + (unsigned long long)(*p - '0');
    if (p > s && *p && p[1] == '\0' && (u = strchr("KMGTkmgt", *p)) != NULL)
        unit = 1ull << (10 * ((u - "KMGTkmgt") % 4 + 1));
    else if (*p || p == s)
        unit = 0;
    if (unit == 0 || v == 0 || v > SIZE_MAX / unit)
        value_fail(ld, place,
                   "must be a positive number of bytes or a size such as \"4G\", got '%s'", s);
    lua_pop(L, 1);
    return (size_t)(v * unit);
}

/* Names for messages and output. */
const char *action_kind_name(enum action_kind k)
{
    static const char *const names[] = {
        [ACTION_MOUNT] = "mount",
        [ACTION_COPY] = "copy",
        [ACTION_SYMLINK] = "symlink",
        [ACTION_CMD] = "cmd",
        [ACTION_MDNS] = "macos-mdns-listener",
    };
    return (size_t)k < sizeof(names) / sizeof(names[0]) && names[k] ? names[k] : "unknown";
}

/* The canonical name of a filesystem type ("bind" for lofs, loop and null too). */
const char *fs_type_name(enum fs_type t)
{
    static const char *const names[] = {
        [FS_NONE] = "none", [FS_BIND] = "bind", [FS_DEV] = "dev", [FS_FD] = "fd",
        [FS_NFS] = "nfs",   [FS_PROC] = "proc", [FS_TMP] = "tmp",
    };
    return (size_t)t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "unknown";
}

/* $xdg_var, else ~/home_rel (HOME, else the passwd entry); NULL without a home. */
char *config_user_dir(const char *xdg_var, const char *home_rel)
{
    const char *x = getenv(xdg_var), *home = getenv("HOME");
    struct passwd *pw;

    if (x && x[0] == '/')
        return xstrdup(x);
    if ((!home || home[0] != '/') && (pw = getpwuid(getuid())) && pw->pw_dir)
        home = pw->pw_dir;
    if (!home || home[0] != '/')
        return NULL;
    return xasprintf("%s/%s", home, home_rel);
}
