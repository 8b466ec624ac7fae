/*
 * The configuration loader. The config file runs in an embedded Lua 5.4
 * state that is bounded in memory (a counting allocator) and in time (a
 * count hook that checks a wall-clock deadline); then every section is
 * validated strictly and copied into struct config, and the state is
 * closed.
 *
 * All Lua work happens inside one protected call. A validation failure
 * writes its message into the caller's struct err and unwinds with
 * lua_error, so the parsing code never propagates return values. The price
 * is one rule: every C allocation is stored into the config (or the loader)
 * as soon as it is made, so that config_free/loader cleanup find it after
 * an unwind. Temporary strings live on the Lua stack or in fixed buffers.
 */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "config/embed.h"

#define CONFIG_MAX_FILE ((size_t)16 << 20)
#define MAX_THREADS 1024
#define MAX_LINK_HOPS 40
#define PLACE_MAX 512
#define HOOK_COUNT 1000
#define HARD_STOP_GRACE_MS 2000

static const char legacy_fmt[] =
    "\n\n'%s' is no longer a supported configuration key.\n\n"
    "The configuration file format and the default location have changed.  Run\n"
    "'bob init' to generate a new file and merge any changes required for your\n"
    "setup.  See https://docs.rs/bob/latest/bob/config/ for more information.";

/* A symlink made by an earlier action, as the escape check simulates it. */
struct link {
    char *dest;   /* guest path of the link, resolved through earlier links */
    char *target; /* as written */
    bool escapes; /* absolute, or climbs above the sandbox root */
    char *where;  /* "sandboxes.setup[3]" */
};

struct loader {
    lua_State *L;
    struct config *cfg;
    struct err *e;
    size_t used, max_bytes;
    bool mem_failed; /* the last allocation that mattered was refused */
    double deadline;
    bool timed_out;
    char timeout_where[LUA_IDSIZE + 32];
    int msgh;    /* stack index of the message handler */
    int globals; /* stack index of the globals table */
    const char *source;
    size_t source_len;
    struct link *links;
    size_t nlinks, links_cap;
    int link_index; /* stack index of a table: resolved guest path -> 1-based link number */
};

/* Its address marks an error whose message is already in the struct err. */
static const char fail_token;

/* Fills the error with "<path>: <place>: <reason>" and unwinds to config_load. */
__attribute__((noreturn, format(printf, 3, 4))) static void
fail(struct loader *ld, const char *place, const char *fmt, ...)
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
    lua_pushlightuserdata(ld->L, (void *)&fail_token);
    lua_error(ld->L);
    abort(); /* not reached: lua_error does not return */
}

/* Formats a place name ("sandboxes.setup[3].fs") into buf and returns buf. */
__attribute__((format(printf, 2, 3))) static const char *placef(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, PLACE_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

/* Names for messages and output. */
const char *action_kind_name(enum action_kind k)
{
    switch (k) {
    case ACTION_MOUNT:
        return "mount";
    case ACTION_COPY:
        return "copy";
    case ACTION_SYMLINK:
        return "symlink";
    case ACTION_CMD:
        return "cmd";
    case ACTION_MDNS:
        return "macos-mdns-listener";
    }
    return "unknown";
}

/* The canonical name of a filesystem type ("bind" for lofs, loop and null too). */
const char *fs_type_name(enum fs_type t)
{
    switch (t) {
    case FS_NONE:
        return "none";
    case FS_BIND:
        return "bind";
    case FS_DEV:
        return "dev";
    case FS_FD:
        return "fd";
    case FS_NFS:
        return "nfs";
    case FS_PROC:
        return "proc";
    case FS_TMP:
        return "tmp";
    }
    return "unknown";
}

/* ---- memory and time bounds ------------------------------------------ */

/* The Lua allocator: plain realloc, refusing to grow past max_bytes. */
static void *loader_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct loader *ld = ud;
    size_t old = ptr ? osize : 0;
    void *p;

    if (nsize == 0) {
        free(ptr);
        ld->used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > ld->max_bytes - ld->used) {
        ld->mem_failed = true;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (!p) {
        ld->mem_failed = true;
        return NULL;
    }
    ld->used = ld->used - old + nsize;
    /* Lua retries a refused allocation after a full collection; success clears it. */
    ld->mem_failed = false;
    return p;
}

/*
 * The count hook: after the deadline every hook call raises an error, and
 * the hook then fires on every instruction, so that a config that catches
 * the error with pcall still cannot go on running.
 */
static void loader_hook(lua_State *L, lua_Debug *ar)
{
    void *ud;
    struct loader *ld;

    lua_getallocf(L, &ud);
    ld = ud;
    if (!ld->timed_out) {
        if (now_ms() < ld->deadline)
            return;
        ld->timed_out = true;
        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
            snprintf(ld->timeout_where, sizeof(ld->timeout_where), "%s:%d", ar->short_src,
                     ar->currentline);
    }
    lua_sethook(L, loader_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "configuration took too long to load (infinite loop?)");
}

/*
 * The hard stop (config_limits.hard_stop). The message is made before the
 * timer is armed: the handler only writes it and ends the process, which
 * is all that is safe in a signal handler that interrupted arbitrary code.
 */
static char hard_msg[PATH_MAX * 4 + 160];
static size_t hard_len;

static void hard_stop_handler(int sig)
{
    ssize_t w;
    (void)sig;
    w = write(STDERR_FILENO, hard_msg, hard_len);
    (void)w;
    _exit(1);
}

struct hard_stop {
    bool armed;
    struct sigaction old_act;
    struct itimerval old_timer;
};

/* Arms the hard stop for path, ms milliseconds from now. */
static void hard_stop_arm(struct hard_stop *h, const char *path, unsigned ms)
{
    static const char tail[] = ": configuration took too long to load (stuck in one call "
                               "of a library function, such as a backtracking string "
                               "pattern)\n";
    struct sigaction sa;
    struct itimerval it;
    size_t n = 0;

    n += (size_t)snprintf(hard_msg, sizeof(hard_msg), "Error: ");
    /* Control bytes of the path are written escaped, as cli_error does. */
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < sizeof(hard_msg) - sizeof(tail); p++) {
        if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(hard_msg + n, 5, "\\x%02x", *p);
        else
            hard_msg[n++] = (char)*p;
    }
    memcpy(hard_msg + n, tail, sizeof(tail) - 1);
    hard_len = n + sizeof(tail) - 1;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = hard_stop_handler;
    sigemptyset(&sa.sa_mask);
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    if (sigaction(SIGALRM, &sa, &h->old_act) != 0)
        return;
    if (setitimer(ITIMER_REAL, &it, &h->old_timer) != 0) {
        sigaction(SIGALRM, &h->old_act, NULL);
        return;
    }
    h->armed = true;
}

static void hard_stop_disarm(struct hard_stop *h)
{
    if (!h->armed)
        return;
    setitimer(ITIMER_REAL, &h->old_timer, NULL);
    sigaction(SIGALRM, &h->old_act, NULL);
    h->armed = false;
}

/*
 * The message handler: keeps validation failures as they are and gives any
 * other error the "file:line:" of the innermost frame of a file chunk (not
 * of a C function or of the embedded helpers), when it lacks one.
 */
static int loader_msgh(lua_State *L)
{
    const char *msg;
    lua_Debug ar;

    if (lua_touserdata(L, 1) == &fail_token)
        return 1;
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
        msg = lua_tostring(L, 1);
    else
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0 || ar.source[0] == '=')
            continue;
        size_t n = strlen(ar.short_src);
        if (strncmp(msg, ar.short_src, n) != 0 || msg[n] != ':')
            msg = lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
        break;
    }
    lua_pushstring(L, msg);
    return 1;
}

/* ---- small helpers over the Lua stack -------------------------------- */

/* Pushes t[key] without metamethods and returns its type; t is absolute. */
static int getf(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* Writes a printable name of the key at idx without converting it in place. */
static const char *key_name(lua_State *L, int idx, char *buf, size_t n)
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
static const char *key_place(lua_State *L, char *buf, const char *base, int idx)
{
    char k[256];
    key_name(L, idx, k, sizeof(k));
    if (lua_type(L, idx) == LUA_TSTRING)
        return placef(buf, "%s.%s", base, k);
    return placef(buf, "%s[%s]", base, k);
}

/* True when s is one of the NULL-terminated list. */
static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Compares two strings for qsort. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Warns (bob's wording) about keys of table t that are not in known, sorted. */
static void warn_unknown(struct loader *ld, int t, const char *label, const char *const *known)
{
    lua_State *L = ld->L;
    struct strv *w = &ld->cfg->warnings;
    size_t first = w->n;
    char k[256];

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && in_list(lua_tostring(L, -1), known))
            continue;
        strv_push_owned(
            w, xasprintf("unknown config key '%s.%s'", label, key_name(L, -1, k, sizeof(k))));
    }
    if (w->n - first > 1)
        qsort(w->v + first, w->n - first, sizeof(char *), cmp_str);
}

