/* bob build: the bulk build command, its display, events and summary. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/build_state.h"
#include "cli/commands.h"
#include "cli/pkgplan.h"
#include "cli/pkgscan.h"
#include "cli/sbx_cmd.h"
#include "display/display.h"
#include "platform/platform.h"
#include "sandbox/build.h"
#include "util/file.h"
#include "util/json.h"

static const char build_help[] =
    "usage: bob [-c FILE] build [--format text|json] [--events FILE|-] [--dry-run] [--all]\n"
    "                           [-j N] [--keep-failed] [JOB...]\n"
    "\n"
    "Builds the jobs of the configuration (the `jobs` list) in sandboxes:\n"
    "min(options.build_threads, jobs) sandboxes are created and reused; each job\n"
    "runs its pre-build, its stages and its post-build in one of them. With JOB\n"
    "names, only those jobs and what they depend on are built.\n"
    "\n"
    "  -f, --format text|json  the summary on stdout as text (default) or one JSON object\n"
    "  -e, --events FILE|-     write a JSON line for every event to FILE (- for stdout)\n"
    "  -n, --dry-run           load, resolve and schedule, create nothing (no root\n"
    "                          needed): print the jobs in an order they would start,\n"
    "                          one per line, or with --format json one object\n"
    "                          {\"order\": [...], \"skipped\": [{\"job\", \"reason\"}]};\n"
    "                          --events is not written\n"
    "  -j, --jobs N            build N jobs at once in N sandboxes (1 to 1024): this\n"
    "                          run's options.build_threads\n"
    "  -k, --keep-failed       keep the sandbox of each failed job as the failure left\n"
    "                          it (no post-build, no further job in it) and print\n"
    "                          `bob sandbox shell ID` to enter it; the build's\n"
    "                          sandboxes then live where bob sandbox create's do,\n"
    "                          not in a mount namespace of the build's own: kept\n"
    "                          ones stay mounted until bob sandbox destroy, and a\n"
    "                          SIGKILLed build leaves its sandboxes to it too\n"
    "  -a, --all               a new build that runs every job, up to date or not;\n"
    "                          pkgsrc: also the packages whose binary package is\n"
    "                          up to date\n"
    "\n"
    "With pkgsrc.pkgpaths and no `jobs`, the pkgpaths (or the JOB... given, as\n"
    "pkgpaths) are first scanned with `bmake pbulk-index` in options.scan_threads\n"
    "sandboxes, with every pkgpath their dependencies name, and resolved as pbulk\n"
    "does; the packages whose binary package in PACKAGES/All is up to date are not\n"
    "built, the others become jobs named by their pkgpaths. --dry-run then needs\n"
    "root too (the scan runs in sandboxes); its JSON `skipped` gives the reasons.\n"
    "\n"
    "The build state is kept in <options.dbdir>/bob.db (options.dbdir = false: none).\n"
    "After an interrupt or a crash, bob build resumes the build: jobs that succeeded\n"
    "are not run again (unless their definition changed) and failures are kept\n"
    "until bob rebuild. After a build that ended, bob build starts a new one where\n"
    "jobs that succeeded before with the same definition, and whose dependencies\n"
    "are up to date, are not run: they are counted as up to date. See bob status,\n"
    "bob log, bob report.\n"
    "\n"
    "Logs: <options.logdir>/<job>/<stage>.log, kept for failed jobs, removed for\n"
    "successful ones unless options.keep_logs = true.\n"
    "On a terminal, a live display shows one row per sandbox and a status row with\n"
    "the counts and, from the recorded durations, an ETA; press v to see the last\n"
    "lines of each running job (Tab or arrows select a panel, PgUp/PgDn scroll it).\n"
    "Ctrl+C (or q) stops starting jobs and lets the\n"
    "running ones finish; a second Ctrl+C (or SIGTERM) kills them at once. The\n"
    "sandboxes are always destroyed at the end.\n"
    "\n"
    "Exit status: 0 every job succeeded, 3 some failed or were skipped, 130\n"
    "interrupted, 1 error.\n";

struct bcmd {
    struct sbx_cmd c;
    int rc;
    struct build *build;
    struct display *prog;
    FILE *events;
    bool events_is_stdout;
    bool json;
    size_t total;
    struct bstate *bs; /* the build state, or NULL (options.dbdir = false) */
    const struct bstate_opts *so;
    /* pkgsrc: the scan, then the plan that makes the jobs */
    bool pkgsrc, dry_run;
    struct strv roots;
    struct pkgscan *scan;
    struct pkgplan plan;
    bool have_plan;
    char *const *names;
    size_t nnames;
    const char *events_path;
    double t0;
    bool *in_run;      /* per cfg job: part of this run */
    double *run_start; /* per cfg job: when it started running (ms), 0 when not running */
    size_t nslots;
    const char **stage_of; /* per cfg job: the stage it was last in (the config's or static) */
    int logfd[2];          /* the locks on options.logdir (build_lock_logdir), or -1 */
};

static int build_begin(struct bcmd *bc);

/*
 * Holds options.logdir for this build: each attempt of a job starts by
 * removing its log directory, so a second build writing there would
 * remove the logs of this one's jobs. It is refused, as a second build
 * with the same database is. Two locks: one on the directory (another
 * name for it, a bind or a link, leads to the same), one on its real path
 * (plat_name_lock: the directory removed and made again while we build is
 * still ours). fd[0] and fd[1] get them, -1 for none; -1 with the error
 * said.
 */
