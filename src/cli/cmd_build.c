/* bob build: the bulk build command, its display, events and summary. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/pkgplan.h"
#include "cli/pkgscan.h"
#include "cli/sbx_cmd.h"
#include "display/display.h"
#include "platform/platform.h"
#include "sandbox/build.h"

static const char build_help[] =
    "usage: bob [-c FILE] build [--format text|json] [--events FILE|-] [--dry-run] [--all]\n"
    "                           [JOB...]\n"
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
    "  -a, --all               pkgsrc: build every package, also those up to date\n"
    "\n"
    "With pkgsrc.pkgpaths and no `jobs`, the pkgpaths (or the JOB... given, as\n"
    "pkgpaths) are first scanned with `bmake pbulk-index` in options.scan_threads\n"
    "sandboxes, with every pkgpath their dependencies name, and resolved as pbulk\n"
    "does; the packages whose binary package in PACKAGES/All is up to date are not\n"
    "built, the others become jobs named by their pkgpaths. --dry-run then needs\n"
    "root too (the scan runs in sandboxes); its JSON `skipped` gives the reasons.\n"
    "\n"
    "Logs: <options.logdir>/<job>/<stage>.log, kept for failed jobs, removed for\n"
    "successful ones unless options.keep_logs = true.\n"
    "On a terminal, a live display shows one row per sandbox; press v to see the\n"
    "last lines of each running job. Ctrl+C stops starting jobs and lets the\n"
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
    /* pkgsrc: the scan, then the plan that makes the jobs */
    bool pkgsrc, dry_run, all;
    struct strv roots;
    struct pkgscan *scan;
    struct pkgplan plan;
    bool have_plan;
    struct strv names;
    const char *events_path;
    double t0;
};

static int build_begin(struct bcmd *bc);