/* Fails on a key of table t that is not in known (action tables, jobs). */
static void check_keys(struct loader *ld, int t, const char *base, const char *const *known,
                       const char *expected)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && in_list(lua_tostring(L, -1), known))
            continue;
        fail(ld, key_place(L, place, base, lua_gettop(L)), "unknown key (expected %s)", expected);
    }
}

/* Checks that table t is a sequence 1..n without other keys; returns n. */
static lua_Integer seq_len(struct loader *ld, int t, const char *place)
{
    lua_State *L = ld->L;
    lua_Integer n = (lua_Integer)lua_rawlen(L, t), count = 0;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n)
            fail(ld, place, "must be a list, not a keyed table");
        count++;
    }
    if (count != n)
        fail(ld, place, "must be a list without holes");
    return n;
}

/*
 * Returns the string (or number, converted) at idx, which stays valid while
 * the value is on the stack; fails naming place for any other type.
 */
static const char *str_at(struct loader *ld, int idx, const char *place)
{
    lua_State *L = ld->L;
    size_t len;
    const char *s;
    int ty = lua_type(L, idx);

    if (ty != LUA_TSTRING && ty != LUA_TNUMBER)
        fail(ld, place, "must be a string, got %s", luaL_typename(L, idx));
    s = lua_tolstring(L, idx, &len);
    if (memchr(s, '\0', len))
        fail(ld, place, "must not contain a NUL byte");
    return s;
}

/*
 * Pushes t[key] and returns it as a string (see str_at), or NULL when nil;
 * the caller pops the value.
 */
static const char *stack_str(struct loader *ld, int t, const char *key, const char *base)
{
    char place[PLACE_MAX];
    if (getf(ld->L, t, key) == LUA_TNIL)
        return NULL;
    return str_at(ld, lua_gettop(ld->L), placef(place, "%s.%s", base, key));
}

/* t[key] as a new string, NULL when nil; non_empty refuses "". */
static char *opt_str(struct loader *ld, int t, const char *key, const char *base, bool non_empty)
{
    char place[PLACE_MAX];
    const char *s = stack_str(ld, t, key, base);
    char *r;

    if (!s) {
        lua_pop(ld->L, 1);
        return NULL;
    }
    if (non_empty && !*s)
        fail(ld, placef(place, "%s.%s", base, key), "must not be empty");
    r = xstrdup(s);
    lua_pop(ld->L, 1);
    return r;
}

/* t[key] as a required non-empty string (bob: "missing required field"). */
static char *req_str(struct loader *ld, int t, const char *key, const char *base)
{
    char place[PLACE_MAX];
    int ty = getf(ld->L, t, key);
    lua_pop(ld->L, 1);
    if (ty == LUA_TNIL)
        fail(ld, placef(place, "%s.%s", base, key), "missing required field '%s'", key);
    return opt_str(ld, t, key, base, true);
}

/* t[key] as a Lua boolean (strict: "no" and 0 are errors), def when nil. */
static bool opt_bool(struct loader *ld, int t, const char *key, const char *base, bool def)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int ty = getf(L, t, key);
    bool v = def;

    if (ty == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (ty != LUA_TNIL)
        fail(ld, placef(place, "%s.%s", base, key), "must be a boolean (true or false), got %s",
             luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

/* t[key] as an integer from 1 to MAX_THREADS, def when nil. */
static unsigned opt_count(struct loader *ld, int t, const char *key, const char *base, unsigned def)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int ty = getf(L, t, key), isint = 0;
    lua_Integer v = 0;

    placef(place, "%s.%s", base, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (ty != LUA_TNUMBER)
        fail(ld, place, "must be an integer from 1 to %d, got %s", MAX_THREADS,
             luaL_typename(L, -1));
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 1 || v > MAX_THREADS)
        fail(ld, place, "must be an integer from 1 to %d, got %s", MAX_THREADS,
             lua_tostring(L, -1));
    lua_pop(L, 1);
    return (unsigned)v;
}

/* t[key] as a size in bytes, 0 when nil: a positive integer or a string such as "512M" or "4G". */
static size_t opt_size(struct loader *ld, int t, const char *key, const char *base)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int ty = getf(L, t, key), isint = 0;
    unsigned long long v = 0, unit = 1;
    const char *s, *p, *u;

    placef(place, "%s.%s", base, key);
    if (ty == LUA_TNUMBER) {
        lua_Integer n = lua_tointegerx(L, -1, &isint);
        if (!isint || n < 1)
            fail(ld, place, "must be a positive number of bytes, got %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return (size_t)n;
    }
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (ty != LUA_TSTRING)
        fail(ld, place, "must be a number of bytes or a string such as \"4G\", got %s",
             luaL_typename(L, -1));
    s = lua_tostring(L, -1);
    for (p = s; *p >= '0' && *p <= '9' && v < ULLONG_MAX / 10; p++)
        v = v * 10 + (unsigned long long)(*p - '0');
    if (p > s && *p && p[1] == '\0' && (u = strchr("KMGTkmgt", *p)) != NULL)
        unit = 1ull << (10 * ((u - "KMGTkmgt") % 4 + 1));
    else if (*p || p == s)
        unit = 0;
    if (unit == 0 || v == 0 || v > SIZE_MAX / unit)
        fail(ld, place, "must be a positive number of bytes or a size such as \"4G\", got '%s'", s);
    lua_pop(L, 1);
    return (size_t)(v * unit);
}

/* True when s matches [A-Za-z_][A-Za-z0-9_]*. */
static bool is_ident(const char *s)
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
static int cmp_env(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t xl = strcspn(x, "="), yl = strcspn(y, "=");
    int r = memcmp(x, y, xl < yl ? xl : yl);
    if (r)
        return r;
    return xl < yl ? -1 : xl > yl;
}

/* Sorts a list of "K=V" by key. */
static void env_sort(struct strv *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(char *), cmp_env);
}

/*
 * Reads the map at idx into out as "K=V" sorted by key: keys must be shell
 * identifiers; values strings or numbers, and booleans when allow_bool.
 */
static void env_map(struct loader *ld, int idx, const char *place, struct strv *out,
                    bool allow_bool)
{
    lua_State *L = ld->L;
    char vplace[PLACE_MAX], k[256];

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int vi = lua_gettop(L), ty = lua_type(L, vi);
        const char *key, *val;

        if (lua_type(L, vi - 1) != LUA_TSTRING || !is_ident(lua_tostring(L, vi - 1)))
            fail(ld, place,
                 "key '%s' is not a valid shell identifier (must match "
                 "[A-Za-z_][A-Za-z0-9_]*)",
                 key_name(L, vi - 1, k, sizeof(k)));
        key = lua_tostring(L, vi - 1);
        placef(vplace, "%s.%s", place, key);
        if (ty == LUA_TBOOLEAN && allow_bool) {
            val = lua_toboolean(L, vi) ? "true" : "false";
        } else if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
            lua_pushvalue(L, vi); /* convert a copy: the key must stay intact */
            val = str_at(ld, -1, vplace);
        } else if (allow_bool) {
            fail(ld, vplace, "must be a string, number, or boolean, got %s", luaL_typename(L, vi));
        } else {
            fail(ld, vplace, "must be a string, got %s", luaL_typename(L, vi));
        }
        strv_push_owned(out, xasprintf("%s=%s", key, val));
        lua_settop(L, vi - 1);
    }
    env_sort(out);
}

/* A validator for list entries: fails naming place when s is not acceptable. */
typedef void (*str_check)(struct loader *ld, const char *place, const char *s);

/* Entries of lists of environment variable names. */
static void check_ident(struct loader *ld, const char *place, const char *s)
{
    if (!is_ident(s))
        fail(ld, place, "'%s' is not a valid variable name (must match [A-Za-z_][A-Za-z0-9_]*)", s);
}

/* A pkgsrc package path: "category/package". */
static void check_pkgpath(struct loader *ld, const char *place, const char *s)
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
        fail(ld, place, "invalid pkgpath '%s': %s", s, why);
}

/*
 * Reads t[key], a list of strings, into out (each checked by check when
 * given). Returns false when the key is absent.
 */
