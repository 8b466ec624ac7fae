/*
 * What the files of the configuration loader share, and nothing outside
 * src/config uses. The loader is split by topic:
 *   config.c         loading: reading the file, the protected call, errors, freeing, init
 *   config_bounds.c  the bounded Lua state: memory and time limits, the hard stop, the guards
 *   config_value.c   reading and checking Lua values, with the place for messages
 *   config_schema.c  the sections: options, pkgsrc, sandboxes and their actions, only.set
 *   config_guest.c   the simulated guest paths: destinations, symlink escapes, host sources
 *   config_jobs.c    the jobs: names, stages, dependencies, cycles, the pkgsrc generator
 *   config_show.c    config show as Lua or JSON
 *
 * All Lua work happens inside one protected call. A validation failure
 * writes its message into the caller's struct err and unwinds with
 * lua_error (value_fail), so the parsing code never propagates return
 * values. The price is one rule: every C allocation is stored into the
 * config (or the loader) as soon as it is made, so that config_free and
 * the loader's cleanup find it after an unwind. Temporary strings live on
 * the Lua stack or in fixed buffers.
 */
#ifndef BOB_CONFIG_INT_H
#define BOB_CONFIG_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include <lua.h>

#include "config/config.h"

/* The longest place name in a message ("sandboxes.setup[3].only.environment"). */
#define PLACE_MAX 512

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
    /* sandboxes.basedir with its host symlinks resolved (guest_check_src), once */
    char *real_base;
    bool real_base_done;
    int link_index; /* stack index of a table: resolved guest path -> 1-based link number */
    /* Keys the config set that bob accepts for bob's sake but that do nothing here. */
    const char *noeffect[8];
    size_t nnoeffect;
};

/* ---- config.c ---- */

/* $<xdg_var> when absolute, else <home>/<home_rel> (HOME, or the password file); NULL without a
 * home. */
char *config_user_dir(const char *xdg_var, const char *home_rel);

/* ---- config_bounds.c ---- */

/* A new Lua state for ld: its allocator stops at ld->max_bytes, its hook at ld->deadline. */
lua_State *bounds_state_new(struct loader *ld);
/* The message handler of the protected call (keeps value_fail's errors as they are). */
int bounds_msgh(lua_State *L);
/* Opens the libraries a config needs and closes the doors it does not. */
void bounds_open_libs(struct loader *ld);

/* The hard stop (config_limits.hard_stop): what it changed, to put back. */
struct bounds_hard_stop {
    bool armed;
    struct sigaction old_act;
    struct itimerval old_timer;
};
/* Arms the hard stop for path, ms milliseconds from now. */
void bounds_hard_stop_arm(struct bounds_hard_stop *h, const char *path, unsigned ms);
void bounds_hard_stop_disarm(struct bounds_hard_stop *h);

/* ---- config_value.c ---- */

/* Its address marks an error whose message is already in the struct err. */
extern const char value_fail_token;

/* Fills the error with "<path>: <place>: <reason>" and unwinds to config_load. */
__attribute__((noreturn, format(printf, 3, 4))) void
value_fail(struct loader *ld, const char *place, const char *fmt, ...);
/* Formats a place name ("sandboxes.setup[3].fs") into buf (PLACE_MAX) and returns buf. */
__attribute__((format(printf, 2, 3))) const char *value_placef(char *buf, const char *fmt, ...);
/* Pushes t[key] without metamethods and returns its type; t is absolute. */
int value_get(lua_State *L, int t, const char *key);
/* Formats the place of key (on the stack at idx) inside base: "base.key" or "base[1]". */
const char *value_key_place(lua_State *L, char *buf, const char *base, int idx);
/* True when s is one of the NULL-terminated list. */
bool value_in_list(const char *s, const char *const *list);
/* True when s matches [A-Za-z_][A-Za-z0-9_]*. */
bool value_is_ident(const char *s);
/* Warns (bob's wording) about keys of table t that are not in known, sorted. */
void value_warn_unknown(struct loader *ld, int t, const char *label, const char *const *known);
/* Fails on a key of table t that is not in known (action tables, jobs). */
void value_check_keys(struct loader *ld, int t, const char *base, const char *const *known,
                      const char *expected);