/* Writes one event line: {"event":..., "time":..., <extra members>}. */
static void emit(struct bcmd *bc, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void emit(struct bcmd *bc, const char *event, const char *fmt, ...)
{
    va_list ap;
    if (!bc->events)
        return;
    fprintf(bc->events, "{\"event\":\"%s\",\"time\":%.3f", event,
            (bc->build ? build_elapsed_ms(bc->build) : now_ms() - bc->t0) / 1000.0);
    if (fmt && *fmt) {
        fputc(',', bc->events);
        va_start(ap, fmt);
        vfprintf(bc->events, fmt, ap);
        va_end(ap);
    }
    fputs("}\n", bc->events);
    fflush(bc->events);
}

/* A ring of JSON strings made by js(), for emit's arguments. */
static char *js_ring[8];
static int js_next;

/* s as a JSON string (NULL as ""), valid for the next 7 calls. */
static const char *js(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_write_str(f, s ? s : "");
    fclose(f);
    free(js_ring[js_next]);
    js_ring[js_next] = buf;
    js_next = (js_next + 1) % 8;
    return buf;
}

static void js_free(void)
{
    for (int i = 0; i < 8; i++) {
        free(js_ring[i]);
        js_ring[i] = NULL;
    }
}

static void on_sandboxes(void *data, const unsigned *ids, size_t n, bool created)
{
    struct bcmd *bc = data;
    for (size_t i = 0; i < n; i++)
        emit(bc, created ? "sandbox_created" : "sandbox_destroyed", "\"sandbox\":%u", ids[i]);
}

static void on_job_started(void *data, size_t slot, unsigned sandbox, const struct job *j)
{
    struct bcmd *bc = data;
    display_slot_start(bc->prog, slot, sandbox, j->name);
    emit(bc, "job_started", "\"job\":%s,\"sandbox\":%u", js(j->name), sandbox);
}

static void on_stage_started(void *data, size_t slot, const struct job *j, const char *stage,
                             const struct capture *output)
{
    struct bcmd *bc = data;
    display_slot_stage(bc->prog, slot, stage);
    display_slot_output(bc->prog, slot, output);
    emit(bc, "stage_started", "\"job\":%s,\"stage\":%s", js(j->name), js(stage));
}

static void on_job_output(void *data, size_t slot)
{
    struct bcmd *bc = data;
    display_slot_touch(bc->prog, slot);
}

static void on_job_finished(void *data, size_t slot, const struct build_result *r)
{
    struct bcmd *bc = data;
    char d[32], detail[256];
    fmt_duration(d, sizeof(d), r->ms);
    display_slot_output(bc->prog, slot, NULL);
    display_slot_idle(bc->prog, slot);
    if (r->interrupted) {
        emit(bc, "job_finished", "\"job\":%s,\"status\":\"interrupted\",\"elapsed\":%.3f",
             js(r->job->name), r->ms / 1000.0);
        return;
    }
    if (r->state == JOB_SUCCEEDED) {
        display_finished(bc->prog, true, r->job->name, d);
        emit(bc, "job_finished", "\"job\":%s,\"status\":\"succeeded\",\"elapsed\":%.3f",
             js(r->job->name), r->ms / 1000.0);
        return;
    }
    snprintf(detail, sizeof(detail), "%s, %s", r->stage, d);
    display_finished(bc->prog, false, r->job->name, detail);
    emit(bc, "job_finished",
         "\"job\":%s,\"status\":\"failed\",\"stage\":%s,\"log\":%s,\"reason\":%s,\"elapsed\":%.3f",
         js(r->job->name), js(r->stage), js(r->log), js(r->reason), r->ms / 1000.0);
}

static void on_job_skipped(void *data, const struct build_result *r)
{
    struct bcmd *bc = data;
    display_skipped(bc->prog, r->job->name, r->reason);
    emit(bc, "job_skipped", "\"job\":%s,\"reason\":%s", js(r->job->name), js(r->reason));
}

static void on_note(void *data, const char *event, const char *text)
{
    struct bcmd *bc = data;
    display_set_note(bc->prog, text);
    emit(bc,
         strcmp(event, "stopping") == 0   ? "run_stopping"
         : strcmp(event, "shutdown") == 0 ? "run_shutdown"
                                          : "cleanup",
         "\"text\":%s", js(text));
}

static int summary(struct bcmd *bc);

/* The build is over: tear the display down, print the summary, close what is left. */
static void on_finished(void *data)
{
    struct bcmd *bc = data;
    log_set_hook(NULL, NULL);
    display_free(bc->prog);
    bc->prog = NULL;
    if (build_error(bc->build)) {
        cli_error("%s", build_error(bc->build));
        summary(bc);
        bc->rc = EXIT_ERROR;
    } else {
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

/* Prints the summary (text or JSON) on stdout; returns the exit status. */
static int summary(struct bcmd *bc)
{
    const struct build_result *r = bc->build ? build_results(bc->build) : NULL;
    size_t n = bc->build ? build_nresults(bc->build) : 0, ok = 0, failed = 0, skipped = 0,
           interrupted = 0;
    bool intr = bc->build && build_interrupted(bc->build);
    double secs = (bc->build ? build_elapsed_ms(bc->build) : now_ms() - bc->t0) / 1000.0;
    const struct strv *pskip = bc->have_plan ? &bc->plan.skipped : NULL;
    const struct strv *pwhy = bc->have_plan ? &bc->plan.reasons : NULL;
    const struct strv *utd = bc->have_plan ? &bc->plan.uptodate : NULL;
    size_t pre;
    char d[32];
    const char *sep;

    for (size_t i = 0; i < n; i++) {
        if (r[i].interrupted)
            interrupted++;
        else if (r[i].state == JOB_SUCCEEDED)
            ok++;
        else if (r[i].state == JOB_FAILED)
            failed++;
        else if (r[i].state == JOB_SKIPPED)
            skipped++;
    }
    pre = pskip ? pskip->n : 0;
    emit(bc, "run_finished",
         "\"succeeded\":%zu,\"failed\":%zu,\"skipped\":%zu,\"up_to_date\":%zu,\"interrupted\":%s,"
         "\"elapsed\":%.3f",
         ok, failed, skipped + pre, utd ? utd->n : 0, intr ? "true" : "false", secs);
    if (bc->json) {
        static const struct {
            const char *key;
            enum job_state st;
        } lists[] = {
            {"succeeded", JOB_SUCCEEDED}, {"failed", JOB_FAILED}, {"skipped", JOB_SKIPPED}};
        printf("{");
        for (size_t l = 0; l < 3; l++) {
            printf("\"%s\":[", lists[l].key);
            sep = "";
            for (size_t i = 0; i < n; i++)
                if (!r[i].interrupted && r[i].state == lists[l].st) {
                    printf("%s", sep);
                    json_write_str(stdout, r[i].job->name);
                    sep = ",";
                }
            for (size_t i = 0; lists[l].st == JOB_SKIPPED && pskip && i < pskip->n; i++) {
                printf("%s", sep);
                json_write_str(stdout, pskip->v[i]);
                sep = ",";
            }
            printf("],");
        }
        printf("\"up_to_date\":[");
        for (size_t i = 0; utd && i < utd->n; i++) {
            printf("%s", i ? "," : "");
            json_write_str(stdout, utd->v[i]);
        }
        printf("],\"reasons\":[");
        sep = "";
        for (size_t i = 0; i < n; i++) {
            if (r[i].interrupted || r[i].state != JOB_SKIPPED)
                continue;
            printf("%s{\"job\":", sep);
            json_write_str(stdout, r[i].job->name);
            printf(",\"reason\":");
            json_write_str(stdout, r[i].reason ? r[i].reason : "");
            printf("}");
            sep = ",";
        }
        for (size_t i = 0; pskip && i < pskip->n; i++) {
            printf("%s{\"job\":", sep);
            json_write_str(stdout, pskip->v[i]);
            printf(",\"reason\":");
            json_write_str(stdout, pwhy->v[i]);
            printf("}");
            sep = ",";
        }
        printf("],");
        printf("\"interrupted\":%s,\"elapsed\":%.3f,\"failures\":[", intr ? "true" : "false", secs);
        sep = "";
        for (size_t i = 0; i < n; i++) {
            if (r[i].interrupted || r[i].state != JOB_FAILED)
                continue;
            printf("%s{\"job\":", sep);
            json_write_str(stdout, r[i].job->name);
            printf(",\"stage\":");
            json_write_str(stdout, r[i].stage);
            printf(",\"log\":");
            json_write_str(stdout, r[i].log ? r[i].log : "");
            printf(",\"reason\":");
            json_write_str(stdout, r[i].reason ? r[i].reason : "");
            printf("}");
            sep = ",";
        }
        printf("]}\n");
    } else {
        fmt_duration(d, sizeof(d), secs * 1000.0);
        printf("Built %zu in %s (%zu succeeded, %zu failed, %zu skipped",
               ok + failed + skipped + pre, d, ok, failed, skipped + pre);
        if (utd && utd->n)
            printf(", %zu up to date", utd->n);
        printf(")\n");
        for (size_t i = 0; i < n; i++)
            if (!r[i].interrupted && r[i].state == JOB_FAILED)
                printf("  Failed %s in %s (%s)%s%s\n", r[i].job->name, r[i].stage,
                       r[i].reason ? r[i].reason : "failed", r[i].log ? ": " : "",
                       r[i].log ? r[i].log : "");
        for (size_t i = 0; pskip && i < pskip->n; i++)
            printf("  Skipped %s: %s\n", pskip->v[i], pwhy->v[i]);
        if (intr)
            printf("Interrupted: %zu job%s not built\n", n - ok - failed - skipped,
                   n - ok - failed - skipped == 1 ? "" : "s");
    }
    if (intr)
        return EXIT_INTERRUPTED;
    return failed || skipped || pre ? EXIT_JOBS_FAILED : EXIT_OK;
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
    const char *sep = "";
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
        printf("{\"order\":[");
        for (size_t i = 0; i < norder; i++, sep = ",") {
            printf("%s", sep);
            json_write_str(stdout, cfg.jobs[order[i]].name);
        }
        printf("],\"skipped\":[");
        sep = "";
        for (size_t i = 0; i < njobs; i++) {
            if (sched_state(s, jobs[i]) == JOB_SUCCEEDED)
                continue;
            printf("%s{\"job\":", sep);
            json_write_str(stdout, cfg.jobs[jobs[i]].name);
            printf(",\"reason\":");
            json_write_str(stdout, skipped[jobs[i]] ? "a dependency fails" : "never ready");
            printf("}");
            sep = ",";
        }
        printf("]}\n");
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
        const char *sep = "";
        printf("{\"order\":[");
        for (size_t i = 0; i < norder; i++, sep = ",") {
            printf("%s", sep);
            json_write_str(stdout, cfg->jobs[order[i]].name);
        }
        printf("],\"skipped\":[");
        sep = "";
        for (size_t i = 0; i < bc->plan.skipped.n; i++, sep = ",") {
            printf("%s{\"job\":", sep);
            json_write_str(stdout, bc->plan.skipped.v[i]);
            printf(",\"reason\":");
            json_write_str(stdout, bc->plan.reasons.v[i]);
            printf("}");
        }
        for (size_t i = 0; i < bc->plan.uptodate.n; i++, sep = ",") {
            printf("%s{\"job\":", sep);
            json_write_str(stdout, bc->plan.uptodate.v[i]);
            printf(",\"reason\":\"up to date\"}");
        }
        printf("]}\n");
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
    if (pkgplan_make(&bc->c.cfg, res, &bc->roots, bc->all, &bc->plan, &e) < 0) {
        bc->have_plan = true;
        cli_error("%s", e.msg);
        bc->rc = EXIT_ERROR;
        goto out;
    }
    bc->have_plan = true;
    fprintf(stderr, "Scanned %zu package paths: %zu to build, %zu up to date, %zu skipped\n",
            res->scanned, bc->plan.nbuild, bc->plan.uptodate.n, bc->plan.skipped.n);
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

/* Starts the build of the jobs (the config's, or those of the pkgsrc plan). */
static int build_begin(struct bcmd *bc)
{
    struct display_opts po = {0};
    struct build_observer obs = {on_sandboxes,  on_job_started,  on_stage_started,
                                 on_job_output, on_job_finished, on_job_skipped,
                                 on_note,       on_finished,     bc};
    size_t *jobs = NULL, njobs = 0;
    struct err e;

    if (!bc->pkgsrc && sched_select(&bc->c.cfg, bc->names.v, bc->names.n, &jobs, &njobs, &e) < 0) {
        cli_error("%s", e.msg);
        return bc->rc = EXIT_ERROR;
    }
    if (bc->pkgsrc && sched_select(&bc->c.cfg, NULL, 0, &jobs, &njobs, &e) < 0) {
        cli_error("%s", e.msg);
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
        emit(bc, "job_skipped", "\"job\":%s,\"reason\":%s", js(bc->plan.skipped.v[i]),
             js(bc->plan.reasons.v[i]));
    for (size_t i = 0; bc->have_plan && i < bc->plan.uptodate.n; i++)
        emit(bc, "job_up_to_date", "\"job\":%s", js(bc->plan.uptodate.v[i]));
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
    bc->build = build_start(&bc->c.ctx, jobs, njobs, &obs);
    bc->prog = display_new(&po);
    display_set_total(bc->prog, njobs);
    log_set_hook(on_log, bc);
    emit(bc, "run_started", "\"jobs\":%zu,\"sandboxes\":%zu", njobs, po.nslots);
    free(jobs);
    return EXIT_OK;
}

int cmd_build(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
                                             {"format", required_argument, NULL, 'f'},
                                             {"events", required_argument, NULL, 'e'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"all", no_argument, NULL, 'a'},
                                             {NULL, 0, NULL, 0}};
    struct bcmd bc;
    const char *format = "text", *events = NULL;
    bool dry_run = false, all = false;
    struct strv names = {0};
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob build", argc, argv, ":" CLI_COMMON_SHORTOPTS "f:e:na",
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
            all = true;
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
        if (rc != -1) {
            strv_free(&names);
            return rc;
        }
    }
    memset(&bc, 0, sizeof(bc));
    bc.json = strcmp(format, "json") == 0;
    bc.dry_run = dry_run;
    bc.all = all;
    bc.names = names;
    bc.events_path = dry_run ? NULL : events;
    bc.t0 = now_ms();
    if ((rc = sbx_cmd_init(&bc.c, cli, "bob build", CTX_BUILD)) != EXIT_OK)
        goto out;
    rc = EXIT_ERROR;
    bc.pkgsrc = bc.c.cfg.njobs == 0 && bc.c.cfg.has_pkgsrc;
    if (bc.pkgsrc) {
        const struct strv *src = names.n ? &names : &bc.c.cfg.pkgpaths;
        for (size_t i = 0; i < src->n; i++) {
            const char *why = pkgplan_pkgpath_error(src->v[i]);
            if (why) {
                cli_error("invalid pkgpath '%s': %s", src->v[i], why);
                goto out;
            }
            if (!strv_contains(&bc.roots, src->v[i]))
                strv_push(&bc.roots, src->v[i]);
        }
    }
    if (bc.c.cfg.njobs == 0 && !(bc.pkgsrc && bc.roots.n > 0)) {
        cli_error("No jobs to build (the configuration has no `jobs` list and no pkgsrc.pkgpaths)");
        goto out;
    }
    {
        struct err e;
        /* The build's mounts are its own: they go with it, even on SIGKILL. */
        if (plat_own_mount_ns(&e) < 0) {
            cli_error("%s", e.msg);
            goto out;
        }
    }
    if ((rc = sbx_cmd_watch(&bc.c, false, on_signal, &bc)) != EXIT_OK)
        goto out;
    if (bc.pkgsrc) {
        bc.scan = pkgscan_start(&bc.c, &bc.roots, isatty(2) && bc.c.cfg.tui, on_scan_done, &bc);
    } else if ((rc = build_begin(&bc)) != EXIT_OK) {
        goto out;
    }
    sbx_cmd_run_loop(&bc.c);
    rc = bc.rc;
out:
    js_free();
    if (bc.events && !bc.events_is_stdout)
        fclose(bc.events);
    pkgscan_free(bc.scan);
    if (bc.have_plan)
        pkgplan_free(&bc.plan);
    strv_free(&bc.roots);
    strv_free(&bc.names);
    sbx_cmd_free(&bc.c);
    return rc;
}
