/* The scan of a pkgsrc build (see pkgscan.h). */
#include "cli/pkgscan.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "display/display.h"
#include "loop/defer.h"
#include "platform/platform.h"
#include "sandbox/build.h"
#include "state/state.h"

#define PKGSCAN_LOG_MAX ((size_t)64 << 20)
#define PKGSCAN_TAIL_LINES 5

/* A set of strings (open addressing): the pkgpaths seen, among tens of thousands. */
struct pkgscan_set {
    char **v;
    size_t cap, n;
};

struct pkgscan {
    struct sbx_cmd *c;
    struct config scfg;      /* c->cfg with the scan's jobs */
    struct pkgscan_set seen; /* pkgpaths scanned or queued */
    struct strv todo;        /* the next wave */
    struct strv todo_stamps; /* their stamps ("" when the host cannot tell), same order */
    struct strv *shares;     /* the pkgpaths of each job of the running wave */
    struct strv *stamps;     /* and their stamps */
    char **labels;           /* and their names on the display: "misc/figlet and 3 more" */
    size_t nshares;
    size_t nshares_done; /* the shares of the waves before: the display counts on */
    struct state *st;    /* the scan cache (options.dbdir), or NULL */
    char *mkstamp;       /* the stamp of the tree's mk/, or NULL: no cache */
    bool rescan;         /* bob scan: the cache is written, not read */
    struct build *build;
    struct display *prog;
    bool tty, stopping, shutdown;
    pkgscan_cb done;
    void *data;
    struct pkgscan_result res;
};

static void pkgscan_wave(struct pkgscan *s);
static void pkgscan_next(struct pkgscan *s);
static void pkgscan_finish(struct pkgscan *s);

/* Adds str to the set; false when it was there already. */
static bool pkgscan_set_add(struct pkgscan_set *set, const char *str)
{
    size_t h = 5381, i;
    if (2 * (set->n + 1) > set->cap) {
        struct pkgscan_set old = *set;
        set->cap = set->cap ? 2 * set->cap : 256;
        set->v = xcalloc(set->cap, sizeof(char *));
        set->n = 0;
        for (size_t k = 0; k < old.cap; k++)
            if (old.v[k]) {
                pkgscan_set_add(set, old.v[k]);
                free(old.v[k]);
            }
        free(old.v);
    }
    for (const char *p = str; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (i = h & (set->cap - 1); set->v[i]; i = (i + 1) & (set->cap - 1))
        if (strcmp(set->v[i], str) == 0)
            return false;
    set->v[i] = xstrdup(str);
    set->n++;
    return true;
}

static void pkgscan_set_free(struct pkgscan_set *set)
{
    for (size_t k = 0; k < set->cap; k++)
        free(set->v[k]);
    free(set->v);
    memset(set, 0, sizeof(*set));
}

/* Queues pkgpath unless it was seen. */
static void pkgscan_queue(struct pkgscan *s, const char *pkgpath)
{
    if (pkgscan_set_add(&s->seen, pkgpath))
        strv_push(&s->todo, pkgpath);
}

/*
 * Stamps: what the scan cache compares to tell an unchanged tree. A stamp
 * sums a hash of each file's path, size and mtime under a directory, in
 * any order; a pkgpath's stamp covers its directory (Makefile, distinfo,
 * options, patches/, files/...) and the tree's mk/, as the host sees them
 * (pkgsrc.basedir is the same path on the host and in the sandboxes).
 */
static uint64_t pkgscan_sum;
static size_t pkgscan_base;

static uint64_t pkgscan_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int pkgscan_stamp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    uint64_t h = 14695981039346656037ull;
    int64_t v[3] = {(int64_t)st->st_size, (int64_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec};
    (void)ftw;
    if (flag != FTW_F && flag != FTW_SL)
        return 0;
    h = pkgscan_fnv(h, path + pkgscan_base, strlen(path + pkgscan_base));
    h = pkgscan_fnv(h, v, sizeof(v));
    pkgscan_sum += h;
    return 0;
}

/* The stamp of the files under dir, or NULL when dir is not a directory. */
static char *pkgscan_stamp_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    pkgscan_sum = 0;
    pkgscan_base = strlen(dir);
    if (nftw(dir, pkgscan_stamp_one, 16, FTW_PHYS) != 0)
        return NULL;
    return xasprintf("%016llx", (unsigned long long)pkgscan_sum);
}

