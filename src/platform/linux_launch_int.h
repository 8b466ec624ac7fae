/*
 * What the parent side of a launch (linux_launch.c) prepares for the child
 * side (linux_launch_child.c), which may only make system calls.
 */
#ifndef BOB_LINUX_LAUNCH_INT_H
#define BOB_LINUX_LAUNCH_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform/launch.h"
#include "util/util.h"

/* One message on the report pipe: a few bytes, so every write is atomic. */
enum launch_report_kind {
    LAUNCH_REPORT_ENTER = 1, /* a, b, c: enum launch_fail, enum launch_step, errno */
    /* The end: a is the command's wait status, b and c the low and high 32
     * bits of the CPU time in microseconds of every process the init reaped;
     * written when the namespace has nothing left but the init. */
    LAUNCH_REPORT_EXIT,
};
struct launch_report {
    int32_t kind, a, b, c;
};

struct launch {
    bool boundary; /* namespaces and our init (a root, no LAUNCH_NO_BOUNDARY) */
    bool enter;    /* root or user: failures are the command's exit status */
    bool new_net;
    const char *root, *cwd;
    bool setsid, ctty;
    int fd[3];         /* as in launch_spec */
    const char *file;  /* argv[0] as given, for messages */
    struct strv paths; /* the candidates to execve, in PATH order */
    struct strv argv;
    struct strv sh_argv; /* "/bin/sh", <slot for the path>, argv[1..]: no "#!" */
    struct strv env;
    bool own_env; /* env holds a copy (else the child uses environ) */
    struct strv cover;
    bool user;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int ngroups;
    uint64_t sigs; /* signals caught or ignored by us: bit s-1 for signal s */
    int cgroup_fd; /* a v2 directory the child joins itself (no clone3), or -1 */
    const int *procs_fds;
    size_t n_procs;
    int report; /* write end of the report pipe */
};

/* The child of vfork (no boundary): never returns. */
__attribute__((noreturn)) void launch_child_plain(struct launch *l);
/* The child of clone (the namespaces' init): never returns. */
__attribute__((noreturn)) void launch_child_init(struct launch *l);

#endif