static int build_lock_logdir(const struct config *cfg, int fd[2])
{
    struct err e;
    char *canon;
    fd[0] = fd[1] = -1;
    if (!cfg->logdir)
        return 0;
    if (file_mkdir_p(cfg->logdir, 0755, 0, &e) < 0) {
        cli_error("%s", e.msg);
        return -1;
    }
    fd[0] = open(cfg->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd[0] < 0) {
        cli_error("cannot open %s: %s", cfg->logdir, strerror(errno));
        return -1;
    }
    canon = realpath(cfg->logdir, NULL);
    fd[1] = canon ? plat_name_lock("logdir", canon, false) : -1;
    free(canon);
    if (flock(fd[0], LOCK_EX | LOCK_NB) != 0 || fd[1] == -EWOULDBLOCK) {
        cli_error("another bob is building with its logs in %s (options.logdir): wait for it or "
                  "stop it",
                  cfg->logdir);
        close(fd[0]);
        if (fd[1] >= 0)
            close(fd[1]);
        fd[0] = fd[1] = -1;
        return -1;
    }
    if (fd[1] < 0)
        fd[1] = -1; /* no such lock here: the directory's holds */
    return 0;
}

/*
 * Starts one event line, {"event":..., "time":..., then the caller's
 * members: false (nothing started) without --events.
 */
static bool event_begin(struct bcmd *bc, struct json *j, const char *event)
{
    if (!bc->events)
        return false;
    json_init(j, bc->events, false);
    json_object_begin(j, NULL);
    json_string(j, "event", event);
    json_fixed(j, "time", (bc->build ? build_elapsed_ms(bc->build) : now_ms() - bc->t0) / 1000.0,
               3);
    return true;
}

/* Ends the event line and flushes it, so that a reader sees each event as it happens. */
static void event_end(struct bcmd *bc, struct json *j)
{
    json_object_end(j);
    fputc('\n', bc->events);
    fflush(bc->events);
}

static void on_sandboxes(void *data, const unsigned *ids, size_t n, bool created)
{
    struct bcmd *bc = data;
    struct json j;
    for (size_t i = 0; i < n; i++)
        if (event_begin(bc, &j, created ? "sandbox_created" : "sandbox_destroyed")) {
            json_uint(&j, "sandbox", ids[i]);
            event_end(bc, &j);
        }
}

/*
 * The ETA of the status row: what is left of the recorded durations (the
 * last success of each job) of the jobs of this run, those running less
 * their elapsed time, shared among the sandboxes. No history: none.
 */
static double build_eta(void *data, double now)
{
    struct bcmd *bc = data;
    const struct build_plan *plan = bc->bs ? bstate_plan(bc->bs) : NULL;
    const struct build_result *r;
    double left = 0;
    if (!plan || !plan->weight || !bc->build || !bc->in_run || !bc->nslots)
        return -1;
    r = build_results(bc->build);
    for (size_t j = 0; j < bc->c.cfg.njobs; j++) {
        double w = plan->weight[j] * 1000;
        if (!bc->in_run[j] || r[j].settled || r[j].state != JOB_PENDING)
            continue;
        if (bc->run_start[j] > 0)
            w = w > now - bc->run_start[j] ? w - (now - bc->run_start[j]) : 0;
        left += w;
    }
    return left / (double)bc->nslots;
}

static void on_job_started(void *data, size_t slot, unsigned sandbox, const struct job *j)
{
    struct bcmd *bc = data;
    struct json w;
    if (bc->run_start)
        bc->run_start[j - bc->c.cfg.jobs] = now_ms();
    display_slot_start(bc->prog, slot, sandbox, j->name);
    if (event_begin(bc, &w, "job_started")) {
        json_string(&w, "job", j->name);
        json_uint(&w, "sandbox", sandbox);
        event_end(bc, &w);
    }
}

static void on_stage_started(void *data, size_t slot, const struct job *j, const char *stage,
                             const struct capture *output)
{
    struct bcmd *bc = data;
    /* The stage a kill interrupts: the post-build that follows it is not. */
    if (bc->stage_of && (output || strcmp(stage, "post-build") != 0))
        bc->stage_of[j - bc->c.cfg.jobs] = stage;
    display_slot_stage(bc->prog, slot, stage);
    struct json w;
    display_slot_output(bc->prog, slot, output);
    if (event_begin(bc, &w, "stage_started")) {
        json_string(&w, "job", j->name);
        json_string(&w, "stage", stage);
        event_end(bc, &w);
    }
}

static void on_job_output(void *data, size_t slot)
{
    struct bcmd *bc = data;
    display_slot_touch(bc->prog, slot);
}

/* The job_finished event: its status, and for a failure the stage, log and reason. */
static void event_job_finished(struct bcmd *bc, const struct build_result *r, const char *status)
{
    struct json j;
    if (!event_begin(bc, &j, "job_finished"))
        return;
    json_string(&j, "job", r->job->name);
    json_string(&j, "status", status);
    if (strcmp(status, "interrupted") == 0 && bc->stage_of && bc->stage_of[r->job - bc->c.cfg.jobs])
        json_string(&j, "stage", bc->stage_of[r->job - bc->c.cfg.jobs]);
    if (strcmp(status, "failed") == 0) {
        json_string(&j, "stage", r->stage ? r->stage : "");
        json_string(&j, "log", r->log ? r->log : "");
        json_string(&j, "reason", r->reason ? r->reason : "");
    }
    json_fixed(&j, "elapsed", r->ms / 1000.0, 3);
    event_end(bc, &j);
}

