/*
 * bob report: report.html and report.txt of the current build, for handing
 * to someone else. The HTML is one file with no external asset (inline
 * style, an inline script that sorts the tables); every link is an anchor
 * inside it. Failures come first with their log's tail, then what they
 * block, the slowest jobs, the time per stage and the changes since the
 * previous build.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/statecmd.h"
#include "util/file.h"

#define REPORT_LOG_TAIL 60 /* lines of a failed stage's log shown */

static const char report_help[] =
    "usage: bob [-c FILE] report [-o DIR]\n"
    "\n"
    "Writes DIR/report.html and DIR/report.txt (DIR defaults to the current\n"
    "directory) about the current build: counts, duration and machine; each\n"
    "failure with its stage, reason, the end of its log and how many jobs it\n"
    "blocks; skipped jobs and what blocked them; the slowest jobs; wall and CPU\n"
    "time per stage; new failures and fixes since the previous build. report.html is one\n"
    "self-contained file to open in a browser, mail or print.\n"
    "\n"
    "  -o, --output DIR  where to write the two files (made when missing)\n";

/* What the report is made of: the queries' rows. */
struct report {
    const char *id, *prev;
    struct state_rows build, failed, skipped, slow, stages, diff, all;
    char host[256];
    struct utsname un;
};

/* Writes s with HTML's special characters escaped. */
static void report_html_str(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* " job" after the count "1", " jobs" after any other. */
static const char *report_jobs(const char *count)
{
    return count && strcmp(count, "1") == 0 ? " job" : " jobs";
}

/* An anchor id for a job name: letters, digits, '-', '_', '.' kept, others as _XX. */
static void report_anchor(FILE *f, const char *prefix, const char *s)
{
    fputs(prefix, f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.')
            fputc(c, f);
        else
            fprintf(f, "_%02x", c);
    }
}

static const char *report_cell(const struct state_rows *r, size_t row, size_t col)
{
    const char *v = r->cells[row * r->ncols + col];
    return v ? v : "";
}

/* The last REPORT_LOG_TAIL lines of a log, or NULL. */
static char *report_log_tail(const char *path)
{
    FILE *f = path && *path ? fopen(path, "r") : NULL;
    char *data = NULL, *start;
    size_t len = 0, lines = 0;
    struct buf b = {0};
    char chunk[65536];
    size_t n;
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_add(&b, chunk, n);
        /* Keep memory bounded on a huge log: only the last megabyte matters. */
        if (b.len > (4u << 20)) {
            memmove(b.p, b.p + b.len - (1u << 20), 1u << 20);
            b.len = 1u << 20;
        }
    }
    fclose(f);
    if (!b.p)
        return xstrdup("");
    data = b.p;
    len = b.len;
    start = data + len;
    while (start > data) {
        if (start[-1] == '\n' && start != data + len && ++lines > REPORT_LOG_TAIL)
            break;
        start--;
    }
    start = xstrndup(start, (size_t)(data + len - start));
    buf_free(&b);
    return start;
}

