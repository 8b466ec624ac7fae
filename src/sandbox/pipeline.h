/*
 * The job pipeline of one sandbox: pre-build -> the work -> kill what is
 * left -> post-build. Used by bob build's slots (the work: the job's
 * stages), sandbox shell (an interactive shell) and sandbox run (a command,
 * without pre- and post-build). The caller supplies the work as a callback
 * and says when it is over; the pipeline owns the pre/post-build and every
 * kill of the work's processes, and keeps the order: a kill started during
 * the work ends before the work goes on or the post-build begins. Kills
 * go through the kernel's boundaries (pid namespace, cgroup), never a scan
 * of /proc.
 */
#ifndef BOB_PIPELINE_H
#define BOB_PIPELINE_H

#include <stdbool.h>
#include <sys/types.h>

#include "platform/cgroup.h"
#include "sandbox/sandbox.h"

enum pipeline_step {
    PIPELINE_IDLE, /* not started */
    PIPELINE_PRE,  /* pre-build */
    PIPELINE_WORK, /* the caller's work */
    PIPELINE_KILL, /* killing what the work left */
    PIPELINE_POST, /* post-build */
    PIPELINE_DONE,
};

struct pipeline;

struct pipeline_ops {
    /* A step begins (PRE, WORK, KILL, POST), for the display. May be NULL. */
    void (*step)(struct pipeline *p, enum pipeline_step step, void *data);
    /*
     * A part ended: PRE (the pre-build), KILL (any kill, also one started
     * during the work) or POST; status < 0 with e on failure. May be NULL.
     */
    void (*ended)(struct pipeline *p, enum pipeline_step step, int status, const struct err *e,
                  void *data);
    /* Runs (the next part of) the work; it ends with pipeline_work_done. */
    void (*work)(struct pipeline *p, void *data);
    /* Everything is over; the pipeline may be freed here. */
    void (*done)(struct pipeline *p, void *data);
};

/*
 * A pipeline for the sandbox at root (copied). With prepost, the pre-build
 * runs before the work and the post-build after the kill (always, even when
 * the pre-build failed); a failed pre-build skips the work.
 */
struct pipeline *pipeline_new(struct sbx_ctx *ctx, const char *root, bool prepost,
                              const struct pipeline_ops *ops, void *data);
/*
 * Starts the first step on the next pass of the loop (loop/defer.h): no
 * callback runs inside this call. Until then the step stays IDLE.
 */
void pipeline_start(struct pipeline *p);
/*
 * The cgroup the work's commands run in (NULL: none, then a kill ends the
 * process group it is given, which the launcher's pid namespace makes the
 * whole of a command). Borrowed: it must outlive the pipeline's kills.
 */
void pipeline_set_cgroup(struct pipeline *p, const struct cgroup_job *cg);
/* During the work: kills everything in the sandbox (and group pgid, if not 0), unless a kill runs.
 */
void pipeline_kill(struct pipeline *p, pid_t pgid);
/* Runs the work callback again, as soon as no kill started during the work is running. */
void pipeline_work_next(struct pipeline *p);
/*
 * The work is over: what it left is killed (group pgid too, if not 0; a
 * kill still running counts as that kill), then the post-build runs.
 */
void pipeline_work_done(struct pipeline *p, pid_t pgid);
/*
 * No post-build after the kill: the sandbox stays as the work left it
 * (bob build --keep-failed keeps a failed job's sandbox to be looked into).
 */
void pipeline_skip_post(struct pipeline *p);
/*
 * The run shuts down: a running pre-build is stopped and the work will not
 * start (a running work is the caller's to stop, with pipeline_kill). The
 * kill and the post-build still run. Before pipeline_start: only they run.
 */
void pipeline_cancel(struct pipeline *p);
enum pipeline_step pipeline_step(const struct pipeline *p);
const char *pipeline_root(const struct pipeline *p);
/* Frees it: after the done callback, or earlier to abandon what runs. */
void pipeline_free(struct pipeline *p);

#endif
