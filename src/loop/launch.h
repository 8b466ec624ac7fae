/*
 * Starting a command, in a sandbox or on the host, with vfork and exec.
 *
 * libuv's uv_spawn cannot chroot in the child, and entering a sandbox
 * through a helper program costs one more exec (about a millisecond) for
 * every command. So proc_spawn starts it itself: everything that may allocate
 * or take a lock (the user's passwd entry and groups, the environment, the
 * PATH candidates, argv for a script without "#!") is prepared here in the
 * parent, and the child, started with vfork, only makes system calls that
 * are safe there (it shares our memory until it execs, and we may have
 * threads: the libuv thread pool) and writes nothing but its own stack:
 * signal dispositions back to default, setsid, dup2 of its stdio, chroot,
 * chdir, setgroups/setgid/setuid, execve.
 *
 * Failures in the child: in a sandbox (root or user set) the child writes
 * "bob: sandbox entry: <what>: <reason>" to its stderr and exits 125
 * (cannot enter), 126 (cannot execute) or 127 (not found), like chroot(8)
 * and env(1). On the host it reports the errno through a close-on-exec
 * pipe before exiting, and the parent fails synchronously, as uv_spawn
 * does.
 */
#ifndef BOB_LAUNCH_H
#define BOB_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop/proc.h"
#include "util/util.h"

/* What a sandbox entry failure starts with on the command's stderr. */
#define LAUNCH_ENTER_PREFIX "bob: sandbox entry: "

struct launch {
    bool enter; /* root or user: failures are the command's exit status */
    const char *root, *cwd;
    bool setsid;
    enum proc_io io[3];
    int pipe_wfd[3]; /* the child's ends of our pipes, for PROC_IO_PIPE */
    int fd[3];       /* for PROC_IO_FD */
    bool ctty;
    const char *file; /* argv[0] as given, for messages */
    struct strv paths; /* the candidates to execve, in PATH order */
    struct strv argv;
    struct strv sh_argv; /* "/bin/sh", <slot for the path>, argv[1..]: no "#!" */
    struct strv env;
    bool own_env; /* env holds a copy (NULL: the child uses environ) */
    bool user;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int ngroups;
    uint64_t sigs; /* signals caught or ignored by us: bit s-1 for signal s */
};

/* Prepares l from o in the parent. On failure returns -1 with e set. */
int launch_prepare(struct launch *l, const struct proc_opts *o, struct err *e);
void launch_free(struct launch *l);
/*
 * The child side, after vfork: never returns. errfd is the write end of the
 * close-on-exec error pipe (host commands), or -1.
 */
__attribute__((noreturn)) void launch_child(struct launch *l, int errfd);

#endif
