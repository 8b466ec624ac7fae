/*
 * A child process on the loop: started on the host or inside a sandbox
 * behind a kernel boundary (namespaces, chroot, capabilities, user: see
 * platform/launch.h), with its output read from pipes. It is finished when
 * it has exited AND every pipe has reached end of file (or been cut off
 * after the drain time), in either order; then the exit callback runs once.
 */
#ifndef BOB_PROC_H
#define BOB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "loop/capture.h"
#include "platform/launch.h"
#include "util/util.h"

enum proc_io {
    PROC_IO_NULL,    /* /dev/null */
    PROC_IO_PIPE,    /* read by us (stdout, stderr only) */
    PROC_IO_INHERIT, /* our own fd of the same number */
    PROC_IO_FD,      /* the fd given in proc_opts.fd[] */
};

struct proc_opts {
    const char *const *argv; /* argv[0] is looked up in PATH (inside the sandbox) */
    const char *const *env;  /* "K=V" array, NULL-terminated; NULL inherits ours */
    const char *cwd;         /* inside the sandbox when root is set; NULL: "/" or ours */
    const char *root;        /* host path of a sandbox to enter (the boundary), or NULL */
    const char *user;        /* run as this user (looked up on the host), or NULL */
    bool setsid;             /* new session and process group */
    bool ctty;               /* with setsid: its stdin (a terminal) becomes the controlling one */
    enum proc_io in, out, err;
    int fd[3];         /* for PROC_IO_FD: stdin, stdout, stderr */
    unsigned drain_ms; /* after exit, how long pipes may stay open; 0: no limit */
    /* With root: */
    bool new_net;                       /* a network namespace of its own, with only loopback */
    const char *const *cover;           /* guest paths hidden under an empty read-only tmpfs */
    const struct launch_cgroup *cgroup; /* cgroups to start in (root or not), or NULL */
    /*
     * For a PROC_IO_PIPE stream: the capture its bytes go to, moved from
     * the pipe into the log by the kernel (capture_splice) where it can;
     * the data callback then gets buf NULL and the count. Where it cannot,
     * the callback gets the bytes as without a sink, for the caller to
     * capture_add. NULL: no sink. The capture must outlive the process.
     */
    struct capture *sink[2];
    /*
     * With root: the command ends when its init is reaped, not at the
     * init's report (launch_poll), for a cgroup whose task limit must not
     * count an init that is still exiting.
     */
    bool end_at_reap;
};

struct proc;

/* Output arrived on stream 1 (stdout) or 2 (stderr): buf NULL when n bytes went into its sink. */
typedef void (*proc_data_cb)(struct proc *p, int stream, const char *buf, size_t n, void *data);
/* The process has exited and its pipes are closed. */
typedef void (*proc_exit_cb)(struct proc *p, void *data);
/*
 * The process has exited but something still holds its pipes after the
 * drain time: the owner may kill the holders. The pipes are cut off after
 * a second drain time in any case.
 */
typedef void (*proc_linger_cb)(struct proc *p, void *data);

struct proc_cbs {
    proc_data_cb on_data;
    proc_exit_cb on_exit;
    proc_linger_cb on_linger;
    void *data;
};

/* Starts a process. On failure returns NULL with e naming the command. */
struct proc *proc_spawn(uv_loop_t *loop, const struct proc_opts *o, const struct proc_cbs *cbs,
                        struct err *e);
/*
 * When no process of ours is left to run: the inits that reported the end
 * of their job and have exited since are reaped, the others forgotten
 * (proc.c says by whom they are reaped).
 */
void proc_loop_done(void);
pid_t proc_pid(const struct proc *p);
bool proc_exited(const struct proc *p);
/*
 * The CPU time (user + system, ms) the process used with the descendants it
 * waited for (a sandbox's init waits for all of them): wait4's rusage once
 * reaped, or, in a sandbox, what the init reported at the end; -1 before.
 */
double proc_cpu_ms(const struct proc *p);
/* Exit code (0-255) when exited normally, else -1. */
int proc_exit_code(const struct proc *p);
/* The signal that ended it, else 0. */
int proc_term_signal(const struct proc *p);
/* "exit code 3" or "signal 9 (Killed)" into out. */
void proc_describe_status(const struct proc *p, char *out, size_t n);
/* A shell-like status: the exit code, or 128+signal. */
int proc_shell_status(const struct proc *p);
/*
 * Once exited: LAUNCH_FAIL_NONE (0) when the command started, else why it
 * could not enter its sandbox or be executed there, with e naming the step
 * and the errno (e may be NULL).
 */
enum launch_fail proc_enter_error(const struct proc *p, struct err *e);
/*
 * Sends sig to the process (and to its process group when it has one). In
 * a sandbox it goes to the namespace's init, which passes it on to the
 * command's group; SIGKILL ends the init and with it the whole job.
 */
void proc_kill(struct proc *p, int sig);
/*
 * Releases the process once it has finished (the exit callback ran). Called
 * earlier, it kills the process group with SIGKILL and releases it when it is
 * reaped. Memory is freed in the last close callback.
 */
void proc_free(struct proc *p);

#endif
