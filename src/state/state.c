/*
 * The build state in SQLite. Why these settings:
 * - WAL: a reader (bob status in another terminal) never blocks the writer
 *   and never sees half a transaction; after a SIGKILL the next open rolls
 *   the log forward or drops an uncommitted tail, so the file is always
 *   readable and holds only whole passes.
 * - synchronous=NORMAL: a commit survives the death of the process (the
 *   data is in the kernel's page cache); only a power cut may lose the last
 *   passes, never the consistency of the file.
 * - transactions end at a loop pass (uv_prepare, run just before the loop
 *   waits), at most every STATE_COMMIT_MS: a build of many short jobs then
 *   commits 20 times a second, not once per row (each commit writes WAL
 *   frames and every thousand pages a checkpoint syncs the file: one commit
 *   per event cost 15% of the job rate of bench/state). An unreferenced
 *   timer wakes the loop for the pending commit, so nothing waits longer
 *   than that, and a SIGKILL loses at most the last STATE_COMMIT_MS.
 * - a job is written "succeeded" only in the pass where its end is known;
 *   until then it is "running", which a later reader or resume turns into
 *   "interrupted" when no bob holds the lock.
 * - the first write error (a full disk, a read-only dbdir) stops recording
 *   with one message; the build goes on and the caller reports it.
 */
#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fault.h"
#include "util/file.h"

#define STATE_CACHE 24
#define STATE_COMMIT_MS 50

struct state {
    sqlite3 *db;
    char *dir;
    char *path;
    bool writer;
    int lockfd;
    bool in_txn;
    bool failed;
    bool scan_table; /* the scan table is known to exist (state_scan_table) */
    char *error;
    uv_prepare_t *prep;
    uv_timer_t *wake;     /* wakes the loop for a commit that is due */
    uint64_t last_commit; /* uv_now at the last commit */
    /* Prepared once, by the address of their (literal) SQL text. */
    struct {
        const char *sql;
        sqlite3_stmt *q;
    } cache[STATE_CACHE];
};

/*
 * The scan cache (state_scan_*): added to version 1 without a new version,
 * as a table that older bobs never read, made on the first use of a
 * pkgsrc scan, so that other databases stay as they were.
 */
#define STATE_SCAN_TABLE                                                                           \
    "CREATE TABLE IF NOT EXISTS scan(tree TEXT NOT NULL, pkgpath TEXT NOT NULL, stamp TEXT,"       \
    " output TEXT, PRIMARY KEY(tree, pkgpath));"

static const char state_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS builds("
    " id INTEGER PRIMARY KEY, started REAL, ended REAL, config TEXT, host TEXT,"
    " outcome TEXT, runs INTEGER DEFAULT 1, total INTEGER, succeeded INTEGER, failed INTEGER,"
    " skipped INTEGER, uptodate INTEGER, interrupted INTEGER);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " build INTEGER NOT NULL, job TEXT NOT NULL, seq INTEGER, status TEXT, stage TEXT,"
    " reason TEXT, blocker TEXT, sandbox INTEGER, log TEXT, started REAL, ended REAL,"
    " duration REAL, hash TEXT, PRIMARY KEY(build, job));"
    "CREATE INDEX IF NOT EXISTS jobs_by_name ON jobs(job, build);"
    "CREATE TABLE IF NOT EXISTS stages("
    " build INTEGER NOT NULL, job TEXT NOT NULL, stage TEXT NOT NULL, started REAL,"
    " wall REAL, cpu REAL, PRIMARY KEY(build, job, stage));";

const char *state_status_name(enum state_status s)
{
    static const char *const names[] = {"pending", "running",    "succeeded",  "failed",
                                        "skipped", "up-to-date", "interrupted"};
    return names[s];
}

const char *state_dir(const struct state *st)
{
    return st->dir;
}

/* The one-line error for a failing SQLite call, with what to do about it. */
static int state_fail(const struct state *st, int rc, struct err *e, const char *what)
{
    const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return err_set(e,
                       "%s is not a readable bob database (%s): move it away (a new one is "
                       "created) or set options.dbdir elsewhere",
                       st->path, msg);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return err_set(e,
                       "cannot %s the build state %s (%s): make %s writable, set "
                       "options.dbdir elsewhere, or options.dbdir = false",
                       what, st->path, msg, st->dir);
    case SQLITE_FULL:
        return err_set(e, "cannot %s the build state %s: the disk is full: free space in %s", what,
                       st->path, st->dir);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return err_set(e, "cannot %s the build state %s: it stays locked (%s)", what, st->path,
                       msg);
    default:
        return err_set(e, "cannot %s the build state %s: %s", what, st->path, msg);
    }
}