/* Writes a table of rows (all columns), sortable by a click on a header. */
static void report_html_table(FILE *f, const struct state_rows *r, const char *job_link)
{
    fputs("<table class=\"sortable\"><thead><tr>", f);
    for (size_t c = 0; c < r->ncols; c++) {
        fputs("<th>", f);
        report_html_str(f, r->cols[c]);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    for (size_t i = 0; i < r->nrows; i++) {
        fputs("<tr>", f);
        for (size_t c = 0; c < r->ncols; c++) {
            const char *v = report_cell(r, i, c);
            fputs(r->num[c] ? "<td class=\"n\">" : "<td>", f);
            if (job_link && strcmp(r->cols[c], job_link) == 0 && *v) {
                fputs("<a href=\"#", f);
                report_anchor(f, "fail-", v);
                fputs("\">", f);
                report_html_str(f, v);
                fputs("</a>", f);
            } else {
                report_html_str(f, v);
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static const char report_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;"
    "padding:0 1em}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{padding:.2em .7em;text-align:left;"
    "border-bottom:1px solid #eee;vertical-align:top}th{background:#f4f4f4;cursor:pointer}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.counts span{display:inline-block;"
    "margin-right:1.5em;font-size:1.1em}.failed{color:#b00020}.ok{color:#1b7f3b}"
    "pre{background:#f8f8f8;border:1px solid #ddd;padding:.5em;overflow-x:auto;font-size:12px;"
    "white-space:pre-wrap}.failure{margin-bottom:1.5em}nav a{margin-right:1em}"
    "@media print{th{cursor:auto}pre{white-space:pre-wrap}nav{display:none}}";

static const char report_js[] =
    "document.querySelectorAll('table.sortable th').forEach(function(th,i){"
    "th.title='sort';th.addEventListener('click',function(){"
    "var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),"
    "asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';"
    "rows.sort(function(a,b){var x=a.cells[i].textContent,y=b.cells[i].textContent,"
    "p=parseFloat(x),q=parseFloat(y);var r=(!isNaN(p)&&!isNaN(q))?p-q:x.localeCompare(y);"
    "return asc?r:-r;});rows.forEach(function(r){tb.appendChild(r);});});});";

/* The value of column name of the build row. */
static const char *report_b(const struct report *r, const char *name)
{
    for (size_t c = 0; c < r->build.ncols; c++)
        if (strcmp(r->build.cols[c], name) == 0)
            return report_cell(&r->build, 0, c);
    return "";
}

static void report_write_html(FILE *f, const struct report *r)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width\"><title>bob build ",
          f);
    report_html_str(f, r->id);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>bob build ", report_css);
    report_html_str(f, r->id);
    fputs(": ", f);
    report_html_str(f, report_b(r, "outcome"));
    fputs("</h1>\n<p>", f);
    report_html_str(f, report_b(r, "date"));
    fputs(" &middot; ", f);
    report_html_str(f, report_b(r, "duration"));
    fputs(" s &middot; ", f);
    report_html_str(f, r->host);
    fprintf(f, " (%s %s %s) &middot; config ", r->un.sysname, r->un.release, r->un.machine);
    report_html_str(f, report_b(r, "config"));
    fputs("</p>\n<p class=\"counts\">", f);
    static const char *const counts[] = {"jobs",       "succeeded",   "failed", "skipped",
                                         "up-to-date", "interrupted", NULL};
    for (size_t i = 0; counts[i]; i++) {
        fprintf(f, "<span class=\"%s\"><b>", strcmp(counts[i], "failed") == 0 ? "failed" : "");
        report_html_str(f, report_b(r, counts[i]));
        fprintf(f, "</b> %s</span>", i == 0 ? report_jobs(report_b(r, counts[i])) + 1 : counts[i]);
    }
    fputs("</p>\n<nav><a href=\"#failures\">Failures</a><a href=\"#skipped\">Skipped</a>"
          "<a href=\"#changes\">Changes</a><a href=\"#slowest\">Slowest</a>"
          "<a href=\"#stages\">Stages</a><a href=\"#jobs\">All jobs</a></nav>\n",
          f);
    fprintf(f, "<h2 id=\"failures\">Failures (%zu)</h2>\n", r->failed.nrows);
    if (r->failed.nrows == 0)
        fputs("<p class=\"ok\">No job failed.</p>\n", f);
    for (size_t i = 0; i < r->failed.nrows; i++) {
        const char *job = report_cell(&r->failed, i, 0);
        char *tail = report_log_tail(report_cell(&r->failed, i, 4));
        fputs("<div class=\"failure\"><h3 id=\"", f);
        report_anchor(f, "fail-", job);
        fputs("\" class=\"failed\">", f);
        report_html_str(f, job);
        fputs("</h3><table><tr><th>stage</th><td>", f);
        report_html_str(f, report_cell(&r->failed, i, 1));
        fputs("</td></tr><tr><th>reason</th><td>", f);
        report_html_str(f, report_cell(&r->failed, i, 2));
        fputs("</td></tr><tr><th>blocks</th><td>", f);
        report_html_str(f, report_cell(&r->failed, i, 3));
        fputs(report_jobs(report_cell(&r->failed, i, 3)), f);
        fputs("</td></tr><tr><th>log</th><td><code>", f);
        report_html_str(f, report_cell(&r->failed, i, 4));
        fputs("</code></td></tr></table>\n", f);
        if (tail) {
            fprintf(f, "<p>The last lines of the log (up to %d):</p><pre>", REPORT_LOG_TAIL);
            report_html_str(f, tail);
            fputs("</pre>\n", f);
        } else {
            fputs("<p>(the log is gone)</p>\n", f);
        }
        free(tail);
        fputs("</div>\n", f);
    }
    fprintf(f, "<h2 id=\"skipped\">Skipped (%zu)</h2>\n", r->skipped.nrows);
    if (r->skipped.nrows)
        report_html_table(f, &r->skipped, "blocked by");
    fputs("<h2 id=\"changes\">Changes since the previous build</h2>\n", f);
    if (!r->prev)
        fputs("<p>No previous build.</p>\n", f);
    else if (r->diff.nrows == 0)
        fprintf(f, "<p>No new failure, no fix since build %s.</p>\n", r->prev);
    else {
        fprintf(f, "<p>Against build %s.</p>\n", r->prev);
        report_html_table(f, &r->diff, NULL);
    }
    fputs("<h2 id=\"slowest\">Slowest jobs</h2>\n", f);
    report_html_table(f, &r->slow, NULL);
    fputs("<h2 id=\"stages\">Time per stage</h2>\n", f);
    report_html_table(f, &r->stages, NULL);
    fputs("<h2 id=\"jobs\">All jobs</h2>\n", f);
    report_html_table(f, &r->all, NULL);
    fprintf(f, "<script>%s</script>\n</body></html>\n", report_js);
}

/* Writes rows as aligned text under a title. */
static void report_txt_rows(FILE *f, const char *title, const struct state_rows *rows)
{
    struct statecmd_print p = {STATECMD_TABLE, false, NULL};
    fprintf(f, "\n%s\n", title);
    if (rows->nrows == 0) {
        fputs("  (none)\n", f);
        return;
    }
    statecmd_print(f, rows, &p, "bob report");
}

static void report_write_txt(FILE *f, const struct report *r)
{
    fprintf(f, "bob build %s: %s\n%s, %s s, %s (%s %s %s), config %s\n", r->id,
            report_b(r, "outcome"), report_b(r, "date"), report_b(r, "duration"), r->host,
            r->un.sysname, r->un.release, r->un.machine, report_b(r, "config"));
    fprintf(f, "%s%s: %s succeeded, %s failed, %s skipped, %s up to date, %s interrupted\n",
            report_b(r, "jobs"), report_jobs(report_b(r, "jobs")), report_b(r, "succeeded"),
            report_b(r, "failed"), report_b(r, "skipped"), report_b(r, "up-to-date"),
            report_b(r, "interrupted"));
    fprintf(f, "\nFailures (%zu)\n", r->failed.nrows);
    for (size_t i = 0; i < r->failed.nrows; i++) {
        char *tail = report_log_tail(report_cell(&r->failed, i, 4));
        fprintf(f, "\n* %s: %s (%s), blocks %s%s\n  log: %s\n", report_cell(&r->failed, i, 0),
                report_cell(&r->failed, i, 1), report_cell(&r->failed, i, 2),
                report_cell(&r->failed, i, 3), report_jobs(report_cell(&r->failed, i, 3)),
                report_cell(&r->failed, i, 4));
        if (tail) {
            for (char *line = strtok(tail, "\n"); line; line = strtok(NULL, "\n"))
                fprintf(f, "  | %s\n", line);
        }
        free(tail);
    }
    report_txt_rows(f, "Skipped", &r->skipped);
    report_txt_rows(f, r->prev ? "Changes since the previous build" : "Changes (no previous build)",
                    &r->diff);
    report_txt_rows(f, "Slowest jobs", &r->slow);
    report_txt_rows(f, "Time per stage", &r->stages);
}

/* Runs the report's queries for build r->id. */
static int report_query(struct state *st, struct report *r, struct err *e)
{
    const char *a[2] = {r->id, NULL};
    static const char *const build_sql =
        "SELECT datetime(started/1000, 'unixepoch', 'localtime') AS date,"
        " coalesce(outcome, 'unfinished') AS outcome,"
        " round((coalesce(ended, started) - started)/1000.0, 1) AS duration, config,"
        " (SELECT count(*) FROM jobs WHERE build=b.id) AS jobs,"
        " (SELECT count(*) FROM jobs WHERE build=b.id AND status='succeeded') AS succeeded,"
        " (SELECT count(*) FROM jobs WHERE build=b.id AND status='failed') AS failed,"
        " (SELECT count(*) FROM jobs WHERE build=b.id AND status='skipped') AS skipped,"
        " (SELECT count(*) FROM jobs WHERE build=b.id AND status='up-to-date') AS \"up-to-date\","
        " (SELECT count(*) FROM jobs WHERE build=b.id AND status IN"
        "  ('interrupted','pending','running')) AS interrupted"
        " FROM builds b WHERE id=CAST(?1 AS INTEGER)";
    if (state_query(st, build_sql, a, 1, &r->build, e) < 0)
        return -1;
    if (r->build.nrows == 0)
        return err_set(e, "no build %s", r->id);
    if (state_query(st,
                    "SELECT job, stage, reason, (SELECT count(*) FROM jobs k WHERE"
                    " k.build=j.build AND k.blocker=j.job) AS blocks, log FROM jobs j"
                    " WHERE build=CAST(?1 AS INTEGER) AND status='failed'"
                    " ORDER BY blocks DESC, job",
                    a, 1, &r->failed, e) < 0 ||
        state_query(st,
                    "SELECT job, blocker AS \"blocked by\", reason FROM jobs WHERE"
                    " build=CAST(?1 AS INTEGER) AND status='skipped' ORDER BY blocker, job",
                    a, 1, &r->skipped, e) < 0 ||
        state_query(st,
                    "SELECT job, status, round(duration/1000.0, 1) AS seconds FROM jobs WHERE"
                    " build=CAST(?1 AS INTEGER) AND duration IS NOT NULL"
                    " ORDER BY duration DESC LIMIT 20",
                    a, 1, &r->slow, e) < 0 ||
        state_query(st,
                    "SELECT stage, count(*) AS jobs, round(sum(wall)/1000.0, 1) AS seconds,"
                    " round(avg(wall)/1000.0, 2) AS average, round(max(wall)/1000.0, 1) AS longest,"
                    " round(sum(cpu)/1000.0, 1) AS \"cpu seconds\""
                    " FROM stages WHERE build=CAST(?1 AS INTEGER) AND wall IS NOT NULL"
                    " GROUP BY stage ORDER BY sum(wall) DESC",
                    a, 1, &r->stages, e) < 0 ||
        state_query(st,
                    "SELECT job, status, stage, reason, round(duration/1000.0, 1) AS seconds,"
                    " sandbox FROM jobs WHERE build=CAST(?1 AS INTEGER) ORDER BY seq",
                    a, 1, &r->all, e) < 0)
        return -1;
    return 0;
}

/* Writes one of the two files through a temporary name, so a reader never sees half. */
static int report_file(const char *dir, const char *name, const struct report *r, bool html)
{
    char *path = xasprintf("%s/%s", dir, name), *tmp = xasprintf("%s/.%s.tmp", dir, name);
    FILE *f = fopen(tmp, "w");
    int rc = EXIT_OK;
    if (!f) {
        cli_error("cannot write %s: %s", tmp, strerror(errno));
        rc = EXIT_ERROR;
        goto out;
    }
    if (html)
        report_write_html(f, r);
    else
        report_write_txt(f, r);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        rc = EXIT_ERROR;
        goto out;
    }
    printf("%s\n", path);
out:
    free(path);
    free(tmp);
    return rc;
}

int cmd_report(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_COMMON_LONGOPTS, {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *dir = ".";
    struct config cfg;
    struct state *st;
    struct report r;
    struct state_rows prev = {0};
    struct err e;
    char id[32];
    const char *args[2];
    int64_t cur;
    bool finished;
    int rc;

    optind = 0;
    while ((rc = cli_getopt(cli, "bob report", argc, argv,
                            ":" CLI_COMMON_SHORTOPTS "o:", longopts)) != CLI_OPT_END) {
        switch (rc) {
        case 'o':
            dir = optarg;
            continue;
        case CLI_OPT_HELP:
            fputs(report_help, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bob report: no arguments expected\n%s", report_help);
        return EXIT_USAGE;
    }
    if ((rc = statecmd_open(cli, "bob report", false, &cfg, &st)) != EXIT_OK)
        return rc;
    memset(&r, 0, sizeof(r));
    rc = EXIT_ERROR;
    if (state_current(st, &cur, &finished, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (!cur) {
        cli_error("no current build in %s: nothing to report", cfg.dbdir);
        goto out;
    }
    snprintf(id, sizeof(id), "%lld", (long long)cur);
    r.id = id;
    gethostname(r.host, sizeof(r.host) - 1);
    uname(&r.un);
    if (state_query(st, "SELECT CAST(max(id) AS TEXT) FROM builds WHERE id < CAST(?1 AS INTEGER)",
                    &r.id, 1, &prev, &e) < 0 ||
        report_query(st, &r, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    r.prev = prev.nrows && prev.cells[0] ? prev.cells[0] : NULL;
    args[0] = r.prev ? r.prev : "0";
    args[1] = id;
    if (state_query(st, cmd_diff_sql, args, 2, &r.diff, &e) < 0) {
        cli_error("%s", e.msg);
        goto out;
    }
    if (!r.prev)
        state_rows_free(&r.diff);
    if (file_mkdir_p(dir, 0755, 0, &e) < 0) { /* -o DIR may name a new directory */
        cli_error("%s", e.msg);
        goto out;
    }
    rc = report_file(dir, "report.html", &r, true);
    if (rc == EXIT_OK)
        rc = report_file(dir, "report.txt", &r, false);
out:
    state_rows_free(&prev);
    state_rows_free(&r.build);
    state_rows_free(&r.failed);
    state_rows_free(&r.skipped);
    state_rows_free(&r.slow);
    state_rows_free(&r.stages);
    state_rows_free(&r.diff);
    state_rows_free(&r.all);
    state_close(st);
    config_free(&cfg);
    return rc;
}