static void on_job_finished(void *data, size_t slot, const struct build_result *r)
{
    struct bcmd *bc = data;
    char d[32], detail[256];
    if (bc->run_start)
        bc->run_start[r->job - bc->c.cfg.jobs] = 0;
    fmt_duration(d, sizeof(d), r->ms);
    display_slot_output(bc->prog, slot, NULL);
    display_slot_idle(bc->prog, slot);
    if (r->interrupted) {
        event_job_finished(bc, r, "interrupted");
        return;
    }
    if (r->state == JOB_SUCCEEDED) {
        display_finished(bc->prog, true, r->job->name, d);
        event_job_finished(bc, r, "succeeded");
        return;
    }
    snprintf(detail, sizeof(detail), "%s, %s", r->stage, d);
    display_finished(bc->prog, false, r->job->name, detail);
    event_job_finished(bc, r, "failed");
}

static void on_job_skipped(void *data, const struct build_result *r)
{
    struct bcmd *bc = data;
    struct json j;
    display_skipped(bc->prog, r->job->name, r->reason);
    if (event_begin(bc, &j, "job_skipped")) {
        json_string(&j, "job", r->job->name);
        json_string(&j, "reason", r->reason ? r->reason : "");
        if (r->blocker)
            json_string(&j, "blocker", r->blocker->name);
        else
            json_null(&j, "blocker");
        event_end(bc, &j);
    }
}

static void on_note(void *data, const char *event, const char *text)
{
    struct bcmd *bc = data;
    struct json j;
    display_set_note(bc->prog, text);
    if (event_begin(bc, &j,
                    strcmp(event, "stopping") == 0   ? "run_stopping"
                    : strcmp(event, "shutdown") == 0 ? "run_shutdown"
                                                     : "cleanup")) {
        json_string(&j, "text", text ? text : "");
        event_end(bc, &j);
    }
}

static int summary(struct bcmd *bc);
static void event_not_started(struct bcmd *bc);

/* Whether a job of this run started (a build whose sandboxes could not be made ran none). */
static bool build_ran(const struct bcmd *bc)
{
    const struct build_result *r = build_results(bc->build);
    for (size_t i = 0; i < build_nresults(bc->build); i++)
        if (!r[i].settled && (r[i].state != JOB_PENDING || r[i].interrupted))
            return true;
    return false;
}

/* The build is over: tear the display down, print the summary, close what is left. */
static void on_finished(void *data)
{
    struct bcmd *bc = data;
    log_set_hook(NULL, NULL);
    display_free(bc->prog);
    bc->prog = NULL;
    if (build_error(bc->build) && !build_ran(bc)) {
        /* Nothing ran (the sandboxes could not be made): an error, not a summary. */
        struct json j;
        cli_error("%s", build_error(bc->build));
        if (event_begin(bc, &j, "run_finished")) {
            json_int(&j, "build", bc->bs ? (long long)bstate_id(bc->bs) : 0);
            json_string(&j, "error", build_error(bc->build));
            json_fixed(&j, "elapsed", build_elapsed_ms(bc->build) / 1000.0, 3);
            event_end(bc, &j);
        }
        bc->rc = EXIT_ERROR;
    } else if (build_error(bc->build)) {
        cli_error("%s", build_error(bc->build));
        event_not_started(bc);
        summary(bc);
        bc->rc = EXIT_ERROR;
    } else {
        event_not_started(bc);
        bc->rc = summary(bc);
    }
    build_free(bc->build);
    bc->build = NULL;
    /* No signal reaches a build that is gone. */
    bc->c.end_state = runstate_get(bc->c.rs);
    runstate_free(bc->c.rs);
    bc->c.rs = NULL;
}

static void on_signal(enum run_state state, int signum, void *data)
{
    struct bcmd *bc = data;
    if (bc->scan)
        pkgscan_stop(bc->scan, state == RUN_SHUTDOWN);
    else if (bc->build)
        build_stop(bc->build, state == RUN_SHUTDOWN);
}

/* Warnings go above the live region instead of through it. */
static void on_log(const char *line, void *data)
{
    struct bcmd *bc = data;
    display_message(bc->prog, line);
}

/* "1 job", "2 jobs": a count and a noun made plural as English does here (an added s). */
static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* What became of cfg job i in this run. */
enum outcome { O_NONE, O_SUCCEEDED, O_UPTODATE, O_FAILED, O_SKIPPED, O_INTERRUPTED };

static enum outcome outcome_of(const struct bcmd *bc, const struct build_result *r, size_t i)
{
    if (!bc->in_run || !bc->in_run[i])
        return O_NONE;
    if (r[i].interrupted)
        return O_INTERRUPTED;
    switch (r[i].state) {
    case JOB_SUCCEEDED:
        return r[i].settled && bc->bs && bstate_uptodate(bc->bs, i) ? O_UPTODATE : O_SUCCEEDED;
    case JOB_FAILED:
        return O_FAILED;
    case JOB_SKIPPED:
        return O_SKIPPED;
    default:
        /* Never started: the build was interrupted (or could not run at all). */
        return O_INTERRUPTED;
    }
}