static bool string_list(struct loader *ld, int t, const char *key, const char *base,
                        struct strv *out, str_check check)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX], iplace[PLACE_MAX];
    int ty = getf(L, t, key), lt = lua_gettop(L);
    lua_Integer n;

    placef(place, "%s.%s", base, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return false;
    }
    if (ty != LUA_TTABLE)
        fail(ld, place, "must be a table, got %s", luaL_typename(L, lt));
    n = seq_len(ld, lt, place);
    for (lua_Integer i = 1; i <= n; i++) {
        const char *s;
        placef(iplace, "%s[%lld]", place, (long long)i);
        if (lua_rawgeti(L, lt, i) != LUA_TSTRING)
            fail(ld, iplace, "must be a string, got %s", luaL_typename(L, -1));
        s = str_at(ld, -1, iplace);
        if (check)
            check(ld, iplace, s);
        strv_push(out, s);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return true;
}

/* ---- paths ------------------------------------------------------------ */

/*
 * Lexically normalizes path into out as an absolute path: empty and "."
 * components are dropped and ".." removes the previous one. Returns 0, -1
 * when ".." climbs above "/", -2 when the result does not fit in n.
 */
static int path_norm(const char *path, char *out, size_t n)
{
    size_t len = 0;
    const char *p = path;

    out[0] = '\0';
    while (*p) {
        const char *s;
        size_t cl;

        while (*p == '/')
            p++;
        if (!*p)
            break;
        s = p;
        while (*p && *p != '/')
            p++;
        cl = (size_t)(p - s);
        if (cl == 1 && s[0] == '.')
            continue;
        if (cl == 2 && s[0] == '.' && s[1] == '.') {
            if (len == 0)
                return -1;
            while (out[len - 1] != '/')
                len--;
            out[--len] = '\0';
            continue;
        }
        if (len + 1 + cl + 1 > n)
            return -2;
        out[len++] = '/';
        memcpy(out + len, s, cl);
        len += cl;
        out[len] = '\0';
    }
    if (len == 0) {
        if (n < 2)
            return -2;
        strcpy(out, "/");
    }
    return 0;
}

/* True when path has a ".." component. */
static bool has_dotdot(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")); p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return true;
    return false;
}