/* mkdir -p for the dbdir, with the advice of what to do. */
static int state_mkdirs(const char *path, struct err *e)
{
    char msg[sizeof(e->msg)];
    if (file_mkdir_p(path, 0755, 0, e) == 0)
        return 0;
    snprintf(msg, sizeof(msg), "%s", e->msg);
    return err_set(e, "%s (set options.dbdir elsewhere, or options.dbdir = false)", msg);
}

/* Reads or writes the schema: a new file gets it, an old one must carry our version. */
static int state_schema_check(struct state *st, struct err *e)
{
    sqlite3_stmt *q;
    int rc, version = 0;
    bool empty;
    if ((rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL)) != SQLITE_OK)
        return state_fail(st, rc, e, "read");
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW)
        return state_fail(st, rc, e, "read");
    if ((rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL)) !=
        SQLITE_OK)
        return state_fail(st, rc, e, "read");
    rc = sqlite3_step(q);
    empty = rc == SQLITE_ROW && sqlite3_column_int(q, 0) == 0;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW)
        return state_fail(st, rc, e, "read");
    if (version == STATE_SCHEMA)
        return 0;
    if (version == 0 && empty) {
        char *sql;
        if (!st->writer)
            return err_set(e, "%s holds no builds yet", st->path), -ENOENT;
        sql = xasprintf("BEGIN IMMEDIATE;%sPRAGMA user_version=%d;COMMIT;", state_schema,
                        STATE_SCHEMA);
        rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
        free(sql);
        if (rc != SQLITE_OK) {
            state_fail(st, rc, e, "create");
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        return 0;
    }
    return err_set(e,
                   "%s has schema version %d, this bob reads version %d: move it away (a new "
                   "one is created; its history stays in the old file) or use the bob that "
                   "wrote it",
                   st->path, version, STATE_SCHEMA);
}

int state_open(const char *dbdir, bool writer, struct state **out, struct err *e)
{
    struct state *st = xcalloc(1, sizeof(*st));
    int rc, flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
    *out = NULL;
    st->dir = xstrdup(dbdir);
    st->path = xasprintf("%s/%s", dbdir, STATE_FILE);
    st->writer = writer;
    st->lockfd = -1;
    if (writer) {
        if (state_mkdirs(dbdir, e) < 0)
            goto fail;
        if (access(dbdir, W_OK) != 0) {
            err_sys(e, errno,
                    "cannot write the build state in %s (make it writable, set options.dbdir "
                    "elsewhere, or options.dbdir = false)",
                    dbdir);
            goto fail;
        }
    } else if (access(st->path, F_OK) != 0) {
        err_set(e, "no build state in %s yet (run bob build first)", dbdir);
        state_close(st);
        return -ENOENT;
    }
    /* A reader on a read-only dbdir still reads (the WAL index in memory then). */
    if (!writer && access(dbdir, W_OK) != 0)
        flags = SQLITE_OPEN_READONLY;
    rc = sqlite3_open_v2(st->path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        state_fail(st, rc, e, "open");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 1);
    if (writer) {
        rc = sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                          NULL);
        if (rc != SQLITE_OK) {
            state_fail(st, rc, e, "open");
            goto fail;
        }
    }
    rc = state_schema_check(st, e);
    if (rc < 0) {
        state_close(st);
        return rc == -ENOENT ? -ENOENT : -1;
    }
    *out = st;
    return 0;