/* The stamp of the tree's mk/ (malloc'd; "-" without one), or NULL when the host has no tree. */
static char *pkgscan_stamp_dir_mk(const char *tree)
{
    char *mk = xasprintf("%s/mk", tree), *r = pkgscan_stamp_dir(mk);
    struct stat st;
    free(mk);
    if (!r && stat(tree, &st) == 0 && S_ISDIR(st.st_mode))
        r = xstrdup("-");
    return r;
}

/* The stamp of pkgpath (malloc'd), or "" when the host cannot tell (no cache then). */
static char *pkgscan_stamp(const struct pkgscan *s, const char *pkgpath)
{
    char *dir, *own;
    if (!s->mkstamp || strstr(pkgpath, ".."))
        return xstrdup("");
    dir = xasprintf("%s/%s", s->c->cfg.pkgsrc_basedir, pkgpath);
    own = pkgscan_stamp_dir(dir);
    free(dir);
    if (!own)
        return xstrdup("");
    dir = xasprintf("%s.%s", own, s->mkstamp);
    free(own);
    return dir;
}

/* The last lines of text [p, p+n), on one line joined by " | ". */
static char *pkgscan_tail(const char *p, size_t n)
{
    struct buf b = {0};
    const char *end = p + n, *start = end;
    int lines = 0;
    while (start > p && lines <= PKGSCAN_TAIL_LINES) {
        start--;
        if (*start == '\n' && start + 1 < end)
            lines++;
    }
    if (lines > PKGSCAN_TAIL_LINES)
        start++;
    while (start < end) {
        const char *nl = memchr(start, '\n', (size_t)(end - start));
        size_t len = nl ? (size_t)(nl - start) : (size_t)(end - start);
        if (len > 0)
            buf_printf(&b, "%s%.*s", b.len ? " | " : "", (int)len, start);
        start = nl ? nl + 1 : end;
    }
    return b.p ? b.p : xstrdup("no output");
}

/* Records a failed scan of pkgpath. */
static void pkgscan_failed(struct pkgscan *s, const char *pkgpath, char *why)
{
    log_debug("scan: %s failed: %s", pkgpath, why);
    strv_push(&s->res.failed, pkgpath);
    strv_push_owned(&s->res.failures, why);
}

/* Adds the pbulk-index output of pkgpath p to the index and queues what it depends on. */
static int pkgscan_parsed(struct pkgscan *s, const char *p, const char *out, size_t n,
                          struct err *err)
{
    size_t count = 0;
    if (pbulk_parse(out, n, p, &s->res.index, err) < 0)
        return -1;
    /* The packages of p are at the end of the index. */
    for (size_t j = s->res.index.n; j-- > 0;) {
        const struct pbulk_pkg *pk = &s->res.index.v[j];
        if (strcmp(pk->pkgpath, p) != 0)
            break;
        count++;
        for (size_t d = 0; d < pk->dep_path.n; d++)
            pkgscan_queue(s, pk->dep_path.v[d]);
    }
    log_debug("scan: %s: %zu package%s", p, count, count == 1 ? "" : "s");
    return 0;
}