/* True when the normalized path a is b or an ancestor of b. */
static bool path_covers(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (strcmp(a, "/") == 0)
        return true;
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/* Cuts the last component off the normalized path p ("/a/b" -> "/a", "/a" -> "/"). */
static void path_parent(char *p)
{
    char *slash = strrchr(p, '/');
    if (slash == p)
        p[1] = '\0';
    else if (slash)
        *slash = '\0';
}

/*
 * The simulated symlink at the resolved guest path (the most recent one),
 * looked up in a Lua table so that many symlink actions stay linear.
 */
static const struct link *find_link(struct loader *ld, const char *path)
{
    lua_Integer i;

    if (!ld->nlinks)
        return NULL;
    lua_pushstring(ld->L, path);
    i = lua_rawget(ld->L, ld->link_index) == LUA_TNUMBER ? lua_tointeger(ld->L, -1) : 0;
    lua_pop(ld->L, 1);
    return i > 0 && (size_t)i <= ld->nlinks ? &ld->links[i - 1] : NULL;
}

enum { RES_OK, RES_ROOT, RES_LINK, RES_LOOP, RES_LONG };

/*
 * Resolves the guest path component by component as the kernel would,
 * through the symlinks made by earlier actions (the last component only
 * when follow_last). Fails with RES_ROOT when ".." climbs above the
 * sandbox root and RES_LINK (*via set) when it goes through a symlink
 * that leads out of the sandbox. On success out is the resolved path.
 */
static int guest_resolve(struct loader *ld, const char *path, bool follow_last, char *out, size_t n,
                         const struct link **via)
{
    char rest[2 * PATH_MAX], cur[PATH_MAX];
    size_t pos = 0, len = 0;
    int hops = 0;

    *via = NULL;
    if (strlen(path) >= sizeof(rest))
        return RES_LONG;
    strcpy(rest, path);
    cur[0] = '\0';
    while (rest[pos]) {
        size_t s, cl;
        bool last;
        const struct link *l;

        while (rest[pos] == '/')
            pos++;
        if (!rest[pos])
            break;
        s = pos;
        while (rest[pos] && rest[pos] != '/')
            pos++;
        cl = pos - s;
        last = rest[pos + strspn(rest + pos, "/")] == '\0';
        if (cl == 1 && rest[s] == '.')
            continue;
        if (cl == 2 && rest[s] == '.' && rest[s + 1] == '.') {
            if (len == 0)
                return RES_ROOT;
            while (cur[len - 1] != '/')
                len--;
            cur[--len] = '\0';
            continue;
        }
        if (len + 1 + cl + 1 > sizeof(cur))
            return RES_LONG;
        cur[len++] = '/';
        memcpy(cur + len, rest + s, cl);
        len += cl;
        cur[len] = '\0';
        if (last && !follow_last)
            continue;
        if (!(l = find_link(ld, cur)))
            continue;
        *via = l;
        if (l->escapes)
            return RES_LINK;
        if (++hops > MAX_LINK_HOPS)
            return RES_LOOP;
        /* Replace the link by its (relative) target, read from its directory. */
        while (cur[len - 1] != '/')
            len--;
        cur[--len] = '\0';
        {
            char tmp[2 * PATH_MAX];
            int w = snprintf(tmp, sizeof(tmp), "%s/%s", l->target, rest + pos);
            if (w < 0 || (size_t)w >= sizeof(tmp))
                return RES_LONG;
            strcpy(rest, tmp);
            pos = 0;
        }
    }
    if (len == 0)
        strcpy(cur, "/");
    if (strlen(cur) >= n)
        return RES_LONG;
    strcpy(out, cur);
    return RES_OK;
}

/* Records a symlink action for the escape checks of the later actions. */
static void add_link(struct loader *ld, const char *dest, const char *target, const char *where)
{
    bool escapes = target[0] == '/';
    struct link *l;

    if (!escapes) {
        char joined[2 * PATH_MAX + 2], parent[PATH_MAX], out[PATH_MAX];
        const struct link *via;
        snprintf(parent, sizeof(parent), "%s", dest);
        path_parent(parent);
        snprintf(joined, sizeof(joined), "%s/%s", parent, target);
        escapes = guest_resolve(ld, joined, true, out, sizeof(out), &via) != RES_OK;
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
static void set_dest(struct loader *ld, struct action *a, const char *d, const char *place)
{
    char joined[PATH_MAX + 2], norm[PATH_MAX], res[PATH_MAX];
    const struct link *via = NULL;
    int r;

    if (!*d)
        fail(ld, place, "must not be empty");
    if (snprintf(joined, sizeof(joined), "%s%s", d[0] == '/' ? "" : "/", d) >= (int)sizeof(joined))
        fail(ld, place, "path is too long");
    r = path_norm(joined, norm, sizeof(norm));
    if (r == -1)
        fail(ld, place, "path escapes the sandbox: '%s' climbs above the sandbox root", d);
    if (r == -2)
        fail(ld, place, "path is too long");
    r = guest_resolve(ld, joined, a->kind != ACTION_SYMLINK, res, sizeof(res), &via);
    switch (r) {
    case RES_OK:
        break;
    case RES_LINK:
        fail(ld, place,
             "path escapes the sandbox: '%s' goes through the symlink '%s' -> '%s' made by %s", d,
             via->dest, via->target, via->where);
    case RES_ROOT:
        if (via)
            fail(ld, place,
                 "path escapes the sandbox: '%s' climbs above the sandbox root through the "
                 "symlink '%s' -> '%s' made by %s",
                 d, via->dest, via->target, via->where);
        fail(ld, place, "path escapes the sandbox: '%s' climbs above the sandbox root", d);
    case RES_LOOP:
        fail(ld, place, "too many levels of symbolic links in '%s'", d);
    default:
        fail(ld, place, "path is too long");
    }
    /* A ".." after a symlink means what the kernel makes of it: keep the resolved path. */
    a->dest = xstrdup(has_dotdot(d) ? res : norm);
    if (strcmp(a->dest, "/") == 0 || strcmp(res, "/") == 0)
        fail(ld, place, "the sandbox root itself cannot be a destination");
    if (path_covers("/.bob", a->dest) || path_covers("/.bob", res))
        fail(ld, place, "'/.bob' is reserved for bob's sandbox markers");
    if (a->kind == ACTION_SYMLINK)
        add_link(ld, res, a->src, a->where);
}

/*
 * Resolves the host symlinks of the longest existing prefix of the
 * normalized path into out, keeping the missing rest as written.
 */
static bool real_prefix(const char *path, char *out, size_t n)
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
static void check_src(struct loader *ld, struct action *a, const char *place)
{
    char norm[PATH_MAX], rs[PATH_MAX], rb[PATH_MAX];
    const char *base = ld->cfg->basedir;
    const char *why = a->kind == ACTION_COPY ? "the copy would never end"
                                             : "the bind would expose the sandboxes inside "
                                               "themselves";

    if (a->src[0] != '/')
        fail(ld, place, "must be an absolute host path, got '%s'", a->src);
    if (has_dotdot(a->src))
        fail(ld, place, "must not contain '..' components");
    if (path_norm(a->src, norm, sizeof(norm)) != 0)
        fail(ld, place, "path is too long");
    free(a->src);
    a->src = xstrdup(norm);
    if (path_covers(a->src, base))
        fail(ld, place, "'%s' contains sandboxes.basedir '%s' (%s)", a->src, base, why);
    if (realpath(a->src, rs) && real_prefix(base, rb, sizeof(rb)) && path_covers(rs, rb))
        fail(ld, place, "'%s' (really '%s') contains sandboxes.basedir '%s' (%s)", a->src, rs, base,
             why);
}

/* ---- scripts ---------------------------------------------------------- */

/*
 * Reads a script value t[key] into s: a string, or a function returning
 * { run = string, env = table } (scriptenv). An empty run counts as absent.
 */
static void parse_script(struct loader *ld, int t, const char *key, const char *where,
                         struct script *s)
{
    static const char *const result_keys[] = {"run", "env", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], eplace[PLACE_MAX];
    int ty = getf(L, t, key), top = lua_gettop(L), rt;

    placef(place, "%s.%s", where, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (ty == LUA_TSTRING) {
        const char *run = str_at(ld, top, place);
        if (*run)
            s->run = xstrdup(run);
        lua_pop(L, 1);
        return;
    }
    if (ty != LUA_TFUNCTION)
        fail(ld, place, "field '%s' must be a string or function, got %s", key,
             luaL_typename(L, top));
    if (lua_pcall(L, 0, 1, ld->msgh) != LUA_OK) {
        if (ld->timed_out || ld->mem_failed || lua_touserdata(L, -1) == &fail_token)
            lua_error(L);
        fail(ld, place, "'%s' function failed: %s", key, lua_tostring(L, -1));
    }
    rt = lua_gettop(L);
    if (!lua_istable(L, rt))
        fail(ld, place, "'%s' function must return a table (use scriptenv), got %s", key,
             luaL_typename(L, rt));
    check_keys(ld, rt, place, result_keys, "run or env");
    if (getf(L, rt, "run") != LUA_TSTRING)
        fail(ld, place, "'%s' table must have a 'run' string field", key);
    {
        const char *run = str_at(ld, -1, placef(eplace, "%s.run", place));
        if (*run)
            s->run = xstrdup(run);
    }
    lua_pop(L, 1);
    ty = getf(L, rt, "env");
    placef(eplace, "%s.env", place);
    if (ty == LUA_TTABLE)
        env_map(ld, lua_gettop(L), eplace, &s->env, true);
    else if (ty != LUA_TNIL)
        fail(ld, eplace, "must be a table, got %s", luaL_typename(L, -1));
    if (!s->run)
        strv_free(&s->env);
    lua_settop(L, top - 1);
}

/* ---- actions ------------------------------------------------------------ */

/* Frees what an action owns and zeroes it. */
static void action_clear(struct action *a)
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
static bool lookup_set(struct loader *ld, const char *path)
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
static bool parse_only(struct loader *ld, int t, const char *where, struct action *a)
{
    static const char *const only_keys[] = {"environment", "set", "exists", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], p2[PLACE_MAX];
    int ty = getf(L, t, "only"), o = lua_gettop(L);
    const char *env;
    bool keep = true;

    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return true;
    }
    placef(place, "%s.only", where);
    if (ty != LUA_TTABLE)
        fail(ld, place, "'only' must be a table of predicates, got %s", luaL_typename(L, o));
    check_keys(ld, o, place, only_keys, "environment, set or exists");
    env = stack_str(ld, o, "environment", place);
    if (env) {
        if (strcmp(env, "build") == 0)
            a->only_env = CTX_BUILD;
        else if (strcmp(env, "dev") == 0)
            a->only_env = CTX_DEV;
        else
            fail(ld, placef(p2, "%s.environment", place), "must be 'build' or 'dev', got '%s'",
                 env);
    }
    lua_pop(L, 1);
    a->only_exists = opt_str(ld, o, "exists", place, true);
    ty = getf(L, o, "set");
    if (ty != LUA_TNIL) {
        if (ty != LUA_TSTRING)
            fail(ld, placef(p2, "%s.set", place), "must be a string, got %s", luaL_typename(L, -1));
        keep = lookup_set(ld, lua_tostring(L, -1));
    }
    lua_settop(L, o - 1);
    return keep;
}

/* Fails on keys of the action table t that its kind does not use. */
static void check_kind_keys(struct loader *ld, int t, const char *where, enum action_kind k)
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
        if (in_list(lua_tostring(L, -1), known)) /* keys were checked to be strings */
            continue;
        fail(ld, key_place(L, place, where, lua_gettop(L)), "'%s' is not used by '%s' actions",
             lua_tostring(L, -1), action_kind_name(k));
    }
}

/* Looks a filesystem name up (bob's names and aliases); false when unknown. */
static bool fs_lookup(const char *s, enum fs_type *t)
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
static bool kind_lookup(const char *s, enum action_kind *k)
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
static void parse_paths(struct loader *ld, int t, const char *where, struct action *a)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX];
    int top = lua_gettop(L);
    const char *src = stack_str(ld, t, "src", where);
    const char *dest = stack_str(ld, t, "dest", where);
    const char *dir = a->kind == ACTION_SYMLINK ? NULL : stack_str(ld, t, "dir", where);
    const char *s = src, *d, *skey = "src", *dkey;
    bool has_src =
        a->kind == ACTION_COPY || a->kind == ACTION_SYMLINK || a->fs == FS_BIND || a->fs == FS_NFS;

    if (a->kind == ACTION_SYMLINK) {
        if (!src)
            fail(ld, placef(place, "%s.src", where),
                 "'symlink' action requires 'src' (link target)");
        if (!dest)
            fail(ld, placef(place, "%s.dest", where),
                 "'symlink' action requires 'dest' (link name)");
        if (!*src)
            fail(ld, placef(place, "%s.src", where), "must not be empty");
    } else if (has_src && !s) {
        s = dir ? dir : dest;
        skey = dir ? "dir" : "dest";
    }
    d = dest ? dest : dir ? dir : src;
    dkey = dest ? "dest" : dir ? "dir" : "src";
    if (!d)
        fail(ld, where, "'%s' action requires 'src' or 'dest' path", action_kind_name(a->kind));
    if (s)
        a->src = xstrdup(s);
    if (a->kind == ACTION_COPY || a->fs == FS_BIND) {
        if (!*a->src)
            fail(ld, placef(place, "%s.%s", where, skey), "must not be empty");
        check_src(ld, a, placef(place, "%s.%s", where, skey));
    } else if (a->src && !*a->src) {
        fail(ld, placef(place, "%s.%s", where, skey), "must not be empty");
    }
    set_dest(ld, a, d, placef(place, "%s.%s", where, dkey));
    lua_settop(L, top);
}

/* Parses the action table t (entry i of list) into a new entry of out, unless only.set drops it. */
static void parse_action(struct loader *ld, int t, const char *list, lua_Integer i,
                         struct action_list *out)
{
    static const char *const keys[] = {"action", "fs",      "dir",    "src",  "dest", "opts",
                                       "create", "destroy", "chroot", "only", NULL};
    static const char *const legacy[] = {"ifset", "ifexists", NULL};
    lua_State *L = ld->L;
    char where[PLACE_MAX], place[PLACE_MAX];
    struct action *a;
    const char *kind;

    placef(where, "%s[%lld]", list, (long long)i);
    for (const char *const *k = legacy; *k; k++) {
        int ty = getf(L, t, *k);
        lua_pop(L, 1);
        if (ty != LUA_TNIL)
            fail(ld, placef(place, "%s.%s", where, *k), legacy_fmt, *k);
    }
    check_keys(ld, t, where, keys,
               "action, fs, dir, src, dest, opts, create, destroy, chroot or only");

    a = &out->v[out->n++];
    a->where = xstrdup(where);
    if (!parse_only(ld, t, where, a)) {
        /* Dropped at load time, as bob does: its other fields may name unset values. */
        action_clear(a);
        out->n--;
        return;
    }