fail:
    state_close(st);
    return -1;
}

/* Commits the pass's transaction; the first failure stops recording. */
static int state_commit(struct state *st)
{
    int rc;
    if (!st->in_txn)
        return 0;
    st->in_txn = false;
    fault_step("state.commit");
    rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK && !st->failed) {
        struct err e;
        state_fail(st, rc, &e, "write");
        st->failed = true;
        st->error = xasprintf("%s; recording stopped", e.msg);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return rc == SQLITE_OK ? 0 : -1;
}

static void state_on_close(uv_handle_t *h)
{
    free(h);
}

static void state_on_prepare(uv_prepare_t *h);

void state_close(struct state *st)
{
    if (!st)
        return;
    if (st->db) {
        state_commit(st);
        for (size_t i = 0; i < STATE_CACHE; i++)
            sqlite3_finalize(st->cache[i].q);
        sqlite3_close_v2(st->db);
    }
    state_detach(st);
    if (st->lockfd >= 0)
        close(st->lockfd);
    free(st->dir);
    free(st->path);
    free(st->error);
    free(st);
}

int state_lock(struct state *st, struct err *e)
{
    char *path = xasprintf("%s/bob.lock", st->dir);
    char pid[32];
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int r = err_sys(e, errno, "cannot create %s", path);
        free(path);
        return r;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char other[32] = "";
        ssize_t n = pread(fd, other, sizeof(other) - 1, 0);
        other[n > 0 ? n : 0] = '\0';
        other[strcspn(other, "\n")] = '\0';
        err_set(e, "another bob%s%s%s is building with %s: wait for it or stop it",
                *other ? " (pid " : "", other, *other ? ")" : "", st->path);
        close(fd);
        free(path);
        return -EBUSY;
    }
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) < 0)
        log_debug("cannot write %s", path);
    free(path);
    st->lockfd = fd;
    return 0;
}

