/*
 * Starting a command on the host, or inside a sandbox behind a kernel
 * boundary.
 *
 * A command with a root starts in new pid, mount, ipc and uts namespaces
 * (and a network namespace with only loopback when asked). Its first
 * process is a tiny init of ours (pid 1 there): it makes every mount
 * private, mounts a fresh /proc where the sandbox has one (with sys,
 * sysrq-trigger, irq, bus and fs read-only), covers the guest paths it was
 * given with an empty read-only tmpfs, chroots, closes every descriptor but
 * the standard ones, drops the capabilities builds do not need (see
 * LAUNCH_CAPS_KEPT), then starts the command (pid 2), reaps whatever ends
 * up with it, and when the command exits, kills and reaps everything
 * else in the namespace, closes the job's output, and only then reports
 * the command's wait status to us (launch_poll) and exits: nothing of the
 * job is left when the report comes, and were the init killed before, the
 * kernel kills the rest of the namespace with it, so that nothing is left
 * when we reap it. The init dies with us too (PR_SET_PDEATHSIG, and it
 * watches its report pipe).
 *
 * Without a root (host commands), or with LAUNCH_NO_BOUNDARY, the command
 * starts with vfork and exec, as posix_spawn does, with no namespaces.
 *
 * Everything that may allocate or take a lock (the user's passwd entry
 * and groups, the environment, the PATH candidates) is prepared before the
 * child starts: after clone or vfork the child only makes system calls
 * (we may have threads: the libuv pool).
 *
 * A sandbox entry failure (cannot enter / cannot execute / not found) is
 * reported twice: "bob: sandbox entry: <what>: <reason>" on the command's
 * stderr for people, with exit status 125, 126 or 127 as chroot(8) and
 * env(1) use; and as a struct launch_error through the report pipe for
 * the caller to branch on. A host command's exec failure makes
 * launch_start itself fail, as uv_spawn does.
 */
#ifndef BOB_PLATFORM_LAUNCH_H
#define BOB_PLATFORM_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

/* What a sandbox entry failure starts with on the command's stderr (for people). */
#define LAUNCH_ENTER_PREFIX "bob: sandbox entry: "

/* launch_spec.fd[i]: /dev/null, or our own descriptor of the same number. */
#define LAUNCH_FD_NULL (-1)
#define LAUNCH_FD_INHERIT (-2)

/*
 * The capabilities a job keeps (bit c for capability c): chown (0),
 * dac_override (1), fowner (3), fsetid (4), kill (5), setgid (6),
 * setuid (7). The README says why each stays and the others go.
 */
#define LAUNCH_CAPS_KEPT UINT64_C(0xfb)

enum launch_flags {
    LAUNCH_NO_BOUNDARY = 1 << 0, /* with a root: a plain chroot, no namespaces */
    LAUNCH_NEW_NET = 1 << 1,     /* with the boundary: a network namespace with only loopback */
};

/* Cgroups the command starts in: descriptors that the caller keeps open. */
struct launch_cgroup {
    int dir_fd;           /* a cgroup v2 directory (CLONE_INTO_CGROUP), or -1 */
    const int *procs_fds; /* cgroup.procs files (v1 hierarchies) to write "0" into */
    size_t n_procs;
};

struct launch_spec {
    const char *const *argv;  /* argv[0] is looked up in PATH (inside the sandbox) */
    const char *const *env;   /* "K=V", NULL-terminated; NULL: ours */
    const char *root;         /* host path of the sandbox, or NULL: on the host */
    const char *cwd;          /* inside the sandbox with a root; NULL: "/" or ours */
    const char *user;         /* run as this user (looked up on the host), or NULL */
    bool setsid;              /* a session and process group of its own */
    bool ctty;                /* with setsid: stdin (a terminal) becomes the controlling one */
    int fd[3];                /* stdin, stdout, stderr: a descriptor or LAUNCH_FD_* */
    unsigned flags;           /* enum launch_flags */
    const char *const *cover; /* with the boundary: guest paths to hide, NULL-terminated */
    const struct launch_cgroup *cgroup; /* or NULL */
};

enum launch_fail {
    LAUNCH_FAIL_NONE = 0,
    LAUNCH_FAIL_ENTER,    /* could not enter the sandbox: exit status 125 */
    LAUNCH_FAIL_EXEC,     /* found but could not be executed: 126 */
    LAUNCH_FAIL_NOTFOUND, /* not found: 127 */
};

/* The step that failed. */
enum launch_step {
    LAUNCH_STEP_NONE = 0,
    LAUNCH_STEP_SESSION,
    LAUNCH_STEP_STDIO,
    LAUNCH_STEP_CTTY,
    LAUNCH_STEP_CGROUP,
    LAUNCH_STEP_PRIVATE,
    LAUNCH_STEP_CHROOT,
    LAUNCH_STEP_PROC,
    LAUNCH_STEP_COVER,
    LAUNCH_STEP_NET,
    LAUNCH_STEP_CHDIR,
    LAUNCH_STEP_FDS,
    LAUNCH_STEP_CAPS,
    LAUNCH_STEP_INIT, /* the init's own set-up: its signal descriptor, the fork */
    LAUNCH_STEP_GROUPS,
    LAUNCH_STEP_GID,
    LAUNCH_STEP_UID,
    LAUNCH_STEP_EXEC,
};

struct launch_error {
    enum launch_fail fail; /* LAUNCH_FAIL_NONE: none */
    enum launch_step step;
    int err; /* errno */
};

/* What the command did. */
struct launch_result {
    int status; /* the command's wait status (not the init's) */
    struct launch_error enter;
    double cpu_ms; /* with the boundary: the CPU time of all the job's processes, else -1 */
};

/* A started command, as launch_start leaves it. */
struct launch_child {
    pid_t pid;                /* ours to reap: the init with the boundary, else the command */
    int report;               /* our end of the report pipe, or -1 */
    bool boundary;            /* pid is the namespace's init */
    bool ended;               /* the init reported the end (launch_poll returned 1) */
    struct launch_result res; /* what the reports said so far */
};

/*
 * Starts the command described by s. Returns 0 and fills c, or -errno with
 * e set ("cannot run CMD: reason"); a host command that cannot be executed
 * fails here.
 */
int launch_start(const struct launch_spec *s, struct launch_child *c, struct err *e);
/*
 * With the boundary, reads what the init has reported so far (c->report is
 * non-blocking: call it when it is readable). Returns 1 when the init has
 * reported the end: the command exited AND every other process of its
 * namespace was killed and reaped, with stdout and stderr closed; *r then
 * says what the command did, c->report is closed, and the init is only
 * exiting (it is still ours to reap). Returns 0 when that is still to
 * come, -1 when the pipe ended without it (the init died: the end comes
 * with its reaping, launch_finish).
 */
int launch_poll(struct launch_child *c, struct launch_result *r);
/*
 * After c->pid was reaped with wait_status: the command's own status and
 * its sandbox entry failure, if any. Closes c->report.
 */
void launch_finish(struct launch_child *c, int wait_status, struct launch_result *r);
/* "cannot chroot into the sandbox" and so on, for a step. */
const char *launch_step_text(enum launch_step step);

#endif