/* Reads the log of job i of the wave; returns whether every pkgpath of it scanned. */
static bool pkgscan_read(struct pkgscan *s, size_t i, const struct build_result *r)
{
    const struct strv *share = &s->shares[i];
    char *path = xasprintf("%s/%s/pbulk-index.log", s->scfg.logdir, s->scfg.jobs[i].name);
    FILE *f = fopen(path, "r");
    struct buf text = {0};
    char chunk[65536];
    size_t n;
    bool ok = true;
    const char *body, *first;

    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0 && text.len < PKGSCAN_LOG_MAX)
        buf_add(&text, chunk, n);
    if (f)
        fclose(f);
    free(path);
    /* The log starts with the stage's command line, which holds the markers' text too. */
    body = text.p ? strstr(text.p, "\n@@bob-scan-") : NULL;
    first = body;
    for (size_t k = 0; k < share->n; k++) {
        const char *p = share->v[k];
        char *begin = xasprintf("@@bob-scan-begin %s\n", p),
             *mid = xasprintf("@@bob-scan-output %s\n", p);
        char *endm = xasprintf("@@bob-scan-end %s ", p);
        /* The pkgpaths of a share come in order: each search starts where the last ended. */
        const char *b = body ? strstr(body, begin) : NULL;
        const char *m = b ? strstr(b, mid) : NULL;
        const char *e = m ? strstr(m, endm) : NULL;
        struct err err;

        if (!b && r->stage) {
            /* The job failed before the scan of p began (its pre-build). */
            pkgscan_failed(s, p, xasprintf("%s: %s", r->stage, r->reason ? r->reason : "failed"));
            ok = false;
        } else if (!b || !m || !e) {
            char *tail = b ? pkgscan_tail(b, text.len - (size_t)(b - text.p)) : xstrdup("not run");
            pkgscan_failed(s, p, xasprintf("scan did not finish: %s", tail));
            free(tail);
            ok = false;
        } else {
            const char *out = m + strlen(mid);
            int rc = atoi(e + strlen(endm));
            s->res.scanned++;
            if (rc != 0) {
                /* Its stderr, then its stdout, without the marker between them. */
                struct buf both = {0};
                char *tail;
                buf_add(&both, b + strlen(begin), (size_t)(m - b - strlen(begin)));
                buf_add(&both, out, (size_t)(e - out));
                tail = pkgscan_tail(both.p, both.len);
                buf_free(&both);
                pkgscan_failed(s, p, xasprintf("bmake pbulk-index exited %d: %s", rc, tail));
                free(tail);
                ok = false;
            } else if (pkgscan_parsed(s, p, out, (size_t)(e - out), &err) < 0) {
                pkgscan_failed(s, p, xasprintf("bad pbulk-index output: %s", err.msg));
                ok = false;
            } else if (s->st && s->stamps[i].v[k][0]) {
                char *copy = xstrndup(out, (size_t)(e - out));
                state_scan_put(s->st, s->c->cfg.pkgsrc_basedir, p, s->stamps[i].v[k], copy);
                free(copy);
            }
            body = e;
        }
        free(begin);
        free(mid);
        free(endm);
    }
    if (!s->res.packages && first) {
        const char *pk = strstr(first, "\n@@bob-scan-packages ");
        if (pk) {
            const char *v = pk + 21, *nl = strchr(v, '\n');
            size_t len = nl ? (size_t)(nl - v) : strlen(v);
            if (len > 0)
                s->res.packages = xstrndup(v, len);
            if (len > 0 && s->st && s->mkstamp)
                state_scan_put(s->st, s->c->cfg.pkgsrc_basedir, "@PACKAGES", s->mkstamp,
                               s->res.packages);
        }
    }
    buf_free(&text);
    return ok;
}

/* The shell script of a share: PACKAGES once, then each pkgpath between markers. */
static char *pkgscan_script(const struct strv *share)
{
    struct buf b = {0};
    buf_adds(&b, "set +e\nexec 3>&1\n");
    buf_printf(&b,
               "echo \"@@bob-scan-packages $(\"$bob_make\" -C \"$bob_pkgsrc/%s\" show-var "
               "VARNAME=PACKAGES 2>&3)\"\n",
               share->v[0]);
    buf_adds(&b, "for p in");
    for (size_t k = 0; k < share->n; k++)
        buf_printf(&b, " %s", share->v[k]);
    buf_adds(&b, "; do\n"
                 "    echo \"@@bob-scan-begin $p\"\n"
                 "    out=$(\"$bob_make\" -C \"$bob_pkgsrc/$p\" pbulk-index 2>&3)\n"
                 "    rc=$?\n"
                 "    echo \"@@bob-scan-output $p\"\n"
                 "    [ -z \"$out\" ] || printf '%s\\n' \"$out\"\n"
                 "    echo \"@@bob-scan-end $p $rc\"\n"
                 "done\n"
                 "exit 0\n");
    return b.p;
}