bool state_locked_by_other(const struct state *st)
{
    char *path = xasprintf("%s/bob.lock", st->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool held = false;
    free(path);
    if (fd < 0)
        return false;
    if (st->lockfd < 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        held = true;
    close(fd);
    return held;
}

static void state_on_wake(uv_timer_t *t)
{
    /* Nothing to do: the pass this wakes ends in state_on_prepare. */
}

/* The end of a loop pass: commits when the last commit is STATE_COMMIT_MS old. */
static void state_on_prepare(uv_prepare_t *h)
{
    struct state *st = h->data;
    uint64_t now;
    if (!st || !st->in_txn)
        return;
    now = uv_now(h->loop);
    if (now - st->last_commit >= STATE_COMMIT_MS) {
        state_commit(st);
        st->last_commit = now;
        return;
    }
    if (!uv_is_active((uv_handle_t *)st->wake))
        uv_timer_start(st->wake, state_on_wake, STATE_COMMIT_MS - (now - st->last_commit), 0);
}

void state_attach(struct state *st, uv_loop_t *loop)
{
    st->prep = xcalloc(1, sizeof(*st->prep));
    uv_prepare_init(loop, st->prep);
    st->prep->data = st;
    uv_prepare_start(st->prep, state_on_prepare);
    st->wake = xcalloc(1, sizeof(*st->wake));
    uv_timer_init(loop, st->wake);
    st->last_commit = uv_now(loop);
    /* They batch; they never keep the loop alive. */
    uv_unref((uv_handle_t *)st->prep);
    uv_unref((uv_handle_t *)st->wake);
}

void state_detach(struct state *st)
{
    state_commit(st);
    if (!st->prep)
        return;
    uv_prepare_stop(st->prep);
    st->prep->data = NULL;
    uv_close((uv_handle_t *)st->prep, state_on_close);
    st->prep = NULL;
    uv_timer_stop(st->wake);
    uv_close((uv_handle_t *)st->wake, state_on_close);
    st->wake = NULL;
}

int state_flush(struct state *st)
{
    return state_commit(st);
}

const char *state_error(const struct state *st)
{
    return st->error;
}

/* The prepared statement of sql (a literal: cached by its address), or NULL with *rc. */
static sqlite3_stmt *state_stmt(struct state *st, const char *sql, int *rc)
{
    size_t i;
    for (i = 0; i < STATE_CACHE && st->cache[i].sql; i++)
        if (st->cache[i].sql == sql)
            return st->cache[i].q;
    if (i == STATE_CACHE) {
        /* More statements than slots (a bug of ours): the last slot is recycled. */
        i = STATE_CACHE - 1;
        sqlite3_finalize(st->cache[i].q);
        st->cache[i].sql = NULL;
        st->cache[i].q = NULL;
    }
    *rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->cache[i].q, NULL);
    if (*rc != SQLITE_OK)
        return NULL;
    st->cache[i].sql = sql;
    return st->cache[i].q;
}

/*
 * Runs one write statement with its parameters: "s" text (NULL for NULL),
 * "i" int64, "d" double (negative for NULL). Opens the pass's transaction;
 * without a loop attached, commits at once.
 */
static void state_write(struct state *st, const char *sql, const char *types, ...)
{
    sqlite3_stmt *q = NULL;
    va_list ap;
    int rc;
    if (st->failed)
        return;
    if (!st->in_txn) {
        rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto fail;
        st->in_txn = true;
    }
    q = state_stmt(st, sql, &rc);
    if (!q)
        goto fail;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 's') {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(q, i + 1, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(q, i + 1);
        } else if (types[i] == 'i') {
            sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
        } else {
            double d = va_arg(ap, double);
            if (d >= 0)
                sqlite3_bind_double(q, i + 1, d);
            else
                sqlite3_bind_null(q, i + 1);
        }
    }
    va_end(ap);
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    q = NULL;
    if (rc != SQLITE_DONE)
        goto fail;
    /* A SIGKILL here leaves a transaction half written: the WAL drops it. */
    fault_step("state.write");
    if (!st->prep)
        state_commit(st);
    return;
fail:
    if (!st->failed) {
        struct err e;
        state_fail(st, rc, &e, "write");
        st->failed = true;
        st->error = xasprintf("%s; recording stopped", e.msg);
    }
    if (q) {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    }
    if (st->in_txn)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_txn = false;
}

/* Runs one SELECT returning a single integer into *out (0 when no row). */
static int state_scalar(struct state *st, const char *sql, int64_t *out, bool *null, struct err *e)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    *out = 0;
    if (null)
        *null = true;
    if (rc != SQLITE_OK)
        return state_fail(st, rc, e, "read");
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        if (null)
            *null = sqlite3_column_type(q, 0) == SQLITE_NULL;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return state_fail(st, rc, e, "read");
    return 0;
}

int state_current(struct state *st, int64_t *id, bool *finished, struct err *e)
{
    int64_t done;
    bool null;
    *finished = false;
    if (state_scalar(st, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='current'", id, NULL,
                     e) < 0)
        return -1;
    if (*id == 0)
        return 0;
    char *sql = xasprintf("SELECT outcome IN ('succeeded','failed') FROM builds WHERE id=%lld",
                          (long long)*id);
    int r = state_scalar(st, sql, &done, &null, e);
    free(sql);
    if (r < 0)
        return -1;
    *finished = !null && done;
    return 0;
}

