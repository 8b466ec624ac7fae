/* Small helpers shared by every module: errors, memory, strings, lists. */
#ifndef BOB_UTIL_H
#define BOB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * An error carries one line of text naming what failed and why. Modules fill
 * it and return a negative value; callers add context in front with
 * err_prefix(); main prints it and decides the exit code. The buffer is
 * fixed so that reporting an error never needs memory.
 */
struct err {
    int code; /* errno-style value when known, else 0 */
    char msg[2048];
};

/* Sets the message (printf-style) and returns -1. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the message followed by ": strerror(errnum)" and returns -errnum (or -1). */
int err_sys(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Puts "<prefix>: " in front of the current message and returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);

/* Allocation that aborts on exhaustion: there is no useful recovery. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* A growable array of owned strings, always NULL-terminated. */
struct strv {
    char **v;
    size_t n, cap;
};
void strv_push(struct strv *s, const char *str);
void strv_push_owned(struct strv *s, char *str);
void strv_free(struct strv *s);
bool strv_contains(const struct strv *s, const char *str);
/* Sorts the strings with strcmp. */
void strv_sort(struct strv *s);

/* Sets "K=V" in an environment list, replacing an existing K. */
void env_set(struct strv *env, const char *kv);
/* Sets K to V in an environment list. */
void env_setkv(struct strv *env, const char *k, const char *v);
/* Copies the process environment into a list. */
void env_from_environ(struct strv *env);

/* A growable byte buffer, always NUL-terminated. */
struct buf {
    char *p;
    size_t len, cap;
};
void buf_add(struct buf *b, const void *data, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

bool str_startswith(const char *s, const char *prefix);
/* FNV-1a, 64 bits, of a string (without its NUL): a cheap, even spread, not a digest. */
uint64_t str_fnv1a(const char *s);
/* Parses a whole decimal unsigned number; false on junk or overflow. */
bool str_to_uint(const char *s, unsigned long *out);

/* Prints "Warning: <msg>" on stderr (through the hook when one is set). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a debug line on stderr when verbose output is on (-v). */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Turns debug lines on or off. */
void log_set_verbose(bool on);
/* Where warnings go instead of stderr (for the live display), or NULL. */
void log_set_hook(void (*hook)(const char *line, void *data), void *data);

/* Monotonic clock in milliseconds. */
double now_ms(void);
/* Formats a duration as "1.2s", "1m 2s" or "1h 2m 3s" into out. */
void fmt_duration(char *out, size_t n, double ms);

/* utf8_len and json_write_str live in util/json.h; callers that knew them from here still see them.
 */
#include "util/json.h"

#endif