    placef(place, "%s.action", where);
    if (getf(L, t, "action") == LUA_TNIL)
        fail(ld, place, "missing required field 'action'");
    kind = str_at(ld, -1, place);
    if (!kind_lookup(kind, &a->kind))
        fail(ld, place,
             "unsupported action type '%s' (expected mount, copy, symlink, cmd or "
             "macos-mdns-listener)",
             kind);
    lua_pop(L, 1);
    check_kind_keys(ld, t, where, a->kind);

    switch (a->kind) {
    case ACTION_MOUNT: {
        const char *fs;
        placef(place, "%s.fs", where);
        if (getf(L, t, "fs") == LUA_TNIL)
            fail(ld, place, "'mount' action requires 'fs' field");
        fs = str_at(ld, -1, place);
        if (!fs_lookup(fs, &a->fs))
            fail(ld, place,
                 "unsupported filesystem type '%s' (expected bind, dev, fd, nfs, proc or tmp)", fs);
        a->fs_name = xstrdup(fs);
        lua_pop(L, 1);
        a->opts = opt_str(ld, t, "opts", where, false);
        parse_paths(ld, t, where, a);
        break;
    }
    case ACTION_COPY:
        parse_paths(ld, t, where, a);
        break;
    case ACTION_SYMLINK:
        parse_paths(ld, t, where, a);
        break;
    case ACTION_CMD:
        a->chroot = opt_bool(ld, t, "chroot", where, false);
        parse_script(ld, t, "create", where, &a->create);
        parse_script(ld, t, "destroy", where, &a->destroy);
        if (!a->create.run && !a->destroy.run)
            fail(ld, where, "'cmd' action requires 'create' or 'destroy' command");
        break;
    case ACTION_MDNS:
        break;
    }
}

/* Parses sandboxes.<key> (setup or hooks), a list of action tables. */
static void parse_actions(struct loader *ld, int sb, const char *key, struct action_list *out)
{
    lua_State *L = ld->L;
    char place[PLACE_MAX], iplace[PLACE_MAX];
    int ty = getf(L, sb, key), lt = lua_gettop(L);
    lua_Integer n;

    placef(place, "sandboxes.%s", key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (ty != LUA_TTABLE)
        fail(ld, place, "must be a table, got %s", luaL_typename(L, lt));
    n = seq_len(ld, lt, place);
    out->v = xcalloc((size_t)n, sizeof(*out->v));
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, lt, i) != LUA_TTABLE)
            fail(ld, placef(iplace, "%s[%lld]", place, (long long)i), "must be a table, got %s",
                 luaL_typename(L, -1));
        parse_action(ld, lua_gettop(L), place, i, out);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* ---- sections ------------------------------------------------------------ */

/* Fails with bob's migration message when t (a section) has one of the legacy keys. */
static void reject_keys(struct loader *ld, int t, const char *section, const char *const *keys)
{
    char key[PLACE_MAX];
    for (; *keys; keys++) {
        int ty = getf(ld->L, t, *keys);
        lua_pop(ld->L, 1);
        if (ty != LUA_TNIL)
            fail(ld, placef(key, "%s.%s", section, *keys), legacy_fmt, key);
    }
}