/* The job_finished events of the jobs an interrupt kept from starting. */
static void event_not_started(struct bcmd *bc)
{
    const struct build_result *r = bc->build ? build_results(bc->build) : NULL;
    size_t n = bc->build ? build_nresults(bc->build) : 0;
    struct json j;
    for (size_t i = 0; i < n; i++) {
        if (outcome_of(bc, r, i) != O_INTERRUPTED || r[i].interrupted)
            continue;
        if (!event_begin(bc, &j, "job_finished"))
            return;
        json_string(&j, "job", r[i].job->name);
        json_string(&j, "status", "interrupted");
        json_string(&j, "reason", "not started");
        json_fixed(&j, "elapsed", 0, 3);
        event_end(bc, &j);
    }
}

/*
 * Prints the summary (text or JSON) on stdout; returns the exit status. Up to
 * date are both the jobs the state settled and the packages the pkgsrc plan
 * left out; skipped are also the packages the plan could not build;
 * interrupted are the jobs a shutdown killed and those an interrupt kept
 * from starting.
 */
static int summary(struct bcmd *bc)
{
    const struct build_result *r = bc->build ? build_results(bc->build) : NULL;
    size_t n = bc->build ? build_nresults(bc->build) : 0;
    size_t count[O_INTERRUPTED + 1] = {0};
    long long id = bc->bs ? (long long)bstate_id(bc->bs) : 0;
    bool intr = bc->build && build_interrupted(bc->build);
    double secs = (bc->build ? build_elapsed_ms(bc->build) : now_ms() - bc->t0) / 1000.0;
    const struct strv *pskip = bc->have_plan ? &bc->plan.skipped : NULL;
    const struct strv *pwhy = bc->have_plan ? &bc->plan.reasons : NULL;
    const struct strv *utd = bc->have_plan ? &bc->plan.uptodate : NULL;
    size_t pre = pskip ? pskip->n : 0, putd = utd ? utd->n : 0, total;
    size_t ok, failed, skipped, uptodate, interrupted;
    struct json j;
    char d[32];

    for (size_t i = 0; i < n; i++)
        count[outcome_of(bc, r, i)]++;
    ok = count[O_SUCCEEDED];
    failed = count[O_FAILED];
    skipped = count[O_SKIPPED] + pre;
    uptodate = count[O_UPTODATE] + putd;
    interrupted = count[O_INTERRUPTED];
    total = ok + failed + skipped + uptodate + interrupted;
    if (event_begin(bc, &j, "run_finished")) {
        json_int(&j, "build", id);
        json_uint(&j, "jobs", total);
        json_uint(&j, "succeeded", ok);
        json_uint(&j, "failed", failed);
        json_uint(&j, "skipped", skipped);
        json_uint(&j, "up_to_date", uptodate);
        json_uint(&j, "interrupted_jobs", interrupted);
        json_bool(&j, "interrupted", intr);
        json_fixed(&j, "elapsed", secs, 3);
        event_end(bc, &j);
    }
    if (bc->json) {
        static const struct {
            const char *key;
            enum outcome o;
        } lists[] = {{"succeeded", O_SUCCEEDED},
                     {"failed", O_FAILED},
                     {"skipped", O_SKIPPED},
                     {"up_to_date", O_UPTODATE},
                     {"interrupted_jobs", O_INTERRUPTED}};
        json_init(&j, stdout, false);
        json_object_begin(&j, NULL);
        json_int(&j, "build", id);
        for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
            json_array_begin(&j, lists[l].key);
            for (size_t i = 0; i < n; i++)
                if (outcome_of(bc, r, i) == lists[l].o)
                    json_string(&j, NULL, r[i].job->name);
            for (size_t i = 0; lists[l].o == O_SKIPPED && i < pre; i++)
                json_string(&j, NULL, pskip->v[i]);
            for (size_t i = 0; lists[l].o == O_UPTODATE && i < putd; i++)
                json_string(&j, NULL, utd->v[i]);
            json_array_end(&j);
        }
        json_array_begin(&j, "reasons");
        for (size_t i = 0; i < n; i++) {
            if (outcome_of(bc, r, i) != O_SKIPPED)
                continue;
            json_object_begin(&j, NULL);
            json_string(&j, "job", r[i].job->name);
            json_string(&j, "reason", r[i].reason ? r[i].reason : "");
            if (r[i].blocker)
                json_string(&j, "blocker", r[i].blocker->name);
            else
                json_null(&j, "blocker");
            json_object_end(&j);
        }
        for (size_t i = 0; i < pre; i++) {
            json_object_begin(&j, NULL);
            json_string(&j, "job", pskip->v[i]);
            json_string(&j, "reason", pwhy->v[i]);
            json_null(&j, "blocker");
            json_object_end(&j);
        }
        json_array_end(&j);
        json_bool(&j, "interrupted", intr);
        json_fixed(&j, "elapsed", secs, 3);
        json_array_begin(&j, "failures");
        for (size_t i = 0; i < n; i++) {
            const char *stage = r[i].stage, *reason = r[i].reason, *log = r[i].log;
            if (outcome_of(bc, r, i) != O_FAILED)
                continue;
            if (r[i].settled && bc->bs)
                bstate_failure(bc->bs, i, &stage, &reason, &log);
            json_object_begin(&j, NULL);
            json_string(&j, "job", r[i].job->name);
            json_string(&j, "stage", stage ? stage : "");
            json_string(&j, "log", log ? log : "");
            json_string(&j, "reason", reason ? reason : "");
            if (r[i].kept) /* --keep-failed */
                json_uint(&j, "kept_sandbox", r[i].kept_sandbox);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        putchar('\n');
    } else {
        fmt_duration(d, sizeof(d), secs * 1000.0);
        printf("%zu job%s in %s: %zu succeeded, %zu failed, %zu skipped", total, plural(total), d,
               ok, failed, skipped);
        if (uptodate)
            printf(", %zu up to date", uptodate);
        if (interrupted)
            printf(", %zu interrupted", interrupted);
        printf("\n");
        for (size_t i = 0; i < n; i++) {
            const char *stage = r[i].stage, *reason = r[i].reason, *log = r[i].log;
            if (outcome_of(bc, r, i) != O_FAILED)
                continue;
            if (r[i].settled && bc->bs)
                bstate_failure(bc->bs, i, &stage, &reason, &log);
            printf("  Failed %s in %s (%s%s)%s%s\n", r[i].job->name, stage ? stage : "?",
                   reason ? reason : "failed", r[i].settled ? ", kept from before" : "",
                   log ? ": " : "", log ? log : "");
        }
        for (size_t i = 0; i < n; i++)
            if (r[i].kept)
                printf("  Kept sandbox %u of %s as the failure left it: bob sandbox shell %u\n",
                       r[i].kept_sandbox, r[i].job->name, r[i].kept_sandbox);
        for (size_t i = 0; i < n; i++)
            if (outcome_of(bc, r, i) == O_SKIPPED)
                printf("  Skipped %s: %s\n", r[i].job->name, r[i].reason ? r[i].reason : "");
        for (size_t i = 0; i < pre; i++)
            printf("  Skipped %s: %s\n", pskip->v[i], pwhy->v[i]);
        for (size_t i = 0; i < n; i++) {
            const char *in = bc->stage_of ? bc->stage_of[i] : NULL;
            if (outcome_of(bc, r, i) != O_INTERRUPTED)
                continue;
            if (!r[i].interrupted)
                printf("  Interrupted %s (not started)\n", r[i].job->name);
            else
                printf("  Interrupted %s (killed%s%s)\n", r[i].job->name, in ? " in " : "",
                       in ? in : "");
        }
        if (id)
            printf("Build %lld%s (bob status, bob log JOB, bob report)\n", id,
                   intr ? " is unfinished: bob build resumes it" : "");
    }
    if (bc->bs && bstate_error(bc->bs))
        cli_error("%s", bstate_error(bc->bs));
    if (intr)
        return EXIT_INTERRUPTED;
    if (bc->bs && bstate_error(bc->bs))
        return EXIT_ERROR;
    return failed || skipped ? EXIT_JOBS_FAILED : EXIT_OK;
}

