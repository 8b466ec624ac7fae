/* The files of lua/, compiled into the binary (scripts/embed.cmake). */
#ifndef BOB_EMBED_H
#define BOB_EMBED_H

#include <stdbool.h>
#include <stddef.h>

struct embed_file {
    const char *name; /* path relative to lua/, e.g. "funcs.lua" */
    const char *data; /* NUL-terminated */
    size_t size;
    bool bytecode; /* Lua bytecode (the files directly in lua/; scripts/luac.c), else text */
};

/* Terminated by an entry whose name is NULL. */
extern const struct embed_file embed_files[];

/* Looks a file up by name; NULL when absent. */
const struct embed_file *embed_find(const char *name);

#endif