int64_t state_build_new(struct state *st, const char *config, const char *host, double t)
{
    int64_t id;
    state_write(st, "INSERT INTO builds(started, config, host) VALUES(?,?,?)", "dss", t, config,
                host);
    if (st->failed)
        return 0;
    id = sqlite3_last_insert_rowid(st->db);
    state_write(st, "INSERT OR REPLACE INTO meta(key, value) VALUES('current', ?)", "i", id);
    return st->failed ? 0 : id;
}

void state_build_resume(struct state *st, int64_t id, double t)
{
    state_write(st, "UPDATE builds SET ended=NULL, outcome=NULL, runs=runs+1 WHERE id=?", "i", id);
    state_write(st, "INSERT OR REPLACE INTO meta(key, value) VALUES('current', ?)", "i", id);
}

void state_build_settle_running(struct state *st, int64_t build)
{
    state_write(st, "UPDATE jobs SET status='interrupted' WHERE build=? AND status='running'", "i",
                build);
}

void state_build_interrupt_pending(struct state *st, int64_t build)
{
    state_write(st,
                "UPDATE jobs SET status='interrupted', reason='not started' WHERE build=? AND"
                " status='pending'",
                "i", build);
}

void state_build_end(struct state *st, int64_t id, const char *outcome, double t)
{
    state_write(st,
                "UPDATE builds SET ended=?, outcome=coalesce(?, CASE"
                " WHEN EXISTS(SELECT 1 FROM jobs WHERE build=?3 AND status IN ('failed','skipped'))"
                " THEN 'failed' WHEN EXISTS(SELECT 1 FROM jobs WHERE build=?3 AND status IN"
                " ('pending','running','interrupted')) THEN 'interrupted' ELSE 'succeeded' END),"
                " total=(SELECT count(*) FROM jobs WHERE build=?3),"
                " succeeded=(SELECT count(*) FROM jobs WHERE build=?3 AND status='succeeded'),"
                " failed=(SELECT count(*) FROM jobs WHERE build=?3 AND status='failed'),"
                " skipped=(SELECT count(*) FROM jobs WHERE build=?3 AND status='skipped'),"
                " uptodate=(SELECT count(*) FROM jobs WHERE build=?3 AND status='up-to-date'),"
                " interrupted=(SELECT count(*) FROM jobs WHERE build=?3 AND"
                "  status IN ('interrupted','pending','running'))"
                " WHERE id=?3",
                "dsi", t, outcome, id);
}