/* The dry run's skip callback: records why a job would be skipped. */
static void build_dry_skip(size_t job, size_t failed, void *data)
{
    bool *skipped = data;
    skipped[job] = true;
}

/* Prints the jobs in an order they would start (and those that would be skipped); -1 for pkgsrc. */
static int build_dry_run(struct cli *cli, bool json, char *const *names, size_t nnames)
{
    struct config cfg;
    struct sched *s;
    size_t *jobs = NULL, njobs = 0, *order, norder = 0;
    bool *skipped;
    long j;
    struct err e;
    if (cli_load_config(cli, &cfg) < 0)
        return EXIT_ERROR;
    if (cfg.njobs == 0 && cfg.has_pkgsrc && (cfg.pkgpaths.n > 0 || nnames > 0)) {
        /* pkgsrc: the jobs come from a scan, in sandboxes. */
        config_free(&cfg);
        return -1;
    }
    if (cfg.njobs == 0) {
        cli_error("No jobs to build (the configuration has no `jobs` list and no pkgsrc.pkgpaths)");
        config_free(&cfg);
        return EXIT_ERROR;
    }
    if (sched_select(&cfg, names, nnames, &jobs, &njobs, &e) < 0) {
        cli_error("%s", e.msg);
        config_free(&cfg);
        return EXIT_ERROR;
    }
    /* One job at a time, each succeeding: the order of the scheduler's choices. */
    s = sched_new(&cfg, jobs, njobs);
    order = xcalloc(njobs ? njobs : 1, sizeof(*order));
    skipped = xcalloc(cfg.njobs, sizeof(*skipped));
    while ((j = sched_next(s)) >= 0) {
        order[norder++] = (size_t)j;
        sched_done(s, (size_t)j, true, build_dry_skip, skipped);
    }
    if (json) {
        struct json w;
        json_init(&w, stdout, false);
        json_object_begin(&w, NULL);
        json_array_begin(&w, "order");
        for (size_t i = 0; i < norder; i++)
            json_string(&w, NULL, cfg.jobs[order[i]].name);
        json_array_end(&w);
        json_array_begin(&w, "skipped");
        for (size_t i = 0; i < njobs; i++) {
            if (sched_state(s, jobs[i]) == JOB_SUCCEEDED)
                continue;
            json_object_begin(&w, NULL);
            json_string(&w, "job", cfg.jobs[jobs[i]].name);
            json_string(&w, "reason", skipped[jobs[i]] ? "a dependency fails" : "never ready");
            json_object_end(&w);
        }
        json_array_end(&w);
        json_object_end(&w);
        putchar('\n');
    } else {
        for (size_t i = 0; i < norder; i++)
            printf("%s\n", cfg.jobs[order[i]].name);
    }
    sched_free(s);
    free(order);
    free(skipped);
    free(jobs);
    config_free(&cfg);
    return EXIT_OK;
}