/* Frees the running wave's jobs and shares. */
static void pkgscan_wave_free(struct pkgscan *s)
{
    for (size_t i = 0; i < s->scfg.njobs; i++) {
        struct job *j = &s->scfg.jobs[i];
        free(j->name);
        free(j->stages[0].name);
        free(j->stages[0].run);
        free(j->stages);
        free(j->dep_idx);
    }
    free(s->scfg.jobs);
    s->scfg.jobs = NULL;
    s->scfg.njobs = 0;
    for (size_t i = 0; i < s->nshares; i++) {
        strv_free(&s->shares[i]);
        strv_free(&s->stamps[i]);
        free(s->labels[i]);
    }
    free(s->shares);
    free(s->stamps);
    free(s->labels);
    s->labels = NULL;
    s->shares = NULL;
    s->stamps = NULL;
    s->nshares = 0;
}

/* The display's name of the share that job j scans. */
static const char *pkgscan_label(const struct pkgscan *s, const struct job *j)
{
    size_t i = (size_t)(j - s->scfg.jobs);
    return i < s->nshares ? s->labels[i] : j->name + 5;
}

static void pkgscan_on_started(void *data, size_t slot, unsigned sandbox, const struct job *j)
{
    struct pkgscan *s = data;
    display_slot_start(s->prog, slot, sandbox, pkgscan_label(s, j));
}

static void pkgscan_on_stage(void *data, size_t slot, const struct job *j, const char *stage,
                             const struct capture *output)
{
    struct pkgscan *s = data;
    (void)j;
    display_slot_stage(s->prog, slot, stage);
    display_slot_output(s->prog, slot, output);
}

static void pkgscan_on_output(void *data, size_t slot)
{
    struct pkgscan *s = data;
    display_slot_touch(s->prog, slot);
}

static void pkgscan_on_finished_job(void *data, size_t slot, const struct build_result *r)
{
    struct pkgscan *s = data;
    char d[32];
    fmt_duration(d, sizeof(d), r->ms);
    display_slot_output(s->prog, slot, NULL);
    display_slot_idle(s->prog, slot);
    if (!r->interrupted)
        display_finished(s->prog, r->state == JOB_SUCCEEDED, pkgscan_label(s, r->job), d);
}

static void pkgscan_on_note(void *data, const char *event, const char *text)
{
    struct pkgscan *s = data;
    (void)event;
    display_set_note(s->prog, text);
}

/* Warnings go above the live region. */
static void pkgscan_on_log(const char *line, void *data)
{
    struct pkgscan *s = data;
    display_message(s->prog, line);
}

/* A wave is over: read its logs, queue what they named, start the next wave or finish. */
static void pkgscan_on_wave_done(void *data)
{
    struct pkgscan *s = data;
    const struct build_result *r = build_results(s->build);
    size_t nres = build_nresults(s->build);

    if (build_error(s->build) && !s->res.error)
        s->res.error = xstrdup(build_error(s->build));
    if (build_interrupted(s->build))
        s->res.interrupted = true;
    for (size_t i = 0; i < s->nshares && i < nres; i++) {
        bool ok;
        if (r[i].state != JOB_SUCCEEDED && r[i].state != JOB_FAILED && !s->res.interrupted &&
            !r[i].stage) {
            /* Never ran (the sandboxes failed): every pkgpath of the share failed. */
            for (size_t k = 0; k < s->shares[i].n; k++)
                pkgscan_failed(s, s->shares[i].v[k],
                               xstrdup(s->res.error ? s->res.error : "not scanned"));
            continue;
        }
        ok = pkgscan_read(s, i, &r[i]) && r[i].state == JOB_SUCCEEDED;
        if (ok && !s->c->cfg.keep_logs) {
            struct err e;
            char *guest = xasprintf("/%s", s->scfg.jobs[i].name);
            if (plat_remove(s->scfg.logdir, guest, NULL, &e) < 0)
                log_warn("%s", e.msg);
            free(guest);
        } else if (!ok && r[i].stage && !r[i].interrupted) {
            log_warn("scan of %s: %s failed: %s", s->scfg.jobs[i].name + 5, r[i].stage,
                     r[i].reason ? r[i].reason : "failed");
        }
    }
    build_free(s->build);
    s->build = NULL;
    s->nshares_done += s->nshares;
    pkgscan_wave_free(s);
    s->c->ctx.cfg = &s->c->cfg;
    if (s->todo.n > 0 && !s->stopping && !s->res.interrupted && !s->res.error) {
        pkgscan_next(s);
        return;
    }
    pkgscan_finish(s);
}

