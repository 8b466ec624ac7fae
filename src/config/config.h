/*
 * The configuration: a bob 0.99.0 config.lua (plus the `jobs` extension)
 * loaded by embedded Lua 5.4, validated strictly, and copied into the plain
 * C structures below. The Lua state is closed when config_load returns.
 */
#ifndef BOB_CONFIG_H
#define BOB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

enum action_kind {
    ACTION_MOUNT,
    ACTION_COPY,
    ACTION_SYMLINK,
    ACTION_CMD,
    ACTION_MDNS, /* macos-mdns-listener */
};

enum fs_type {
    FS_NONE,
    FS_BIND, /* also lofs, loop, null */
    FS_DEV,
    FS_FD,
    FS_NFS,
    FS_PROC,
    FS_TMP,
};

/* The context a sandbox operation runs in (only.environment). */
enum env_ctx {
    CTX_ANY = 0, /* no only.environment predicate */
    CTX_BUILD = 1,
    CTX_DEV = 2,
};

/* A script value: the body run with /bin/sh -ceu, and extra "K=V" pairs. */
struct script {
    char *run;       /* NULL when absent (an empty run string counts as absent) */
    struct strv env; /* "K=V", sorted by key */
};

struct action {
    enum action_kind kind;
    enum fs_type fs;       /* mount only */
    char *fs_name;         /* the fs string as written (for messages), or NULL */
    char *src;             /* host path (mount, copy), or link target (symlink) */
    char *dest;            /* guest path, absolute ("/usr/bin") */
    char *opts;            /* mount options as written, or NULL */
    struct script create;  /* cmd */
    struct script destroy; /* cmd */
    bool chroot;           /* cmd */
    enum env_ctx only_env; /* only.environment, checked at run time */
    char *only_exists;     /* only.exists, host path checked at run time, or NULL */
    char *where;           /* "sandboxes.setup[3]", for messages */
};

struct action_list {
    struct action *v;
    size_t n;
};

/* sandboxes.environment.build or .dev */
struct env_policy {
    bool present;        /* the sub-table exists; otherwise inherit everything */
    bool clear;          /* default true when present */
    struct strv inherit; /* variable names */
    struct strv vars;    /* "K=V", sorted by key */
    char *shell;         /* dev only; NULL means /bin/sh */
};

struct stage {
    char *name;
    char *run;
};

/*
 * The limits of a job (0: none). The texts keep the user's wording ("2h",
 * "512M"; a number as its digits) for messages and config show; NULL when
 * the limit is not set.
 */
struct job_limits {
    unsigned time;    /* seconds of wall clock */
    unsigned silence; /* seconds without output */
    uint64_t memory;  /* bytes of memory (RAM + swap) */
    uint64_t tasks;   /* processes and threads */
    char *time_text;  /* "2h", "30m", "90s" or "90" */
    char *silence_text;
    char *memory_text; /* "512M" or "536870912" */
};

struct job {
    char *name;
    struct strv depends; /* job names, validated to exist */
    size_t *dep_idx;     /* indexes into config.jobs, same order as depends */
    struct strv env;     /* "K=V", sorted by key */
    struct stage *stages;
    size_t nstages;
    struct job_limits limits; /* effective: options.limits, then the job's own */
    bool network;             /* false: a network namespace with only loopback */
};

struct config {
    char *path; /* absolute path of the config file */
    char *dir;  /* its directory */

    /* options */
    unsigned build_threads;   /* default 1, at least 1 */
    unsigned scan_threads;    /* default 1, at least 1 */
    unsigned status_interval; /* seconds between plain-mode status lines; 0: none (default 60) */
    char *dbdir;              /* absolute; default $BOB_DATADIR, else $XDG_DATA_HOME/bob... */
    bool nostate;             /* options.dbdir = false: no build state */
    char *logdir;             /* as given, default <dbdir>/logs */
    char *log_level;          /* default "info" */
    bool strict_scan;
    bool tui;                 /* default true */
    bool keep_logs;           /* extension, default false */
    struct job_limits limits; /* options.limits: every job's defaults */
    bool network;             /* options.network, default true */

    /* pkgsrc */
    bool has_pkgsrc;
    char *pkgsrc_basedir;
    char *make;
    char *bootstrap;           /* may be NULL */
    size_t bootstrap_max_size; /* bound on the unpacked kit in bytes; 0: the default */
    char *build_user;          /* may be NULL */
    char *build_user_home;     /* from getpwnam when build_user is set and this is not */
    struct strv cachevars;
    struct strv pkgpaths;
    struct strv save_wrkdir_patterns;

    /* sandboxes */
    bool has_sandboxes;
    char *basedir; /* absolute, not "/" */
    char *bindfs;
    char *tmpfs_root; /* a tmpfs of its own at each root: its options ("" default); NULL: none */
    struct action_list setup;
    struct action_list hooks;
    struct env_policy env_build;
    struct env_policy env_dev;

    /* jobs (extension), in the order written; with pkgsrc and no `jobs`, bob build makes
     * them after the scan (config_pkgsrc.h) */
    struct job *jobs;
    size_t njobs;

    /* Non-fatal findings, in order: unknown section keys, unsupported sections. */
    struct strv warnings;
};

/*
 * Loads and validates `path`. On success fills *cfg (free with config_free)
 * and returns 0. On failure returns -1 with e naming the file, the place in
 * the config and the reason; *cfg is left empty.
 */
int config_load(const char *path, struct config *cfg, struct err *e);
void config_free(struct config *cfg);

/* Bounds on loading a config; config_load uses CONFIG_MAX_BYTES, CONFIG_MAX_MS and the hard stop.
 */
#define CONFIG_MAX_BYTES ((size_t)256 << 20) /* Lua heap */
#define CONFIG_MAX_MS 10000u                 /* wall clock */
struct config_limits {
    size_t max_bytes;
    unsigned max_ms;
    /*
     * The hard stop: the count hook cannot interrupt one long call of a C
     * function (a backtracking string.find), so when this is set a timer
     * ends the process 2 s after max_ms with "Error: <path>: configuration
     * took too long to load ..." on stderr and exit status 1. Only for a
     * process that has nothing else to clean up yet (the CLI at start).
     */
    bool hard_stop;
};

/* config_load with explicit bounds (tests use small ones). */
int config_load_limited(const char *path, const struct config_limits *lim, struct config *cfg,
                        struct err *e);

/* The default config path: $XDG_CONFIG_HOME/bob/config.lua or ~/.config/bob/config.lua. */
char *config_default_path(void);

/* Writes the bundled default config for this OS to path (parents created); fails if it exists. */
int config_init(const char *path, struct err *e);

/* Prints the effective config (after only.set filtering) as Lua or JSON. */
void config_show_lua(const struct config *cfg, FILE *out);
void config_show_json(const struct config *cfg, FILE *out);

/* Names for messages and output. */
const char *action_kind_name(enum action_kind k);
const char *fs_type_name(enum fs_type t);

#endif