/* Prints the plan of a pkgsrc dry run: the jobs in an order they would start, and the rest. */
static void build_dry_plan(struct bcmd *bc)
{
    struct config *cfg = &bc->c.cfg;
    size_t *all = xcalloc(cfg->njobs + 1, sizeof(size_t)), norder = 0;
    size_t *order = xcalloc(cfg->njobs + 1, sizeof(size_t));
    struct sched *s;
    long j;

    for (size_t i = 0; i < cfg->njobs; i++)
        all[i] = i;
    s = sched_new(cfg, all, cfg->njobs);
    while ((j = sched_next(s)) >= 0) {
        order[norder++] = (size_t)j;
        sched_done(s, (size_t)j, true, NULL, NULL);
    }
    if (bc->json) {
        struct json w;
        json_init(&w, stdout, false);
        json_object_begin(&w, NULL);
        json_array_begin(&w, "order");
        for (size_t i = 0; i < norder; i++)
            json_string(&w, NULL, cfg->jobs[order[i]].name);
        json_array_end(&w);
        json_array_begin(&w, "skipped");
        for (size_t i = 0; i < bc->plan.skipped.n; i++) {
            json_object_begin(&w, NULL);
            json_string(&w, "job", bc->plan.skipped.v[i]);
            json_string(&w, "reason", bc->plan.reasons.v[i]);
            json_object_end(&w);
        }
        for (size_t i = 0; i < bc->plan.uptodate.n; i++) {
            json_object_begin(&w, NULL);
            json_string(&w, "job", bc->plan.uptodate.v[i]);
            json_string(&w, "reason", "up to date");
            json_object_end(&w);
        }
        json_array_end(&w);
        json_object_end(&w);
        putchar('\n');
    } else {
        for (size_t i = 0; i < norder; i++)
            printf("%s\n", cfg->jobs[order[i]].name);
    }
    sched_free(s);
    free(order);
    free(all);
}

/* No build follows: let the loop end. */
static void build_no_build(struct bcmd *bc)
{
    bc->c.end_state = runstate_get(bc->c.rs);
    runstate_free(bc->c.rs);
    bc->c.rs = NULL;
}

/* The scan is over: resolve, decide what is up to date, make the jobs, then build them. */
static void on_scan_done(struct pkgscan *ps, void *data)
{
    struct bcmd *bc = data;
    struct pkgscan_result *res = pkgscan_result(ps);
    struct err e;

    bc->scan = NULL;
    if (res->interrupted) {
        fprintf(stderr, "Interrupted during the scan\n");
        bc->rc = EXIT_INTERRUPTED;
        goto out;
    }
    if (res->error) {
        cli_error("scan: %s", res->error);
        bc->rc = EXIT_ERROR;
        goto out;
    }
    log_debug("scan: %zu package paths scanned, %zu packages, %zu failed; PACKAGES is %s",
              res->scanned, res->index.n, res->failed.n, res->packages ? res->packages : "unknown");
    if (pkgplan_make(&bc->c.cfg, res, &bc->roots, bc->so->all, &bc->plan, &e) < 0) {
        bc->have_plan = true;
        cli_error("%s", e.msg);
        bc->rc = EXIT_ERROR;
        goto out;
    }
    bc->have_plan = true;
    fprintf(stderr, "Scanned %zu package path%s: %zu to build, %zu up to date, %zu skipped\n",
            res->scanned, plural(res->scanned), bc->plan.nbuild, bc->plan.uptodate.n,
            bc->plan.skipped.n);
    if (bc->dry_run) {
        build_dry_plan(bc);
        bc->rc = EXIT_OK;
        goto out;
    }
    pkgscan_free(ps);
    if (build_begin(bc) != EXIT_OK)
        build_no_build(bc);
    return;
out:
    pkgscan_free(ps);
    build_no_build(bc);
}

/* Opens the build state for the jobs (rebuild JOB...: those are retried); 0 or EXIT_ERROR. */
static int build_open_state(struct bcmd *bc, const size_t *jobs, size_t njobs)
{
    const struct bstate_opts *so = bc->so;
    struct bstate_opts o = *so;
    bool *retry = NULL;
    struct err e;
    int rc;

    o.fresh = bc->pkgsrc;

    /* rebuild JOB...: those are retried (their dependents follow unless --only). */
    if (so->nretry) {
        size_t *sel = NULL, nsel = 0;
        if (sched_select(&bc->c.cfg, so->retry_names, so->nretry, &sel, &nsel, &e) < 0) {
            cli_error("%s", e.msg);
            return EXIT_ERROR;
        }
        free(sel);
        retry = xcalloc(bc->c.cfg.njobs + 1, sizeof(*retry));
        for (size_t j = 0; j < bc->c.cfg.njobs; j++)
            for (size_t k = 0; k < so->nretry; k++)
                if (strcmp(bc->c.cfg.jobs[j].name, so->retry_names[k]) == 0)
                    retry[j] = true;
        o.retry = retry;
    }
    rc = bstate_open(&bc->c.cfg, &bc->c.loop, jobs, njobs, &o, &bc->bs, &e);
    free(retry);
    if (rc < 0) {
        cli_error("%s", e.msg);
        return EXIT_ERROR;
    }
    return 0;
}