/* The scan is over: the cache is written, the display goes, the caller is told. */
static void pkgscan_finish(struct pkgscan *s)
{
    if (s->stopping)
        s->res.interrupted = true;
    if (s->st) {
        state_detach(s->st); /* commits */
        if (state_error(s->st))
            log_warn("%s", state_error(s->st));
        state_close(s->st);
        s->st = NULL;
    }
    log_set_hook(NULL, NULL);
    display_free(s->prog);
    s->prog = NULL;
    s->done(s, s->data);
}

/*
 * Takes from the cache what it has of s->todo, and of what that names in
 * turn; starts a wave of sandboxes for the rest, or finishes.
 */
static void pkgscan_next(struct pkgscan *s)
{
    struct strv miss = {0}, miss_stamps = {0};
    if (s->stopping) {
        pkgscan_finish(s);
        return;
    }
    while (s->todo.n > 0) {
        struct strv todo = s->todo;
        memset(&s->todo, 0, sizeof(s->todo));
        for (size_t k = 0; k < todo.n; k++) {
            const char *p = todo.v[k];
            char *stamp = pkgscan_stamp(s, p), *out = NULL;
            struct err err;
            if (s->st && !s->rescan && stamp[0] &&
                state_scan_get(s->st, s->c->cfg.pkgsrc_basedir, p, stamp, &out) == 1 &&
                pkgscan_parsed(s, p, out, strlen(out), &err) == 0) {
                s->res.cached++;
            } else {
                strv_push(&miss, p);
                strv_push(&miss_stamps, stamp);
            }
            free(out);
            free(stamp);
        }
        strv_free(&todo);
    }
    if (!s->res.packages && s->st && s->mkstamp) {
        char *pk = NULL;
        if (state_scan_get(s->st, s->c->cfg.pkgsrc_basedir, "@PACKAGES", s->mkstamp, &pk) == 1)
            s->res.packages = pk;
        else
            free(pk);
    }
    if (s->res.cached)
        log_debug("scan: %zu pkgpath%s from the cache, %zu to scan", s->res.cached,
                  s->res.cached == 1 ? "" : "s", miss.n);
    if (miss.n == 0) {
        pkgscan_finish(s);
        return;
    }
    s->todo = miss;
    s->todo_stamps = miss_stamps;
    pkgscan_wave(s);
}

static void pkgscan_on_start(void *data)
{
    pkgscan_next(data);
}

