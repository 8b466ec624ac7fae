/*
 * Control groups: exact tracking and limits for every process bob starts.
 *
 * One cgroup v2 of bob's own (a "base", <v2 mount>/bob/<pid>-<starttime>)
 * holds one child cgroup per job or command (a "job"). A job's processes
 * are killed all at once with cgroup.kill, and cgroup.events tells when the
 * last of them is gone (loop/cgwatch.h turns that into a loop callback), so
 * nothing ever scans /proc. Memory and task limits use the v2 controllers
 * where the host hands them to bob's cgroup, and on a hybrid host (v2 with
 * no controllers, as systemd's "unified" mount) the v1 `memory` and `pids`
 * hierarchies, in a parallel <own v1 cgroup>/bob/<id>/<job> directory.
 *
 * Where cgroup v2 cannot be written (no cgroup2 mount, read-only, not
 * root, no cgroup.kill, or BOB_NO_CGROUP=1) cgroup_base_open answers
 * -ENOTSUP: the caller then kills a sandbox's processes through its pid
 * namespace's init, and cgroup_base_limits(NULL) is 0, so that bob says
 * once that no limit can be enforced.
 *
 * Every function is synchronous; those that take wait_ms wait at most that
 * long, on the kernel's notification of cgroup.events (poll POLLPRI), never
 * in a sleep loop. 0 on success, a negative errno with `e` set on failure.
 */
#ifndef BOB_PLATFORM_CGROUP_H
#define BOB_PLATFORM_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* The limits a host can enforce and that a job hit (a bit mask). */
enum cgroup_limit {
    CGROUP_LIMIT_MEMORY = 1 << 0, /* bytes of memory (RAM + swap) */
    CGROUP_LIMIT_TASKS = 1 << 1,  /* processes and threads */
};

/* The limits of one job: 0 means none. */
struct cgroup_limits {
    uint64_t memory; /* bytes */
    uint64_t tasks;  /* count */
};

/* bob's own cgroup (one per bob process) and one job's cgroup: private. */
struct cgroup_base;
struct cgroup_job;

/*
 * Finds cgroup v2 (and the v1 memory and pids hierarchies) in
 * /proc/self/mountinfo and /proc/self/cgroup, creates this process's base
 * cgroup and holds it with a lock (flock on its directory) that the kernel
 * drops when bob dies, so that cgroup_sweep of a later bob knows it is
 * stale, whatever pid namespace either runs in. Enables the memory and
 * pids controllers on the way down where the host allows it. bob itself
 * never moves: it stays in its own cgroup, so no process sits in an inner
 * node with controllers enabled. -ENOTSUP (e says why): unavailable.
 */
int cgroup_base_open(struct cgroup_base **out, struct err *e);

/*
 * Kills every process left in the base's jobs, waits at most wait_ms for
 * them to be gone, removes every directory it made (v2 and v1) and frees
 * the base. -EBUSY when something could not be removed in time: it is left
 * for the next cgroup_sweep. Free the jobs first. NULL is a no-op.
 */
int cgroup_base_close(struct cgroup_base *b, int wait_ms, struct err *e);

/*
 * The limits this host can enforce for bob's jobs (enum cgroup_limit bits);
 * 0 for NULL (no cgroup).
 */
unsigned cgroup_base_limits(const struct cgroup_base *b);

/*
 * One line for people saying what is used, such as "cgroup v2 at
 * /sys/fs/cgroup/unified/bob/4711-123; memory: v1, tasks: v1".
 */
void cgroup_base_describe(const struct cgroup_base *b, char *out, size_t n);

/* The base's v2 directory (absolute path). */
const char *cgroup_base_path(const struct cgroup_base *b);

/*
 * Leftovers: finds the bases that no live bob holds (their bob was
 * SIGKILLed), in v2 and in the v1 hierarchies, kills their processes,
 * waits at most wait_ms for them to go and removes them. *found (may be
 * NULL) is the number of stale bases. -EBUSY when some could not be
 * removed in time (call again later). b may be NULL when there is no base
 * of our own; with no cgroup at all this does nothing.
 */
int cgroup_sweep(const struct cgroup_base *b, int wait_ms, unsigned *found, struct err *e);

/*
 * Creates the job cgroup `name` (letters, digits, '-' and '_'; not a v1
 * file name such as "tasks") in the base with the given limits (NULL:
 * none). A limit the host cannot enforce is refused with -ENOTSUP (check
 * cgroup_base_limits first); it is never ignored. -EEXIST when the name is
 * taken. A new job is empty: put the first process in with clone3
 * CLONE_INTO_CGROUP on cgroup_job_dirfd and write "0" into each of
 * cgroup_job_procs_fds in the child before it execs.
 */
int cgroup_job_new(struct cgroup_base *b, const char *name, const struct cgroup_limits *lim,
                   struct cgroup_job **out, struct err *e);

/*
 * Removes the job's directories (v2 and v1) and frees it: -EBUSY (e says
 * so) while processes remain, and then the job is NOT freed: kill it and
 * call again once it is empty (the caller retries). NULL is a no-op.
 */
int cgroup_job_remove(struct cgroup_job *j, struct err *e);

/*
 * Frees the job whatever state it is in: removes its directories when it
 * can, otherwise leaves them to cgroup_base_close. NULL is a no-op.
 */
void cgroup_job_free(struct cgroup_job *j);

/* The job's v2 directory (absolute path). */
const char *cgroup_job_path(const struct cgroup_job *j);

/*
 * An O_RDONLY|O_DIRECTORY|O_CLOEXEC descriptor of the job's v2 directory,
 * for clone3's cgroup field with CLONE_INTO_CGROUP. Owned by the job.
 */
int cgroup_job_dirfd(const struct cgroup_job *j);