/*
 * Starts the build of the jobs (the config's, or those of the pkgsrc plan),
 * recorded in the build state; EXIT_OK, or else the loop must be ended.
 */
static int build_begin(struct bcmd *bc)
{
    struct display_opts po = {0};
    struct build_observer obs = {on_sandboxes,  on_job_started,  on_stage_started,
                                 on_job_output, on_job_finished, on_job_skipped,
                                 on_note,       on_finished,     bc};
    struct build_observer rec;
    size_t *jobs = NULL, njobs = 0;
    struct json ev;
    struct err e;

    /* pkgsrc: the names were pkgpaths, the plan's jobs are all to be built. */
    if (sched_select(&bc->c.cfg, bc->pkgsrc ? NULL : bc->names, bc->pkgsrc ? 0 : bc->nnames, &jobs,
                     &njobs, &e) < 0) {
        cli_error("%s", e.msg);
        return bc->rc = EXIT_ERROR;
    }
    free(bc->in_run);
    free(bc->run_start);
    bc->in_run = xcalloc(bc->c.cfg.njobs + 1, sizeof(*bc->in_run));
    bc->run_start = xcalloc(bc->c.cfg.njobs + 1, sizeof(*bc->run_start));
    for (size_t i = 0; i < njobs; i++)
        bc->in_run[jobs[i]] = true;
    free(bc->stage_of);
    bc->stage_of = xcalloc(bc->c.cfg.njobs + 1, sizeof(*bc->stage_of));
    if (!bc->c.cfg.nostate && njobs > 0 && build_open_state(bc, jobs, njobs) != 0) {
        free(jobs);
        return bc->rc = EXIT_ERROR;
    }
    if (njobs > 0 && bc->logfd[0] < 0 && build_lock_logdir(&bc->c.cfg, bc->logfd) < 0) {
        free(jobs);
        return bc->rc = EXIT_ERROR;
    }
    if (bc->events_path) {
        bc->events_is_stdout = strcmp(bc->events_path, "-") == 0;
        bc->events = bc->events_is_stdout ? stdout : fopen(bc->events_path, "w");
        if (!bc->events) {
            cli_error("cannot write events to %s: %s", bc->events_path, strerror(errno));
            free(jobs);
            return bc->rc = EXIT_ERROR;
        }
    }
    for (size_t i = 0; bc->have_plan && i < bc->plan.skipped.n; i++)
        if (event_begin(bc, &ev, "job_skipped")) {
            json_string(&ev, "job", bc->plan.skipped.v[i]);
            json_string(&ev, "reason", bc->plan.reasons.v[i]);
            event_end(bc, &ev);
        }
    for (size_t i = 0; bc->have_plan && i < bc->plan.uptodate.n; i++)
        if (event_begin(bc, &ev, "job_up_to_date")) {
            json_string(&ev, "job", bc->plan.uptodate.v[i]);
            event_end(bc, &ev);
        }
    if (njobs == 0 && bc->pkgsrc) {
        /* Everything is up to date or skipped: no sandbox is made. */
        bc->rc = summary(bc);
        free(jobs);
        return EXIT_ERROR; /* not an error: the caller ends the loop */
    }
    po.loop = &bc->c.loop;
    po.fd = 2;
    po.tty = isatty(2) && bc->c.cfg.tui;
    po.key_fd = isatty(0) ? 0 : -1;
    po.nslots = njobs < bc->c.cfg.build_threads ? njobs : bc->c.cfg.build_threads;
    po.title = "Building";
    po.status_ms = bc->c.cfg.status_interval * 1000;
    if (bc->bs) {
        bstate_wrap(bc->bs, &obs, &rec);
        bc->build = build_start_plan(&bc->c.ctx, jobs, njobs, bstate_plan(bc->bs), &rec);
        bstate_started(bc->bs, bc->build);
    } else {
        bc->build = build_start(&bc->c.ctx, jobs, njobs, &obs);
    }
    bc->prog = display_new(&po);
    {
        /* The progress counts the jobs this run may start, not the settled ones. */
        const struct build_result *r = build_results(bc->build);
        size_t settled = 0, uptodate = 0;
        for (size_t i = 0; bc->bs && i < njobs; i++) {
            settled += r[jobs[i]].settled;
            uptodate += r[jobs[i]].settled && r[jobs[i]].state == JOB_SUCCEEDED;
        }
        display_set_total(bc->prog, njobs - settled);
        display_set_uptodate(bc->prog, uptodate);
        bc->nslots = po.nslots;
        display_set_eta(bc->prog, build_eta, bc);
    }
    log_set_hook(on_log, bc);
    if (event_begin(bc, &ev, "run_started")) {
        json_int(&ev, "build", bc->bs ? (long long)bstate_id(bc->bs) : 0);
        json_uint(&ev, "jobs", njobs);
        json_uint(&ev, "sandboxes", po.nslots);
        event_end(bc, &ev);
    }
    free(jobs);
    return EXIT_OK;
}

static int build_run(struct cli *cli, const char *what, bool json, const char *events,
                     char *const *names, size_t nnames, const struct bstate_opts *so, bool dry_run,
                     unsigned long threads, bool keep_failed);

