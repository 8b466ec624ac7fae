/*
 * The bounded Lua state of the configuration loader. A config is a program:
 * it runs with a counting allocator (CONFIG_MAX_BYTES), a count hook that
 * checks a wall-clock deadline (CONFIG_MAX_MS), and, for the CLI, a hard
 * stop that ends the process when one long call of a C function (which no
 * hook interrupts) outlasts the deadline. The libraries it gets are guarded:
 * no binary chunks, no C modules, no os.exit, no __gc finalizers (they run
 * with hooks off), and print() goes to stderr because stdout carries data.
 */
#include "config/config_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

/* Instructions between two looks at the clock. */
#define HOOK_COUNT 1000

/* ---- memory and time bounds ------------------------------------------ */

/* The Lua allocator: plain realloc, refusing to grow past max_bytes. */
static void *bounds_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
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
static void bounds_hook(lua_State *L, lua_Debug *ar)
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
    lua_sethook(L, bounds_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "configuration took too long to load (infinite loop?)");
}

lua_State *bounds_state_new(struct loader *ld)
{
    lua_State *L = lua_newstate(bounds_alloc, ld);
    if (!L)
        return NULL;
    /* Calls too: a loop of a few instructions around one long C call
     * (string.rep of 100 MB) runs far fewer than HOOK_COUNT instructions. */
    lua_sethook(L, bounds_hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_COUNT);
    return L;
}

/*
 * The hard stop (config_limits.hard_stop). The message is made before the
 * timer is armed: the handler only writes it and ends the process, which
 * is all that is safe in a signal handler that interrupted arbitrary code.
 */
static char bounds_hard_msg[PATH_MAX * 4 + 160];
static size_t bounds_hard_len;

/* Writes the prepared message and ends the process: all a handler may safely do here. */
static void bounds_hard_stop_handler(int sig)
{
    ssize_t w;
    (void)sig;
    w = write(STDERR_FILENO, bounds_hard_msg, bounds_hard_len);
    (void)w;
    _exit(1);
}

/* Arms the hard stop for path, ms milliseconds from now. */
void bounds_hard_stop_arm(struct bounds_hard_stop *h, const char *path, unsigned ms)
{
    static const char tail[] = ": configuration took too long to load (stuck in one call "
                               "of a library function, such as a backtracking string "
                               "pattern)\n";
    struct sigaction sa;
    struct itimerval it;
    size_t n = 0;

    n += (size_t)snprintf(bounds_hard_msg, sizeof(bounds_hard_msg), "Error: ");
    /* Control bytes of the path are written escaped, as cli_error does. */
    for (const unsigned char *p = (const unsigned char *)path;
         *p && n + 4 < sizeof(bounds_hard_msg) - sizeof(tail); p++) {
        if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(bounds_hard_msg + n, 5, "\\x%02x", *p);
        else
            bounds_hard_msg[n++] = (char)*p;
    }
    memcpy(bounds_hard_msg + n, tail, sizeof(tail) - 1);
    bounds_hard_len = n + sizeof(tail) - 1;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bounds_hard_stop_handler;
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

void bounds_hard_stop_disarm(struct bounds_hard_stop *h)
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
int bounds_msgh(lua_State *L)
{
    const char *msg;
    lua_Debug ar;

    if (lua_touserdata(L, 1) == &value_fail_token)
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

/* ---- the Lua state ---------------------------------------------------------- */

/* print() writes to stderr: stdout carries data (config show). */
static int bounds_print(lua_State *L)
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
static int bounds_exit(lua_State *L)
{
    return luaL_error(L, "os.exit is not available while loading the configuration");
}

/*
 * Calls the original function (upvalue 1) with its argument mode_arg forced
 * to "t", keeping the one argument after it (load's env, loadfile's env).
 */
static int bounds_call_text_only(lua_State *L, int mode_arg)
{
    int n = lua_gettop(L);
    lua_settop(L, n <= mode_arg ? mode_arg : mode_arg + 1);
    lua_pushstring(L, "t");
    lua_replace(L, mode_arg);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* load() with the mode forced to text: binary chunks can crash the VM. */
static int bounds_load(lua_State *L)
{
    return bounds_call_text_only(L, 3);
}

/* loadfile() with the mode forced to text. */
static int bounds_loadfile(lua_State *L)
{
    return bounds_call_text_only(L, 2);
}

/* dofile() that loads text chunks only. */
static int bounds_dofile(lua_State *L)
{
    const char *name = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (luaL_loadfilex(L, name, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

/* The require() searcher for Lua files, text chunks only. */
static int bounds_searcher(lua_State *L)
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

/*
 * setmetatable without __gc: Lua runs finalizers with hooks off, so a
 * looping finalizer would escape the time limit.
 */
static int bounds_setmetatable(lua_State *L)
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

/* Opens the libraries a config needs and closes the doors it does not. */
void bounds_open_libs(struct loader *ld)
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
    lua_pushcfunction(L, bounds_print);
    lua_setglobal(L, "print");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, bounds_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    /* The file handles' metatable (which has a __gc) is hidden from getmetatable. */
    luaL_getmetatable(L, LUA_FILEHANDLE);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_getglobal(L, "load");
    lua_pushcclosure(L, bounds_load, 1);
    lua_setglobal(L, "load");
    lua_getglobal(L, "loadfile");
    lua_pushcclosure(L, bounds_loadfile, 1);
    lua_setglobal(L, "loadfile");
    lua_pushcfunction(L, bounds_dofile);
    lua_setglobal(L, "dofile");

    lua_getglobal(L, "os");
    lua_pushcfunction(L, bounds_exit);
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
    lua_pushcfunction(L, bounds_searcher);
    lua_rawseti(L, -2, 2);
    lua_pushnil(L);
    lua_rawseti(L, -2, 4);
    lua_pushnil(L);
    lua_rawseti(L, -2, 3);
    lua_pop(L, 2);
}