/* Fails with bob's migration message when a key of an older format is present. */
static void reject_legacy(struct loader *ld)
{
    static const char *const top[] = {"scripts", "environment", NULL};
    static const char *const sandboxes[] = {"actions", "build", NULL};
    static const char *const environment[] = {"clear", "inherit", "set", NULL};
    static const char *const pkgsrc[] = {"env", "logdir", NULL};
    static const char *const publish[] = {"rsync_args", NULL};
    lua_State *L = ld->L;

    for (const char *const *k = top; *k; k++) {
        int ty = getf(L, ld->globals, *k);
        lua_pop(L, 1);
        if (ty != LUA_TNIL)
            fail(ld, *k, legacy_fmt, *k);
    }
    if (getf(L, ld->globals, "sandboxes") == LUA_TTABLE) {
        reject_keys(ld, lua_gettop(L), "sandboxes", sandboxes);
        if (getf(L, lua_gettop(L), "environment") == LUA_TTABLE)
            reject_keys(ld, lua_gettop(L), "sandboxes.environment", environment);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (getf(L, ld->globals, "pkgsrc") == LUA_TTABLE)
        reject_keys(ld, lua_gettop(L), "pkgsrc", pkgsrc);
    lua_pop(L, 1);
    if (getf(L, ld->globals, "publish") == LUA_TTABLE)
        reject_keys(ld, lua_gettop(L), "publish", publish);
    lua_pop(L, 1);
}

/* Pushes the global section and returns its stack index, or 0 (nothing pushed) when absent. */
static int section(struct loader *ld, const char *name)
{
    lua_State *L = ld->L;
    int ty = getf(L, ld->globals, name);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (ty != LUA_TTABLE)
        fail(ld, name, "must be a table, got %s", luaL_typename(L, -1));
    return lua_gettop(L);
}

/* The default data directory: $BOB_DATADIR, $XDG_DATA_HOME/bob or ~/.local/share/bob. */
static char *default_dbdir(void)
{
    const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    const char *bd = getenv("BOB_DATADIR");
    struct passwd *pw;

    if (bd && bd[0] == '/')
        return xstrdup(bd);
    if (x && x[0] == '/')
        return xasprintf("%s/bob", x);
    if ((!home || home[0] != '/') && (pw = getpwuid(getuid())) && pw->pw_dir)
        home = pw->pw_dir;
    if (!home || home[0] != '/')
        return NULL;
    return xasprintf("%s/.local/share/bob", home);
}

/* Parses options (all optional) and fills the defaults. */
static void parse_options(struct loader *ld)
{
    static const char *const known[] = {"build_threads", "scan_threads", "dbdir",
                                        "logdir",        "log_level",    "strict_scan",
                                        "tui",           "keep_logs",    NULL};
    static const char *const levels[] = {"error", "warn", "info", "debug", "trace", NULL};
    struct config *cfg = ld->cfg;
    int t = section(ld, "options");
    char *dbdir = NULL, norm[PATH_MAX];

    cfg->build_threads = 1;
    cfg->scan_threads = 1;
    cfg->tui = true;
    if (t) {
        warn_unknown(ld, t, "options", known);
        cfg->build_threads = opt_count(ld, t, "build_threads", "options", 1);
        cfg->scan_threads = opt_count(ld, t, "scan_threads", "options", 1);
        /* options.dbdir = false: no build state (the logs keep the default place). */
        if (getf(ld->L, t, "dbdir") == LUA_TBOOLEAN && !lua_toboolean(ld->L, -1)) {
            lua_pop(ld->L, 1);
            cfg->nostate = true;
        } else {
            lua_pop(ld->L, 1);
            cfg->dbdir = dbdir = opt_str(ld, t, "dbdir", "options", true);
        }
        cfg->logdir = opt_str(ld, t, "logdir", "options", true);
        cfg->log_level = opt_str(ld, t, "log_level", "options", true);
        cfg->strict_scan = opt_bool(ld, t, "strict_scan", "options", false);
        cfg->tui = opt_bool(ld, t, "tui", "options", true);
        cfg->keep_logs = opt_bool(ld, t, "keep_logs", "options", false);
        if (cfg->log_level && !in_list(cfg->log_level, levels))
            fail(ld, "options.log_level",
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
    } else if (!(cfg->dbdir = default_dbdir())) {
        fail(ld, "options.dbdir", "no default data directory (HOME is not set): set it");
    }
    if (path_norm(cfg->dbdir, norm, sizeof(norm)) != 0)
        fail(ld, "options.dbdir", "path is too long");
    free(cfg->dbdir);
    cfg->dbdir = xstrdup(norm);
    if (!cfg->logdir)
        cfg->logdir = xasprintf("%s/logs", cfg->dbdir);
}

/* Parses pkgsrc; build_user_home is written back to the Lua table for only.set. */
static void parse_pkgsrc(struct loader *ld)
{
    static const char *const known[] = {
        "basedir", "bootstrap", "build_user",           "build_user_home",    "cachevars",
        "make",    "pkgpaths",  "save_wrkdir_patterns", "bootstrap_max_size", NULL};
    lua_State *L = ld->L;
    struct config *cfg = ld->cfg;
    int t = section(ld, "pkgsrc");

    if (!t)
        return;
    cfg->has_pkgsrc = true;
    warn_unknown(ld, t, "pkgsrc", known);
    cfg->pkgsrc_basedir = req_str(ld, t, "basedir", "pkgsrc");
    cfg->make = req_str(ld, t, "make", "pkgsrc");
    cfg->bootstrap = opt_str(ld, t, "bootstrap", "pkgsrc", true);
    cfg->bootstrap_max_size = opt_size(ld, t, "bootstrap_max_size", "pkgsrc");
    cfg->build_user = opt_str(ld, t, "build_user", "pkgsrc", true);
    if (cfg->build_user) {
        cfg->build_user_home = opt_str(ld, t, "build_user_home", "pkgsrc", true);
        if (!cfg->build_user_home) {
            struct passwd *pw = getpwnam(cfg->build_user);
            if (!pw || !pw->pw_dir)
                fail(ld, "pkgsrc.build_user", "user '%s' not found in password database",
                     cfg->build_user);
            cfg->build_user_home = xstrdup(pw->pw_dir);
            lua_pushstring(L, "build_user_home");
            lua_pushstring(L, cfg->build_user_home);
            lua_rawset(L, t);
        }
    }
    if (!string_list(ld, t, "cachevars", "pkgsrc", &cfg->cachevars, check_ident)) {
        strv_push(&cfg->cachevars, "NATIVE_OPSYS");
        strv_push(&cfg->cachevars, "NATIVE_OPSYS_VERSION");
        strv_push(&cfg->cachevars, "NATIVE_OS_VERSION");
#if defined(__NetBSD__)
        strv_push(&cfg->cachevars, "HOST_MACHINE_ARCH");
#elif defined(__sun)
        strv_push(&cfg->cachevars, "_UNAME_V");
#endif
    }
    string_list(ld, t, "pkgpaths", "pkgsrc", &cfg->pkgpaths, check_pkgpath);
    string_list(ld, t, "save_wrkdir_patterns", "pkgsrc", &cfg->save_wrkdir_patterns, NULL);
    lua_pop(L, 1);
}

/* Parses sandboxes.environment.<name> into p. */
static void parse_env_ctx(struct loader *ld, int et, const char *name, struct env_policy *p)
{
    static const char *const build_keys[] = {"clear", "inherit", "vars", NULL};
    static const char *const dev_keys[] = {"clear", "inherit", "vars", "shell", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], label[PLACE_MAX], vplace[PLACE_MAX];
    bool dev = strcmp(name, "dev") == 0;
    int ty = getf(L, et, name), ct = lua_gettop(L);

    placef(place, "sandboxes.environment.%s", name);
    placef(label, "environment.%s", name);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (ty != LUA_TTABLE)
        fail(ld, place, "must be a table, got %s", luaL_typename(L, ct));
    p->present = true;
    warn_unknown(ld, ct, label, dev ? dev_keys : build_keys);
    p->clear = opt_bool(ld, ct, "clear", place, true);
    string_list(ld, ct, "inherit", place, &p->inherit, check_ident);
    ty = getf(L, ct, "vars");
    placef(vplace, "%s.vars", place);
    if (ty == LUA_TTABLE)
        env_map(ld, lua_gettop(L), vplace, &p->vars, false);
    else if (ty != LUA_TNIL)
        fail(ld, vplace, "must be a table, got %s", luaL_typename(L, -1));
    lua_pop(L, 1);
    if (dev)
        p->shell = opt_str(ld, ct, "shell", place, true);
    lua_pop(L, 1);
}

/* Parses sandboxes: basedir, bindfs, environment, setup and hooks. */
static void parse_sandboxes(struct loader *ld)
{
    static const char *const known[] = {"basedir", "bindfs", "environment", "hooks", "setup", NULL};
    static const char *const env_known[] = {"build", "dev", NULL};
    lua_State *L = ld->L;
    struct config *cfg = ld->cfg;
    int t = section(ld, "sandboxes"), ty;
    char norm[PATH_MAX];

    if (!t)
        return;
    cfg->has_sandboxes = true;
    warn_unknown(ld, t, "sandboxes", known);
    cfg->basedir = req_str(ld, t, "basedir", "sandboxes");
    if (cfg->basedir[0] != '/')
        fail(ld, "sandboxes.basedir", "must be an absolute path, got '%s'", cfg->basedir);
    if (has_dotdot(cfg->basedir))
        fail(ld, "sandboxes.basedir", "must not contain '..' components, got '%s'", cfg->basedir);
    if (path_norm(cfg->basedir, norm, sizeof(norm)) != 0)
        fail(ld, "sandboxes.basedir", "path is too long");
    if (strcmp(norm, "/") == 0)
        fail(ld, "sandboxes.basedir", "must not be '/'");
    free(cfg->basedir);
    cfg->basedir = xstrdup(norm);
    cfg->bindfs = opt_str(ld, t, "bindfs", "sandboxes", true);
    if (!cfg->bindfs)
        cfg->bindfs = xstrdup("bindfs");

    ty = getf(L, t, "environment");
    if (ty == LUA_TTABLE) {
        int et = lua_gettop(L);
        warn_unknown(ld, et, "environment", env_known);
        parse_env_ctx(ld, et, "build", &cfg->env_build);
        parse_env_ctx(ld, et, "dev", &cfg->env_dev);
    } else if (ty != LUA_TNIL) {
        fail(ld, "sandboxes.environment", "must be a table, got %s", luaL_typename(L, -1));
    }
    lua_pop(L, 1);

    parse_actions(ld, t, "setup", &cfg->setup);
    parse_actions(ld, t, "hooks", &cfg->hooks);
    lua_pop(L, 1);
}

/* Warns about the bob sections that we accept but do not implement. */
static void unsupported_sections(struct loader *ld)
{
    static const char *const names[] = {"dynamic", "publish", "summary", NULL};
    for (const char *const *n = names; *n; n++) {
        int ty = getf(ld->L, ld->globals, *n);
        lua_pop(ld->L, 1);
        if (ty != LUA_TNIL)
            strv_push_owned(&ld->cfg->warnings, xasprintf("%s: not supported, ignored", *n));
    }
}

/* ---- jobs ------------------------------------------------------------------ */

/* True for [A-Za-z0-9._+-]. */
static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

/* Why a job name is invalid, or NULL: [A-Za-z0-9._+-] and "/", relative, no ".". */
static const char *job_name_error(const char *s)
{
    const char *p, *c;

    if (!*s)
        return "must not be empty";
    if (s[0] == '/')
        return "must not be absolute";
    for (p = s; *p; p++)
        if (!name_char(*p) && *p != '/')
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
static const char *stage_name_error(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "'.' and '..' are not allowed";
    for (; *s; s++)
        if (!name_char(*s))
            return "only letters, digits, '.', '_', '+' and '-' are allowed";
    return NULL;
}

/* Parses job.stages, or the shorthand job.run (one stage "build"). */
static void parse_stages(struct loader *ld, int jt, const char *where, struct job *j)
{
    static const char *const stage_keys[] = {"name", "run", NULL};
    lua_State *L = ld->L;
    char place[PLACE_MAX], splace[PLACE_MAX], p2[PLACE_MAX];
    int sty = getf(L, jt, "stages"), st = lua_gettop(L), rty = getf(L, jt, "run");
    lua_Integer m;
    int seen;

    if (sty != LUA_TNIL && rty != LUA_TNIL)
        fail(ld, where, "use either 'stages' or 'run', not both");
    if (rty != LUA_TNIL) {
        const char *run = str_at(ld, -1, placef(place, "%s.run", where));
        if (!*run)
            fail(ld, place, "must not be empty");
        j->stages = xcalloc(1, sizeof(*j->stages));
        j->nstages = 1;
        j->stages[0].name = xstrdup("build");
        j->stages[0].run = xstrdup(run);
        lua_settop(L, st - 1);
        return;
    }
    if (sty == LUA_TNIL)
        fail(ld, where, "a job needs 'stages' or 'run'");
    placef(place, "%s.stages", where);
    if (sty != LUA_TTABLE)
        fail(ld, place, "must be a table, got %s", luaL_typename(L, st));
    m = seq_len(ld, st, place);
    if (m == 0)
        fail(ld, place, "must have at least one stage");
    j->stages = xcalloc((size_t)m, sizeof(*j->stages));
    lua_newtable(L); /* the stage names seen */
    seen = lua_gettop(L);
    for (lua_Integer k = 1; k <= m; k++) {
        struct stage *s = &j->stages[j->nstages++];
        const char *why;
        int et;
        placef(splace, "%s[%lld]", place, (long long)k);
        if (lua_rawgeti(L, st, k) != LUA_TTABLE)
            fail(ld, splace, "must be a table, got %s", luaL_typename(L, -1));
        et = lua_gettop(L);
        check_keys(ld, et, splace, stage_keys, "name or run");
        s->name = req_str(ld, et, "name", splace);
        if ((why = stage_name_error(s->name)))
            fail(ld, placef(p2, "%s.name", splace), "invalid stage name '%s': %s", s->name, why);
        if (lua_getfield(L, seen, s->name) != LUA_TNIL)
            fail(ld, placef(p2, "%s.name", splace), "duplicate stage name '%s'", s->name);
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_setfield(L, seen, s->name);
        s->run = req_str(ld, et, "run", splace);
        lua_pop(L, 1);
    }
    lua_settop(L, st - 1);
}

/* Fails when the dependency graph of the jobs has a cycle, naming it (base: "jobs"). */
static void check_cycles(struct loader *ld, const char *base)
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
                    fail(ld, base, "dependency cycle: %s", chain);
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
static void parse_job_list(struct loader *ld, int t, const char *base)
{
    static const char *const keys[] = {"name", "depends", "env", "stages", "run", NULL};
    lua_State *L = ld->L;
    struct config *cfg = ld->cfg;
    char where[PLACE_MAX], place[PLACE_MAX];
    int names;
    lua_Integer n;

    n = seq_len(ld, t, base);
    cfg->jobs = xcalloc((size_t)n, sizeof(*cfg->jobs));
    lua_newtable(L); /* name -> index */
    names = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        struct job *j = &cfg->jobs[cfg->njobs++];
        const char *why;
        int jt, ty;

        placef(where, "%s[%lld]", base, (long long)i);
        if (lua_rawgeti(L, t, i) != LUA_TTABLE)
            fail(ld, where, "must be a table, got %s", luaL_typename(L, -1));
        jt = lua_gettop(L);
        check_keys(ld, jt, where, keys, "name, depends, env, stages or run");
        j->name = req_str(ld, jt, "name", where);
        placef(place, "%s.name", where);
        if ((why = job_name_error(j->name)))
            fail(ld, place, "invalid job name '%s': %s", j->name, why);
        if (getf(L, names, j->name) != LUA_TNIL)
            fail(ld, place, "duplicate job name '%s' (also %s[%lld])", j->name, base,
                 (long long)lua_tointeger(L, -1));
        lua_pop(L, 1);
        lua_pushinteger(L, i);
        lua_setfield(L, names, j->name);

        string_list(ld, jt, "depends", where, &j->depends, NULL);
        /* A Lua table as the set of names seen: linear, however long the list. */
        lua_newtable(L);
        for (size_t q = 0; q < j->depends.n; q++) {
            if (lua_getfield(L, -1, j->depends.v[q]) != LUA_TNIL)
                fail(ld, placef(place, "%s.depends[%zu]", where, q + 1),
                     "duplicate dependency '%s'", j->depends.v[q]);
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, j->depends.v[q]);
        }
        lua_pop(L, 1);
        ty = getf(L, jt, "env");
        placef(place, "%s.env", where);
        if (ty == LUA_TTABLE)
            env_map(ld, lua_gettop(L), place, &j->env, true);
        else if (ty != LUA_TNIL)
            fail(ld, place, "must be a table, got %s", luaL_typename(L, -1));
        lua_pop(L, 1);
        parse_stages(ld, jt, where, j);
        lua_pop(L, 1);
    }
    for (size_t i = 0; i < cfg->njobs; i++) {
        struct job *j = &cfg->jobs[i];
        j->dep_idx = xcalloc(j->depends.n, sizeof(size_t));
        for (size_t q = 0; q < j->depends.n; q++) {
            if (getf(L, names, j->depends.v[q]) != LUA_TNUMBER)
                fail(ld, placef(place, "%s[%zu].depends[%zu]", base, i + 1, q + 1),
                     "unknown job '%s'", j->depends.v[q]);
            j->dep_idx[q] = (size_t)lua_tointeger(L, -1) - 1;
            lua_pop(L, 1);
        }
    }
    check_cycles(ld, base);
    lua_pop(L, 1);
}

/* Sets t[key] = s when s is not NULL; t is absolute. */
static void set_str(lua_State *L, int t, const char *key, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, t, key);
}