/*
 * The O_WRONLY|O_CLOEXEC descriptors of the job's cgroup.procs files
 * (owned by the job): the v2 one first, then one per v1 hierarchy that
 * holds a limit. The launcher writes "0" into each in the child, before
 * it unshares a cgroup namespace or drops capabilities (writing to the v2
 * one after CLONE_INTO_CGROUP changes nothing). Returns how many there are
 * (at most CGROUP_JOB_MAX_FDS) and points *fds at them.
 */
#define CGROUP_JOB_MAX_FDS 3
size_t cgroup_job_procs_fds(const struct cgroup_job *j, const int **fds);

/*
 * The launcher's view: the descriptor for clone3's CLONE_INTO_CGROUP and
 * only the v1 cgroup.procs files. The v2 one must not be written as well:
 * each write to a cgroup.procs migrates the process, and a migration waits
 * for an RCU grace period (about 10 ms here), while CLONE_INTO_CGROUP
 * places the child at no such cost.
 */
void cgroup_job_launch(const struct cgroup_job *j, int *dir_fd, const int **procs_fds,
                       size_t *n_procs);

/* Kills every process of the job at once (cgroup.kill). Empty: nothing to do, 0. */
int cgroup_job_kill(struct cgroup_job *j, struct err *e);

/* 1 when a process is in the job (or below it), 0 when it is empty (cgroup.events). */
int cgroup_job_populated(const struct cgroup_job *j, struct err *e);
/*
 * The same, except that a sandbox's init does not count (pid 1 of a pid
 * namespace below ours, which a job cannot make): one that reported the
 * end of its job (launch_poll) has nothing of it left and is only
 * exiting, as is a former command's in a kept cgroup. Waiting for the
 * kernel to say it is empty would wait 10 ms after the job's start at
 * least (Linux rate-limits cgroup.events notifications).
 */
int cgroup_job_populated_but_inits(const struct cgroup_job *j, struct err *e);
/*
 * Removes the job cgroups that were still busy when freed and are empty
 * now, and forgets the others (cgroup_base_close removes them with their
 * base).
 */
void cgroup_graves_forget(void);

/*
 * The limits the job has reached so far (enum cgroup_limit bits in *hit):
 * memory when the kernel's OOM killer acted in it (v2 memory.events oom /
 * oom_kill, v1 memory.oom_control oom_kill), tasks when a fork failed at the
 * limit (pids.events max). A limit only touched (memory reclaimed at the
 * limit) is not reached.
 */
int cgroup_job_limits_hit(const struct cgroup_job *j, unsigned *hit, struct err *e);

/*
 * The files whose change the kernel notifies (inotify IN_MODIFY, poll
 * POLLPRI) and that may mean a limit was reached: v2 memory.events and
 * pids.events. Returns how many (at most CGROUP_JOB_MAX_FDS) into paths
 * (owned by the job). The v1 files notify nothing (the kernel ties
 * notification to v2 files only): a v1 limit is seen by
 * cgroup_job_limits_hit when the job ends (or when the caller asks).
 */
size_t cgroup_job_limit_files(const struct cgroup_job *j, const char *const **paths);

/*
 * The CPU time (user + system) the job's processes, gone or not, have used
 * so far, in microseconds: usage_usec of its v2 cpu.stat, which the kernel
 * keeps even with no controller enabled (a hybrid host's "unified" mount).
 */
int cgroup_job_cpu_usec(const struct cgroup_job *j, uint64_t *usec, struct err *e);
/* The v2 cgroup.events file of the job (absolute path), for watchers. */
const char *cgroup_job_events_path(const struct cgroup_job *j);

/*
 * A sandbox's own cgroup for the host commands of its actions (`cmd`
 * without chroot): <v2 mount>/bob-sandboxes/<key>, made when missing and
 * kept across bob processes, so that whatever such a command leaves
 * running (a daemon with its cwd in the sandbox) is still found, and
 * killed, by the destroy of any later bob. key: letters, digits, '-' and
 * '_' (a hash of the sandbox's path). Free the object with
 * cgroup_job_free (the cgroup itself stays while it holds processes).
 * -ENOTSUP without cgroup v2, as cgroup_base_open.
 */
int cgroup_sandbox_open(const char *key, struct cgroup_job **out, struct err *e);

/*
 * The cgroup of the commands bob runs in the sandbox `key` (`sandbox run`,
 * the dev shell): <sandbox cgroup>/cmd, made on first use and kept, empty,
 * between commands, so that a command's start costs no mkdir and its end
 * no rmdir; cgroup_job_free leaves it, cgroup_sandbox_kill removes it with
 * the sandbox's. Killing it spares what the sandbox's host commands left in
 * the sandbox cgroup itself. -ENOTSUP without cgroup v2.
 */
int cgroup_sandbox_cmd(const char *key, struct cgroup_job **out, struct err *e);

/* The key of the sandbox at host path root: "s" and 16 hex digits of a hash of the path. */
#define CGROUP_SANDBOX_KEY_LEN 18
void cgroup_sandbox_key(const char *root, char out[CGROUP_SANDBOX_KEY_LEN]);

/*
 * Kills everything in the sandbox cgroup `key` (and its commands' child),
 * waits at most wait_ms for it to be empty and removes it. A missing cgroup, or no cgroup v2 at
 * all, is 0: there is nothing to kill.
 */
int cgroup_sandbox_kill(const char *key, int wait_ms, struct err *e);

/* Parses a cgroup.events text: 1 for "populated 1", 0 for "populated 0", -EINVAL otherwise. */
int cgroup_parse_populated(const char *text);

/* The value of key in a "key value" per line text (memory.events, ...) into *v; -ENOENT when
 * absent. */
int cgroup_parse_key(const char *text, const char *key, uint64_t *v);

#endif
