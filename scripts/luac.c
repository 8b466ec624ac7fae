/*
 * Build tool: compiles one bundled Lua file to Lua 5.4 bytecode, with its
 * debug information (line numbers in errors), for scripts/embed.cmake.
 * Loading bytecode skips the parser at every start of bob.
 *
 *   bob_luac IN.lua CHUNKNAME OUT.luac
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

static int luac_write(lua_State *L, const void *p, size_t n, void *out)
{
    (void)L;
    return fwrite(p, 1, n, out) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    lua_State *L;
    FILE *in, *out;
    static char buf[1 << 20];
    size_t n;
    int r = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: bob_luac IN.lua CHUNKNAME OUT.luac\n");
        return 2;
    }
    if (!(in = fopen(argv[1], "rb"))) {
        perror(argv[1]);
        return 1;
    }
    n = fread(buf, 1, sizeof(buf), in);
    fclose(in);
    if (n == sizeof(buf)) {
        fprintf(stderr, "%s: too large\n", argv[1]);
        return 1;
    }
    if (!(L = luaL_newstate()))
        return 1;
    if (luaL_loadbufferx(L, buf, n, argv[2], "t") != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
    } else if (!(out = fopen(argv[3], "wb"))) {
        perror(argv[3]);
    } else {
        r = lua_dump(L, luac_write, out, 0) != 0;
        r |= fclose(out) != 0;
        if (r)
            fprintf(stderr, "%s: cannot write\n", argv[3]);
    }
    lua_close(L);
    return r;
}