int state_forget_current(struct state *st, struct err *e)
{
    int rc = sqlite3_exec(st->db,
                          "BEGIN IMMEDIATE;"
                          "UPDATE builds SET outcome='interrupted' WHERE outcome IS NULL AND id="
                          " (SELECT CAST(value AS INTEGER) FROM meta WHERE key='current');"
                          "DELETE FROM meta WHERE key='current'; COMMIT;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        state_fail(st, rc, e, "write");
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

void state_job_plan(struct state *st, int64_t build, const char *job, enum state_status s,
                    const char *hash)
{
    state_write(st,
                "INSERT INTO jobs(build, job, seq, status, hash) VALUES(?1, ?2,"
                " (SELECT count(*) FROM jobs WHERE build=?1), ?3, ?4)"
                " ON CONFLICT(build, job) DO UPDATE SET status=?3, hash=?4, stage=NULL,"
                " reason=NULL, blocker=NULL, log=NULL, sandbox=NULL, started=NULL, ended=NULL,"
                " duration=NULL",
                "isss", build, job, state_status_name(s), hash);
    if (s == STATE_PENDING)
        state_write(st, "DELETE FROM stages WHERE build=? AND job=?", "is", build, job);
}

void state_job_started(struct state *st, int64_t build, const char *job, unsigned sandbox, double t)
{
    state_write(st,
                "UPDATE jobs SET status='running', sandbox=?, started=?, stage=NULL, reason=NULL,"
                " log=NULL WHERE build=? AND job=?",
                "idis", (int64_t)sandbox, t, build, job);
}

/* Closes the job's open stage (the one without a wall time) at t. */
static void state_stage_close(struct state *st, int64_t build, const char *job, double t)
{
    state_write(st, "UPDATE stages SET wall=?-started WHERE build=? AND job=? AND wall IS NULL",
                "dis", t, build, job);
}

void state_job_stage_cpu(struct state *st, int64_t build, const char *job, double cpu_ms)
{
    state_write(st, "UPDATE stages SET cpu=? WHERE build=? AND job=? AND wall IS NULL", "dis",
                cpu_ms, build, job);
}

void state_job_stage(struct state *st, int64_t build, const char *job, const char *stage, double t)
{
    state_stage_close(st, build, job, t);
    state_write(st, "INSERT OR REPLACE INTO stages(build, job, stage, started) VALUES(?,?,?,?)",
                "issd", build, job, stage, t);
    state_write(st, "UPDATE jobs SET stage=? WHERE build=? AND job=?", "sis", stage, build, job);
}

void state_job_finished(struct state *st, int64_t build, const char *job, enum state_status s,
                        const char *stage, const char *reason, const char *log, double ms, double t)
{
    state_stage_close(st, build, job, t);
    state_write(st,
                "UPDATE jobs SET status=?, stage=coalesce(?, CASE WHEN ?1='interrupted' THEN"
                " stage END), reason=?, log=?, duration=?, ended=? WHERE build=? AND job=?",
                "ssssddis", state_status_name(s), stage, reason, log, ms, t, build, job);
}

void state_job_skipped(struct state *st, int64_t build, const char *job, const char *reason,
                       const char *blocker)
{
    state_write(st,
                "UPDATE jobs SET status='skipped', reason=?, blocker=?, stage=NULL, log=NULL,"
                " duration=NULL WHERE build=? AND job=?",
                "ssis", reason, blocker, build, job);
}

/* The text of column c, or NULL. */
static const char *state_col(sqlite3_stmt *q, int c)
{
    return (const char *)sqlite3_column_text(q, c);
}

static double state_cold(sqlite3_stmt *q, int c)
{
    return sqlite3_column_type(q, c) == SQLITE_NULL ? -1 : sqlite3_column_double(q, c);
}

/* Runs a job query (the columns of struct state_job) and calls cb per row. */
static int state_job_rows(struct state *st, const char *sql, int64_t build, state_job_cb cb,
                          void *data, struct err *e)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return state_fail(st, rc, e, "read");
    if (build)
        sqlite3_bind_int64(q, 1, build);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct state_job j = {sqlite3_column_int64(q, 0),
                              state_col(q, 1),
                              state_col(q, 2),
                              state_col(q, 3),
                              state_col(q, 4),
                              state_col(q, 5),
                              state_col(q, 6),
                              state_col(q, 7),
                              sqlite3_column_type(q, 8) == SQLITE_NULL ? -1
                                                                       : sqlite3_column_int64(q, 8),
                              state_cold(q, 9),
                              state_cold(q, 10),
                              state_cold(q, 11)};
        cb(&j, data);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return state_fail(st, rc, e, "read");
    return 0;
}

#define STATE_JOB_COLS                                                                             \
    "build, job, status, stage, reason, blocker, log, hash, sandbox, started, ended, duration"

int state_jobs(struct state *st, int64_t build, state_job_cb cb, void *data, struct err *e)
{
    return state_job_rows(st, "SELECT " STATE_JOB_COLS " FROM jobs WHERE build=? ORDER BY seq",
                          build, cb, data, e);
}

int state_latest(struct state *st, state_job_cb cb, void *data, struct err *e)
{
    return state_job_rows(st,
                          "SELECT " STATE_JOB_COLS " FROM jobs j WHERE status IN"
                          " ('succeeded','failed','up-to-date') AND build=(SELECT max(build) FROM"
                          " jobs k WHERE k.job=j.job AND k.status IN"
                          " ('succeeded','failed','up-to-date'))",
                          0, cb, data, e);
}

int state_query(struct state *st, const char *sql, const char *const *args, size_t nargs,
                struct state_rows *out, struct err *e)
{
    sqlite3_stmt *q;
    size_t cap = 0;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    memset(out, 0, sizeof(*out));
    if (rc != SQLITE_OK)
        return state_fail(st, rc, e, "read");
    for (size_t i = 0; i < nargs; i++)
        sqlite3_bind_text(q, (int)i + 1, args[i], -1, SQLITE_TRANSIENT);
    out->ncols = (size_t)sqlite3_column_count(q);
    out->cols = xcalloc(out->ncols + 1, sizeof(*out->cols));
    out->num = xcalloc(out->ncols + 1, sizeof(*out->num));
    for (size_t c = 0; c < out->ncols; c++)
        out->cols[c] = xstrdup(sqlite3_column_name(q, (int)c));
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if ((out->nrows + 1) * out->ncols > cap) {
            cap = cap ? 2 * cap : 64 * (out->ncols + 1);
            out->cells = xrealloc(out->cells, cap * sizeof(*out->cells));
        }
        for (size_t c = 0; c < out->ncols; c++) {
            const char *t = state_col(q, (int)c);
            int ty = sqlite3_column_type(q, (int)c);
            if (ty == SQLITE_INTEGER || ty == SQLITE_FLOAT)
                out->num[c] = true;
            out->cells[out->nrows * out->ncols + c] = t ? xstrdup(t) : NULL;
        }
        out->nrows++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        state_rows_free(out);
        return state_fail(st, rc, e, "read");
    }
    return 0;
}