/*
 * Runs the pkgsrc job generator (lua/pkgsrc.lua, embedded) on the validated
 * pkgsrc settings and pushes the jobs list it returns; its warnings go to
 * cfg->warnings. The module runs in the config's Lua state, under the same
 * memory and time bounds. Its own errors already name the place
 * ("pkgsrc.pkgpaths[3]: ..."); any other error is given the context.
 */
static int pkgsrc_jobs(struct loader *ld)
{
    lua_State *L = ld->L;
    struct config *cfg = ld->cfg;
    const struct embed_file *mod = embed_find("pkgsrc.lua");
    int status, top = lua_gettop(L), in;

    if (!mod)
        fail(ld, "pkgsrc.pkgpaths", "internal error: pkgsrc.lua is not embedded");
    status = luaL_loadbufferx(L, mod->data, mod->size, "=pkgsrc.lua", "t");
    if (status == LUA_OK)
        status = lua_pcall(L, 0, 1, 0);
    if (status == LUA_OK) {
        if (lua_type(L, -1) != LUA_TTABLE || getf(L, lua_gettop(L), "jobs") != LUA_TFUNCTION)
            fail(ld, "pkgsrc.pkgpaths", "internal error: pkgsrc.lua has no function jobs");
        lua_createtable(L, 0, 6);
        in = lua_gettop(L);
        set_str(L, in, "basedir", cfg->pkgsrc_basedir);
        set_str(L, in, "make", cfg->make);
        set_str(L, in, "bootstrap", cfg->bootstrap);
        set_str(L, in, "build_user", cfg->build_user);
        set_str(L, in, "build_user_home", cfg->build_user_home);
        lua_createtable(L, (int)cfg->pkgpaths.n, 0);
        for (size_t i = 0; i < cfg->pkgpaths.n; i++) {
            lua_pushstring(L, cfg->pkgpaths.v[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, in, "pkgpaths");
        status = lua_pcall(L, 1, 2, 0); /* module, jobs, warnings */
    }
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        /* Time and memory bounds are reported by config_load itself. */
        if (status == LUA_ERRMEM)
            ld->mem_failed = true;
        if (ld->timed_out || ld->mem_failed || !msg)
            lua_error(L);
        /* The module's own messages start with the place they are about. */
        if (strncmp(msg, "pkgsrc.lua:", 11) != 0 &&
            (strncmp(msg, "pkgsrc.", 7) == 0 || strncmp(msg, "pkgsrc:", 7) == 0))
            fail(ld, NULL, "%s", msg);
        fail(ld, "pkgsrc.pkgpaths", "cannot generate the jobs: %s", msg);
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        int w = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, w);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, w, i) == LUA_TSTRING)
                strv_push(&cfg->warnings, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        fail(ld, "pkgsrc.pkgpaths", "internal error: the job generator returned %s",
             luaL_typename(L, -1));
    /* Only the jobs list stays, where the module table was. */
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return top + 1;
}

/*
 * Parses the jobs extension. When `jobs` is absent and pkgsrc.pkgpaths is a
 * non-empty list, the jobs are generated from the pkgpaths (lua/pkgsrc.lua)
 * and parsed by the same code, so that every validation applies.
 */
static void parse_jobs(struct loader *ld)
{
    int t = section(ld, "jobs");

    if (t) {
        parse_job_list(ld, t, "jobs");
    } else if (ld->cfg->pkgpaths.n > 0) {
        t = pkgsrc_jobs(ld);
        parse_job_list(ld, t, "generated jobs");
    } else {
        return;
    }
    lua_pop(ld->L, 1);
}

/* ---- the Lua state ---------------------------------------------------------- */