int cmd_build(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
                                             {"format", required_argument, NULL, 'f'},
                                             {"events", required_argument, NULL, 'e'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"all", no_argument, NULL, 'a'},
                                             {"jobs", required_argument, NULL, 'j'},
                                             {"keep-failed", no_argument, NULL, 'k'},
                                             {NULL, 0, NULL, 0}};
    const char *format = "text", *events = NULL;
    unsigned long threads = 0;
    bool dry_run = false, keep_failed = false;
    struct bstate_opts so = {0};
    struct strv names = {0};
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob build", argc, argv, ":" CLI_COMMON_SHORTOPTS "f:e:naj:k",
                            longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'f':
            format = optarg;
            continue;
        case 'e':
            events = optarg;
            continue;
        case 'n':
            dry_run = true;
            continue;
        case 'a':
            so.all = true;
            continue;
        case 'k':
            keep_failed = true;
            continue;
        case 'j':
            if (!cli_parse_count(optarg, 1024, &threads)) {
                fprintf(stderr, "bob build: -j needs a number from 1 to 1024, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            continue;
        case CLI_OPT_HELP:
            fputs(build_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) {
        fprintf(stderr, "bob build: --format must be text or json, not '%s'\n", format);
        return EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++)
        strv_push(&names, argv[i]);
    if (dry_run) {
        rc = build_dry_run(cli, strcmp(format, "json") == 0, names.v, names.n);
        if (rc == -1) /* pkgsrc: the dry run scans, in sandboxes */
            rc = build_run(cli, "bob build", strcmp(format, "json") == 0, NULL, names.v, names.n,
                           &so, true, threads, false);
    } else {
        rc = build_run(cli, "bob build", strcmp(format, "json") == 0, events, names.v, names.n, &so,
                       false, threads, keep_failed);
    }
    strv_free(&names);
    return rc;
}

int cmd_build_run(struct cli *cli, const char *what, bool json, const char *events,
                  char *const *names, size_t nnames, const struct bstate_opts *so)
{
    return build_run(cli, what, json, events, names, nnames, so, false, 0, false);
}

/*
 * cmd_build_run, or with dry_run the pkgsrc dry run (a scan, then the plan
 * printed); threads, when not 0, is this run's options.build_threads (-j).
 */
static int build_run(struct cli *cli, const char *what, bool json, const char *events,
                     char *const *names, size_t nnames, const struct bstate_opts *so, bool dry_run,
                     unsigned long threads, bool keep_failed)
{
    struct bcmd bc;
    struct err e;
    int rc;

    memset(&bc, 0, sizeof(bc));
    bc.logfd[0] = bc.logfd[1] = -1;
    bc.json = json;
    bc.so = so;
    bc.dry_run = dry_run;
    bc.names = names;
    bc.nnames = nnames;
    bc.events_path = dry_run ? NULL : events;
    bc.t0 = now_ms();
    if ((rc = sbx_cmd_init(&bc.c, cli, what, CTX_BUILD)) != EXIT_OK)
        return rc;
    if (threads)
        bc.c.cfg.build_threads = (unsigned)threads;
    rc = EXIT_ERROR;
    bc.pkgsrc = bc.c.cfg.njobs == 0 && bc.c.cfg.has_pkgsrc;
    if (bc.pkgsrc) {
        const struct strv *src = &bc.c.cfg.pkgpaths;
        size_t n = nnames ? nnames : src->n;
        for (size_t i = 0; i < n; i++) {
            const char *p = nnames ? names[i] : src->v[i];
            const char *why = pkgplan_pkgpath_error(p);
            if (why) {
                cli_error("invalid pkgpath '%s': %s", p, why);
                goto out;
            }
            if (!strv_contains(&bc.roots, p))
                strv_push(&bc.roots, p);
        }
    }
    if (bc.c.cfg.njobs == 0 && !(bc.pkgsrc && bc.roots.n > 0)) {
        cli_error("No jobs to build (the configuration has no `jobs` list and no pkgsrc.pkgpaths)");
        goto out;
    }
    /*
     * The build's mounts are its own: they go with it, even on SIGKILL.
     * With --keep-failed they live where bob sandbox create's do, so that a
     * kept sandbox still works after the build, at the price that a
     * SIGKILLed build leaves them for bob sandbox destroy -a.
     */
    bc.c.ctx.keep_failed = keep_failed;
    if (!keep_failed) {
        if (plat_own_mount_ns(&e) < 0) {
            cli_error("%s", e.msg);
            goto out;
        }
        bc.c.ctx.own_mount_ns = true;
    }
    if ((rc = sbx_cmd_watch(&bc.c, false, on_signal, &bc)) != EXIT_OK)
        goto out;
    if (bc.pkgsrc)
        bc.scan =
            pkgscan_start(&bc.c, &bc.roots, isatty(2) && bc.c.cfg.tui, false, on_scan_done, &bc);
    else if ((rc = build_begin(&bc)) != EXIT_OK)
        goto out;
    sbx_cmd_run_loop(&bc.c);
    rc = bc.rc;
out:
    if (bc.events && !bc.events_is_stdout)
        fclose(bc.events);
    for (int i = 0; i < 2; i++)
        if (bc.logfd[i] >= 0)
            close(bc.logfd[i]);
    pkgscan_free(bc.scan);
    if (bc.have_plan)
        pkgplan_free(&bc.plan);
    strv_free(&bc.roots);
    free(bc.in_run);
    free(bc.run_start);
    free(bc.stage_of);
    bstate_free(bc.bs);
    sbx_cmd_free(&bc.c);
    return rc;
}