/* Starts a wave of the pkgpaths in s->todo. */
static void pkgscan_wave(struct pkgscan *s)
{
    struct build_observer obs = {NULL,
                                 pkgscan_on_started,
                                 pkgscan_on_stage,
                                 pkgscan_on_output,
                                 pkgscan_on_finished_job,
                                 NULL,
                                 pkgscan_on_note,
                                 pkgscan_on_wave_done,
                                 s};
    size_t n = s->todo.n < s->c->cfg.scan_threads ? s->todo.n : s->c->cfg.scan_threads;
    size_t *jobs = xcalloc(n, sizeof(size_t));

    s->shares = xcalloc(n, sizeof(*s->shares));
    s->stamps = xcalloc(n, sizeof(*s->stamps));
    s->labels = xcalloc(n, sizeof(*s->labels));
    s->nshares = n;
    for (size_t k = 0; k < s->todo.n; k++) {
        strv_push(&s->shares[k % n], s->todo.v[k]);
        strv_push(&s->stamps[k % n], s->todo_stamps.v[k]);
    }
    strv_free(&s->todo);
    strv_free(&s->todo_stamps);
    s->scfg.jobs = xcalloc(n, sizeof(*s->scfg.jobs));
    s->scfg.njobs = n;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &s->scfg.jobs[i];
        j->name = xasprintf("scan/%s", s->shares[i].v[0]);
        s->labels[i] = s->shares[i].n > 1
                           ? xasprintf("%s and %zu more", s->shares[i].v[0], s->shares[i].n - 1)
                           : xstrdup(s->shares[i].v[0]);
        j->stages = xcalloc(1, sizeof(*j->stages));
        j->stages[0].name = xstrdup("pbulk-index");
        j->stages[0].run = pkgscan_script(&s->shares[i]);
        j->nstages = 1;
        j->network = s->c->cfg.network; /* no limits: a share may hold thousands of pkgpaths */
        jobs[i] = i;
    }
    /* Each wave's shares count on from the waves before. */
    display_set_total(s->prog, s->nshares_done + n);
    s->c->ctx.cfg = &s->scfg;
    s->build = build_start(&s->c->ctx, jobs, n, &obs);
    if (s->shutdown)
        build_stop(s->build, true);
    free(jobs);
}

struct pkgscan *pkgscan_start(struct sbx_cmd *c, const struct strv *roots, bool tty, bool rescan,
                              pkgscan_cb done, void *data)
{
    struct pkgscan *s = xcalloc(1, sizeof(*s));
    struct display_opts po = {0};
    struct err e;
    s->c = c;
    s->rescan = rescan;
    /* The cache: in the build state, for a tree the host can see. */
    if (c->cfg.dbdir && (s->mkstamp = pkgscan_stamp_dir_mk(c->cfg.pkgsrc_basedir))) {
        if (state_open(c->cfg.dbdir, true, &s->st, &e) < 0) {
            log_warn("the scan is not kept: %s", e.msg);
            s->st = NULL;
        } else {
            state_attach(s->st, &c->loop);
        }
    }
    s->tty = tty;
    s->done = done;
    s->data = data;
    s->scfg = c->cfg;
    s->scfg.jobs = NULL;
    s->scfg.njobs = 0;
    s->scfg.keep_logs = true;
    s->scfg.build_threads = c->cfg.scan_threads ? c->cfg.scan_threads : 1;
    for (size_t i = 0; i < roots->n; i++)
        pkgscan_queue(s, roots->v[i]);
    po.loop = &c->loop;
    po.fd = 2;
    po.tty = tty;
    po.key_fd = tty && isatty(0) ? 0 : -1;
    po.nslots = s->scfg.build_threads;
    po.title = "Scanning";
    po.done_verb = "Scanned";
    po.status_ms = c->cfg.status_interval * 1000;
    s->prog = display_new(&po);
    log_set_hook(pkgscan_on_log, s);
    /* On the next pass: all of it may come from the cache, and done must not run in here. */
    if (loop_defer(&c->loop, pkgscan_on_start, s) < 0)
        pkgscan_next(s); /* cannot happen on Unix: the loop refused a timer */
    return s;
}

void pkgscan_stop(struct pkgscan *s, bool now)
{
    s->stopping = true;
    if (now)
        s->shutdown = true;
    if (s->build)
        build_stop(s->build, now);
}

struct pkgscan_result *pkgscan_result(struct pkgscan *s)
{
    return &s->res;
}

void pkgscan_result_free(struct pkgscan_result *r)
{
    pbulk_index_free(&r->index);
    strv_free(&r->failed);
    strv_free(&r->failures);
    free(r->packages);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

void pkgscan_free(struct pkgscan *s)
{
    if (!s)
        return;
    if (s->build)
        build_free(s->build);
    pkgscan_wave_free(s);
    if (s->prog) {
        log_set_hook(NULL, NULL);
        display_free(s->prog);
    }
    pkgscan_set_free(&s->seen);
    strv_free(&s->todo);
    strv_free(&s->todo_stamps);
    if (s->st) {
        state_detach(s->st);
        state_close(s->st);
    }
    free(s->mkstamp);
    pkgscan_result_free(&s->res);
    free(s);
}
