/*
 * Internals shared by linux_cgroup.c (discovery, bases, leftovers) and
 * linux_cgroup_job.c (jobs and limits), and their unit tests.
 */
#ifndef BOB_PLATFORM_LINUX_CGROUP_INT_H
#define BOB_PLATFORM_LINUX_CGROUP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "platform/cgroup.h"

/* The v1 hierarchies bob uses for limits, indexes of cgroup_base.v1_*. */
enum cgv1 { CGV1_MEMORY, CGV1_PIDS, CGV1_N };

struct cgroup_base {
    char *mount;             /* the cgroup2 mount point */
    char *own;               /* bob's own v2 cgroup ("/" or "/user.slice/..."), for messages */
    char *parent;            /* <mount>/bob: every bob's base is in it */
    char *id;                /* "<pid>-<starttime>" (".N" added when taken) */
    char *path;              /* <parent>/<id> */
    int lockfd;              /* path, opened and flocked while bob lives */
    unsigned v2;             /* controllers enabled for the jobs (enum cgroup_limit bits) */
    char *v1_parent[CGV1_N]; /* <v1 mount><own v1 cgroup>/bob, or NULL */
    char *v1_path[CGV1_N];   /* <v1_parent>/<id>, made; NULL when unused */
    bool memsw;              /* v1 memory has memory.memsw.* (swap accounting) */
};

struct cgroup_job {
    char *path;            /* <base path>/<name> */
    char *events;          /* <path>/cgroup.events */
    char *v1_path[CGV1_N]; /* <v1 path of the base>/<name>, or NULL */
    unsigned v2, v1;       /* the limits set in v2 and in v1 */
    int dirfd;
    int procs[CGROUP_JOB_MAX_FDS];
    size_t nprocs;
    char *limit_files[CGROUP_JOB_MAX_FDS];
    size_t nlimit;
    bool keep;        /* not removed by cgroup_job_free (cgroup_sandbox_cmd) */
    bool killed_kept; /* kept until killed: removed, or the next command would die */
};

/* A mount of a cgroup hierarchy: its mount point and the root of its file system. */
struct cgroup_mount {
    char *point, *root;
};

/*
 * Reads /proc/self/mountinfo: the cgroup2 mount whose root is "/" into
 * *v2, and the v1 mounts whose super options name memory or pids.
 */
int cg_find_mounts(struct cgroup_mount *v2, struct cgroup_mount v1[CGV1_N]);

/* A job object for the existing v2 cgroup at path (no limits): 0 or a negative errno. */
int cg_job_adopt(const char *path, struct cgroup_job **out);

/* Writes the string to dir/file (one write); 0 or a negative errno. */
int cg_write(const char *dir, const char *file, const char *s);
/* Reads dir/file (at most n-1 bytes) into buf; 0 or a negative errno. */
int cg_read(const char *dir, const char *file, char *buf, size_t n);
/* Writes "1" to dir/cgroup.kill: 0, or 1 when dir was empty (no kill needed), or a negative errno.
 */
int cg_kill(const char *dir);
/* Whether dir/file exists. */
bool cg_exists(const char *dir, const char *file);

/*
 * Waits at most wait_ms for the v2 cgroup at dir to have no process
 * (cgroup.events, poll POLLPRI): 0 when empty, -ETIMEDOUT, or an errno.
 */
int cg_wait_empty(const char *dir, int wait_ms);

/*
 * Removes the cgroup directory dir and the cgroups below it, deepest
 * first. A missing dir is not an error; -EBUSY while a process remains.
 */
int cg_remove_tree(const char *dir);

/* Sends SIGKILL to the processes listed in cgroup.procs of dir and below (v1). */
void cg_kill_v1_tree(const char *dir);

#endif