/* print() writes to stderr: stdout carries data (config show). */
static int guard_print(lua_State *L)
{
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', stderr);
        fwrite(s, 1, len, stderr);
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* os.exit() would end bob from inside the config: refuse it. */
static int guard_exit(lua_State *L)
{
    return luaL_error(L, "os.exit is not available while loading the configuration");
}

/* load() with the mode forced to text: binary chunks can crash the VM. */
static int guard_load(lua_State *L)
{
    int n = lua_gettop(L);
    lua_settop(L, n < 4 ? 3 : 4);
    lua_pushstring(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* loadfile() with the mode forced to text. */
static int guard_loadfile(lua_State *L)
{
    int n = lua_gettop(L);
    lua_settop(L, n < 3 ? 2 : 3);
    lua_pushstring(L, "t");
    lua_replace(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* dofile() that loads text chunks only. */
static int guard_dofile(lua_State *L)
{
    const char *name = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (luaL_loadfilex(L, name, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

/* The require() searcher for Lua files, text chunks only. */
static int guard_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1), *file;
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, name);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1; /* the message listing the files tried */
    file = lua_tostring(L, -2);
    if (luaL_loadfilex(L, file, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
                          lua_tostring(L, -1));
    lua_pushstring(L, file);
    return 2;
}

/* Opens the libraries a config needs and closes the doors it does not. */
/*
 * setmetatable without __gc: Lua runs finalizers with hooks off, so a
 * looping finalizer would escape the time limit.
 */
static int guard_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L,
                              "setmetatable: __gc finalizers are not allowed in a configuration");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static void open_libs(struct loader *ld)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},          {LUA_LOADLIBNAME, luaopen_package},
        {LUA_COLIBNAME, luaopen_coroutine}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_IOLIBNAME, luaopen_io},        {LUA_OSLIBNAME, luaopen_os},
        {LUA_STRLIBNAME, luaopen_string},   {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},    {NULL, NULL},
    };
    lua_State *L = ld->L;

    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_pushcfunction(L, guard_print);
    lua_setglobal(L, "print");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, guard_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    /* The file handles' metatable (which has a __gc) is hidden from getmetatable. */
    luaL_getmetatable(L, LUA_FILEHANDLE);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_getglobal(L, "load");
    lua_pushcclosure(L, guard_load, 1);
    lua_setglobal(L, "load");
    lua_getglobal(L, "loadfile");
    lua_pushcclosure(L, guard_loadfile, 1);
    lua_setglobal(L, "loadfile");
    lua_pushcfunction(L, guard_dofile);
    lua_setglobal(L, "dofile");

    lua_getglobal(L, "os");
    lua_pushcfunction(L, guard_exit);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);

    /* require: Lua modules from the config's directory first, no C modules. */
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;", ld->cfg->dir);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pushnil(L);
    lua_setfield(L, -2, "loadlib");
    lua_getfield(L, -1, "searchers");
    lua_pushcfunction(L, guard_searcher);
    lua_rawseti(L, -2, 2);
    lua_pushnil(L);
    lua_rawseti(L, -2, 4);
    lua_pushnil(L);
    lua_rawseti(L, -2, 3);
    lua_pop(L, 2);
}

/* The protected part of config_load: runs everything that touches Lua. */
static int loader_main(lua_State *L)
{
    struct loader *ld = lua_touserdata(L, 1);
    const struct embed_file *funcs = embed_find("funcs.lua");
    char chunkname[PATH_MAX + 2];

    luaL_checkstack(L, 64, "configuration nesting");
    lua_pushcfunction(L, loader_msgh);
    ld->msgh = lua_gettop(L);
    open_libs(ld);

    if (!funcs)
        return luaL_error(L, "internal error: funcs.lua is not embedded");
    if (luaL_loadbufferx(L, funcs->data, funcs->size, "=funcs.lua", "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 0);

    snprintf(chunkname, sizeof(chunkname), "@%s", ld->cfg->path);
    if (luaL_loadbufferx(L, ld->source, ld->source_len, chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 0);

    lua_pushglobaltable(L);
    ld->globals = lua_gettop(L);
    lua_newtable(L);
    ld->link_index = lua_gettop(L);
    reject_legacy(ld);
    parse_options(ld);
    parse_pkgsrc(ld);
    parse_sandboxes(ld);
    unsupported_sections(ld);
    parse_jobs(ld);
    return 0;
}

/* ---- entry points ------------------------------------------------------------ */

/* Makes path absolute (against the cwd) and lexically normal. */
static char *absolute(const char *path)
{
    char cwd[PATH_MAX], joined[2 * PATH_MAX + 2], norm[PATH_MAX];

    if (path[0] == '/')
        snprintf(joined, sizeof(joined), "%s", path);
    else if (getcwd(cwd, sizeof(cwd)))
        snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
    else
        return xstrdup(path);
    if (path_norm(joined, norm, sizeof(norm)) != 0)
        return xstrdup(joined);
    return xstrdup(norm);
}

/* Reads the config file into memory, blanking a "#!" first line as lua(1) skips it. */
static int read_source(const char *path, char **data, size_t *len, struct err *e)
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

/* Frees the loader's own bookkeeping. */
static void loader_free(struct loader *ld)
{
    for (size_t i = 0; i < ld->nlinks; i++) {
        free(ld->links[i].dest);
        free(ld->links[i].target);
        free(ld->links[i].where);
    }
    free(ld->links);
}

/* Turns an error that came out of the protected call into the message of e. */
static void loader_error(struct loader *ld, int status, const char *msg)
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
    struct hard_stop hard = {0};
    char *source = NULL, *slash;
    int status;

    memset(cfg, 0, sizeof(*cfg));
    memset(&ld, 0, sizeof(ld));
    err_clear(e);
    cfg->path = absolute(path);
    cfg->dir = xstrdup(cfg->path);
    slash = strrchr(cfg->dir, '/');
    if (slash == cfg->dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    if (read_source(cfg->path, &source, &ld.source_len, e) < 0) {
        config_free(cfg);
        return -1;
    }
    ld.source = source;
    ld.cfg = cfg;
    ld.e = e;
    ld.max_bytes = lim->max_bytes;
    ld.deadline = now_ms() + lim->max_ms;
    ld.L = lua_newstate(loader_alloc, &ld);
    if (!ld.L) {
        free(source);
        config_free(cfg);
        return err_set(e, "%s: cannot create a Lua state", path);
    }
    /* Calls too: a loop of a few instructions around one long C call
     * (string.rep of 100 MB) runs far fewer than HOOK_COUNT instructions. */
    lua_sethook(ld.L, loader_hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_COUNT);
    /* Pushing C functions and a light userdata needs no memory: no error here. */
    lua_pushcfunction(ld.L, loader_msgh);
    lua_pushcfunction(ld.L, loader_main);
    lua_pushlightuserdata(ld.L, &ld);
    if (lim->hard_stop)
        hard_stop_arm(&hard, cfg->path, lim->max_ms + HARD_STOP_GRACE_MS);
    status = lua_pcall(ld.L, 1, 0, 1);
    hard_stop_disarm(&hard);
    if (status != LUA_OK && lua_touserdata(ld.L, -1) != &fail_token)
        loader_error(&ld, status, lua_tostring(ld.L, -1));
    else if (status == LUA_OK && ld.timed_out)
        loader_error(&ld, status, NULL);
    lua_close(ld.L);
    loader_free(&ld);
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
static void actions_free(struct action_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        action_clear(&l->v[i]);
    free(l->v);
}

/* Frees an environment policy. */
static void env_policy_free(struct env_policy *p)
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
    actions_free(&cfg->setup);
    actions_free(&cfg->hooks);
    env_policy_free(&cfg->env_build);
    env_policy_free(&cfg->env_dev);
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
    }
    free(cfg->jobs);
    strv_free(&cfg->warnings);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- default path and init ------------------------------------------------------ */

/* $XDG_CONFIG_HOME/bob/config.lua, else ~/.config/bob/config.lua. */
char *config_default_path(void)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    struct passwd *pw;

    if (x && x[0] == '/')
        return xasprintf("%s/bob/config.lua", x);
    if ((!home || home[0] != '/') && (pw = getpwuid(getuid())) && pw->pw_dir)
        home = pw->pw_dir;
    if (!home || home[0] != '/')
        home = "";
    return xasprintf("%s/.config/bob/config.lua", home);
}

/* The bundled default config for the OS this binary was built for. */
static const char *init_template(void)
{
#if defined(__linux__)
    return "config/linux.lua";
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

/* Creates the parent directories of path (mode 0755). */
static int make_parents(const char *path, struct err *e)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return err_sys(e, ENAMETOOLONG, "%s", path);
    for (char *p = buf + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return err_sys(e, errno, "cannot create directory %s", buf);
        *p = '/';
    }
    return 0;
}

/* Writes the bundled default config for this OS to path, creating its parents. */
int config_init(const char *path, struct err *e)
{
    const struct embed_file *f = embed_find(init_template());
    struct stat st;
    size_t off = 0;
    int fd;

    err_clear(e);
    if (!f)
        return err_set(e, "internal error: %s is not embedded", init_template());
    if (lstat(path, &st) == 0) {
        err_set(e, "Configuration file %s already exists", path);
        e->code = EEXIST;
        return -1;
    }
    if (make_parents(path, e) < 0)
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
    while (off < f->size) {
        ssize_t w = write(fd, f->data + off, f->size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int errnum = errno;
            close(fd);
            unlink(path);
            return err_sys(e, errnum, "cannot write %s", path);
        }
        off += (size_t)w;
    }
    if (close(fd) < 0) {
        int errnum = errno;
        unlink(path);
        return err_sys(e, errnum, "cannot write %s", path);
    }
    return 0;
}