void state_rows_free(struct state_rows *r)
{
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cells[i]);
    for (size_t c = 0; c < r->ncols; c++)
        free(r->cols[c]);
    free(r->cells);
    free(r->cols);
    free(r->num);
    memset(r, 0, sizeof(*r));
}

/* Makes the scan table once per handle; false (with st->failed) when it cannot. */
static bool state_scan_table(struct state *st)
{
    int rc;
    if (st->scan_table)
        return true;
    if ((rc = sqlite3_exec(st->db, STATE_SCAN_TABLE, NULL, NULL, NULL)) != SQLITE_OK) {
        struct err e;
        state_fail(st, rc, &e, "write");
        if (!st->failed)
            st->error = xasprintf("%s; the scan is not kept", e.msg);
        st->failed = true;
        return false;
    }
    st->scan_table = true;
    return true;
}

void state_scan_put(struct state *st, const char *tree, const char *pkgpath, const char *stamp,
                    const char *output)
{
    if (!state_scan_table(st))
        return;
    state_write(st,
                "INSERT OR REPLACE INTO scan(tree, pkgpath, stamp, output) VALUES(?1, ?2, ?3, ?4)",
                "ssss", tree, pkgpath, stamp, output);
}

int state_scan_get(struct state *st, const char *tree, const char *pkgpath, const char *stamp,
                   char **output)
{
    sqlite3_stmt *q;
    int rc, found = 0;
    *output = NULL;
    if (!state_scan_table(st))
        return -1;
    q = state_stmt(st, "SELECT output FROM scan WHERE tree = ?1 AND pkgpath = ?2 AND stamp = ?3",
                   &rc);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, tree, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, pkgpath, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, stamp, -1, SQLITE_TRANSIENT);
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *t = state_col(q, 0);
        *output = xstrdup(t ? t : "");
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return found;
}

int state_scan_forget(struct state *st, struct err *e)
{
    int rc = sqlite3_exec(st->db, "DELETE FROM scan", NULL, NULL, NULL);
    if (rc != SQLITE_OK && strstr(sqlite3_errmsg(st->db), "no such table"))
        return 0; /* no scan was ever kept */
    if (rc != SQLITE_OK)
        return state_fail(st, rc, e, "write");
    return 0;
}