/* Checks that table t is a sequence 1..n without other keys; returns n. */
lua_Integer value_seq_len(struct loader *ld, int t, const char *place);
/* The string (or number, converted) at idx, valid while it is on the stack. */
const char *value_str_at(struct loader *ld, int idx, const char *place);
/* Pushes t[key] and returns it as a string, or NULL when nil; the caller pops it. */
const char *value_stack_str(struct loader *ld, int t, const char *key, const char *base);
/* t[key] as a new string, NULL when nil; non_empty refuses "". */
char *value_opt_str(struct loader *ld, int t, const char *key, const char *base, bool non_empty);
/* t[key] as a required non-empty string (bob: "missing required field"). */
char *value_req_str(struct loader *ld, int t, const char *key, const char *base);
/* t[key] as a Lua boolean (strict: "no" and 0 are errors), def when nil. */
bool value_opt_bool(struct loader *ld, int t, const char *key, const char *base, bool def);
/* t[key] as an integer from 1 to VALUE_MAX_THREADS, def when nil. */
unsigned value_opt_count(struct loader *ld, int t, const char *key, const char *base, unsigned def);
/* An optional whole number of seconds, 0 to 86400, or def. */
unsigned value_opt_seconds(struct loader *ld, int t, const char *key, const char *base,
                           unsigned def);
size_t value_opt_size(struct loader *ld, int t, const char *key, const char *base);
/* Reads the map at idx into out as "K=V" sorted by key (booleans too when allow_bool). */
void value_env_map(struct loader *ld, int idx, const char *place, struct strv *out,
                   bool allow_bool);
/* Pushes t[key] and returns its stack index when a table; 0 (nothing pushed) when nil. */
int value_opt_table(struct loader *ld, int t, const char *key, const char *place);
/* Pushes t[i] and returns its stack index; fails unless it is a table. */
int value_table_at(struct loader *ld, int t, lua_Integer i, const char *place);
/* Reads t[key], when present, as value_env_map does (place names the map). */
void value_opt_env(struct loader *ld, int t, const char *key, const char *place, struct strv *out,
                   bool allow_bool);
/* A validator for list entries: fails naming place when s is not acceptable. */
typedef void (*value_check_fn)(struct loader *ld, const char *place, const char *s);
/* Entries of lists of environment variable names. */
void value_check_ident(struct loader *ld, const char *place, const char *s);
/* A pkgsrc package path: "category/package". */
void value_check_pkgpath(struct loader *ld, const char *place, const char *s);
/* Reads t[key], a list of strings, into out; false when the key is absent. */
bool value_string_list(struct loader *ld, int t, const char *key, const char *base,
                       struct strv *out, value_check_fn check);

/* ---- config_schema.c ---- */

/* Fails with bob's migration message when a key of an older format is present. */
void schema_reject_legacy(struct loader *ld);
/* Pushes the global section and returns its stack index, or 0 (nothing pushed) when absent. */
int schema_section(struct loader *ld, const char *name);
void schema_options(struct loader *ld);
void schema_pkgsrc(struct loader *ld);
void schema_sandboxes(struct loader *ld);
/* Warns about the bob sections that we accept but do not implement. */
void schema_unsupported(struct loader *ld);
/*
 * Parses t.limits (t absolute, base its place) into *out, starting from
 * def (NULL: none): a key that is nil keeps the default, false removes it.
 */
void schema_limits(struct loader *ld, int t, const char *base, const struct job_limits *def,
                   struct job_limits *out);
/* Frees the texts of a job_limits. */
void schema_limits_free(struct job_limits *l);
/* Frees what an action owns and zeroes it. */
void schema_action_clear(struct action *a);

/* ---- config_guest.c ---- */

/* Validates and stores a's destination d; it must stay inside the sandbox. */
void guest_set_dest(struct loader *ld, struct action *a, const char *d, const char *place);
/* Validates a's host source: absolute, no "..", not containing sandboxes.basedir. */
void guest_check_src(struct loader *ld, struct action *a, const char *place);
/* Frees the simulated symlinks. */
void guest_free_links(struct loader *ld);

/* ---- config_jobs.c ---- */

/* Parses `jobs`, or generates them from pkgsrc.pkgpaths when it is absent. */
void jobs_parse(struct loader *ld);

#endif
