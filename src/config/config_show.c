/*
 * `bob config show`: the effective configuration (after only.set filtering
 * and with every default filled in) as Lua that config_load loads back to
 * the same config, or as JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/json.h"

/* ---- Lua ---------------------------------------------------------------- */

/* True when s is a Lua identifier that is not a reserved word. */
static bool show_name_ok(const char *s)
{
    static const char *const reserved[] = {
        "and",      "break",  "do",   "else", "elseif", "end",   "false", "for",
        "function", "goto",   "if",   "in",   "local",  "nil",   "not",   "or",
        "repeat",   "return", "then", "true", "until",  "while", NULL};
    if (!value_is_ident(s))
        return false;
    for (const char *const *r = reserved; *r; r++)
        if (strcmp(s, *r) == 0)
            return false;
    return true;
}

/* True when a long bracket string can hold s exactly (a newline, no CR, nothing odd). */
static bool show_long_ok(const char *s, size_t n)
{
    if (!memchr(s, '\n', n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\n' && c != '\t')
            return false;
        if (c == 0x7f)
            return false;
    }
    return true;
}

/* Writes s as a Lua string literal: a long bracket for scripts, else quoted. */
static void show_str_n(FILE *out, const char *s, size_t n)
{
    if (show_long_ok(s, n)) {
        /*
         * The level: the first k such that "]" "="*k "]" occurs neither in s
         * nor across its end (s ending in "]" "="*k would close early).
         */
        char close[64];
        int level = 0;
        for (; level < 60; level++) {
            close[0] = ']';
            memset(close + 1, '=', (size_t)level);
            close[level + 1] = ']';
            close[level + 2] = '\0';
            if (strstr(s, close))
                continue;
            if (n >= (size_t)level + 1 && memcmp(s + n - level - 1, close, (size_t)level + 1) == 0)
                continue;
            break;
        }
        if (level < 60) {
            /* Lua skips a newline right after the opening bracket: give it one. */
            fputc('[', out);
            for (int i = 0; i < level; i++)
                fputc('=', out);
            fputs("[\n", out);
            fwrite(s, 1, n, out);
            fputs(close, out);
            return;
        }
    }
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\%03u", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

/* Writes s as a Lua string literal. */
static void show_str(FILE *out, const char *s)
{
    show_str_n(out, s, strlen(s));
}

/* Writes a table key: `name = ` or `["name"] = `. */
static void show_key(FILE *out, const char *k, size_t n)
{
    char buf[256];
    if (n < sizeof(buf)) {
        memcpy(buf, k, n);
        buf[n] = '\0';
        if (show_name_ok(buf)) {
            fprintf(out, "%s = ", buf);
            return;
        }
    }
    fputc('[', out);
    show_str_n(out, k, n);
    fputs("] = ", out);
}

/* Writes `key = "value",` on its own line, when value is set. */
static void show_field(FILE *out, int ind, const char *key, const char *value)
{
    if (!value)
        return;
    fprintf(out, "%*s%s = ", ind, "", key);
    show_str(out, value);
    fputs(",\n", out);
}

/* Writes `key = { "a", "b" },` (an empty list too when always). */
static void show_list(FILE *out, int ind, const char *key, const struct strv *l, bool always)
{
    if (!l->n && !always)
        return;
    fprintf(out, "%*s%s = {", ind, "", key);
    for (size_t i = 0; i < l->n; i++) {
        fputs(i ? ", " : " ", out);
        show_str(out, l->v[i]);
    }
    fputs(l->n ? " },\n" : "},\n", out);
}

/* Writes a "K=V" list as a table { K = "V", ... } (inline). */
static void show_env(FILE *out, const struct strv *env)
{
    fputs("{", out);
    for (size_t i = 0; i < env->n; i++) {
        const char *eq = strchr(env->v[i], '=');
        size_t kl = eq ? (size_t)(eq - env->v[i]) : strlen(env->v[i]);
        fputs(i ? ", " : " ", out);
        show_key(out, env->v[i], kl);
        show_str(out, eq ? eq + 1 : "");
    }
    fputs(env->n ? " }" : "}", out);
}

/* Writes `, key = "value"` inside a one-line table, when value is set. */
static void show_inline(FILE *out, const char *key, const char *value)
{
    if (!value)
        return;
    fprintf(out, ", %s = ", key);
    show_str(out, value);
}

/* Writes a script value inline: a string, or a function returning scriptenv(run, env). */
static void show_script(FILE *out, const char *key, const struct script *s)
{
    if (!s->run)
        return;
    fprintf(out, ", %s = ", key);
    if (s->env.n) {
        fputs("function() return scriptenv(", out);
        show_str(out, s->run);
        fputs(", ", out);
        show_env(out, &s->env);
        fputs(") end", out);
    } else {
        show_str(out, s->run);
    }
}

/* Writes one action table on one line, as bob's configs do. */
static void show_action(FILE *out, const struct action *a)
{
    fprintf(out, "        { action = \"%s\"", action_kind_name(a->kind));
    if (a->kind == ACTION_MOUNT)
        show_inline(out, "fs", a->fs_name ? a->fs_name : fs_type_name(a->fs));
    show_inline(out, "src", a->src);
    show_inline(out, "dest", a->dest);
    show_inline(out, "opts", a->opts);
    if (a->kind == ACTION_CMD) {
        fprintf(out, ", chroot = %s", a->chroot ? "true" : "false");
        show_script(out, "create", &a->create);
        show_script(out, "destroy", &a->destroy);
    }
    if (a->only_env != CTX_ANY || a->only_exists) {
        fputs(", only = {", out);
        if (a->only_env != CTX_ANY)
            fprintf(out, " environment = \"%s\"%s", a->only_env == CTX_BUILD ? "build" : "dev",
                    a->only_exists ? "," : "");
        if (a->only_exists) {
            fputs(" exists = ", out);
            show_str(out, a->only_exists);
        }
        fputs(" }", out);
    }
    fputs(" },\n", out);
}

/* Writes sandboxes.setup or .hooks. */
static void show_actions(FILE *out, const char *key, const struct action_list *l)
{
    fprintf(out, "    %s = {\n", key);
    for (size_t i = 0; i < l->n; i++)
        show_action(out, &l->v[i]);
    fputs("    },\n", out);
}

/* Writes sandboxes.environment.<name>. */
static void show_policy(FILE *out, const char *name, const struct env_policy *p)
{
    if (!p->present)
        return;
    fprintf(out, "        %s = {\n", name);
    fprintf(out, "            clear = %s,\n", p->clear ? "true" : "false");
    show_list(out, 12, "inherit", &p->inherit, true);
    fputs("            vars = ", out);
    show_env(out, &p->vars);
    fputs(",\n", out);
    show_field(out, 12, "shell", p->shell);
    fputs("        },\n", out);
}

/* Writes ` key = v,` for show_limits: digits as a number, another text as a string, NULL as false.
 */
static void show_limit(FILE *out, const char *key, const char *text)
{
    fprintf(out, " %s = ", key);
    if (!text)
        fputs("false", out);
    else if (text[strspn(text, "0123456789")] == '\0')
        fputs(text, out);
    else
        show_str(out, text);
    fputc(',', out);
}

/*
 * Writes `limits = { ... },` at indent ind: the limits set in l, or with
 * def (a job's against options.limits) those that differ from it, false
 * for one the job removes. Nothing when there is nothing to write.
 */
static void show_limits(FILE *out, int ind, const struct job_limits *l,
                        const struct job_limits *def)
{
    static const char *const keys[4] = {"time", "silence", "memory", "tasks"};
    char tasks[2][24];
    const char *v[4] = {l->time_text, l->silence_text, l->memory_text, NULL};
    const char *d[4] = {NULL, NULL, NULL, NULL};
    bool any = false, show[4];

    if (l->tasks)
        v[3] =
            (snprintf(tasks[0], sizeof(tasks[0]), "%llu", (unsigned long long)l->tasks), tasks[0]);
    if (def) {
        d[0] = def->time_text;
        d[1] = def->silence_text;
        d[2] = def->memory_text;
        if (def->tasks)
            d[3] = (snprintf(tasks[1], sizeof(tasks[1]), "%llu", (unsigned long long)def->tasks),
                    tasks[1]);
    }
    for (int i = 0; i < 4; i++) {
        show[i] = (v[i] || d[i]) && !(v[i] && d[i] && strcmp(v[i], d[i]) == 0);
        any |= show[i];
    }
    if (!any)
        return;
    fprintf(out, "%*slimits = {", ind, "");
    for (int i = 0; i < 4; i++)
        if (show[i])
            show_limit(out, keys[i], v[i]);
    fputs(" },\n", out);
}

/* Prints the effective config as a Lua config that loads back to the same config. */
void config_show_lua(const struct config *cfg, FILE *out)
{
    fputs("-- The effective bob configuration (bob config show).\n\n", out);
    fputs("options = {\n", out);
    fprintf(out, "    build_threads = %u,\n", cfg->build_threads);
    fprintf(out, "    scan_threads = %u,\n", cfg->scan_threads);
    fprintf(out, "    status_interval = %u,\n", cfg->status_interval);
    show_field(out, 4, "dbdir", cfg->dbdir);
    show_field(out, 4, "logdir", cfg->logdir);
    show_field(out, 4, "log_level", cfg->log_level);
    fprintf(out, "    strict_scan = %s,\n", cfg->strict_scan ? "true" : "false");
    fprintf(out, "    tui = %s,\n", cfg->tui ? "true" : "false");
    fprintf(out, "    keep_logs = %s,\n", cfg->keep_logs ? "true" : "false");
    fprintf(out, "    network = %s,\n", cfg->network ? "true" : "false");
    show_limits(out, 4, &cfg->limits, NULL);
    fputs("}\n", out);

    if (cfg->has_pkgsrc) {
        fputs("\npkgsrc = {\n", out);
        show_field(out, 4, "basedir", cfg->pkgsrc_basedir);
        show_field(out, 4, "make", cfg->make);
        show_field(out, 4, "bootstrap", cfg->bootstrap);
        if (cfg->bootstrap_max_size)
            fprintf(out, "    bootstrap_max_size = %zu,\n", cfg->bootstrap_max_size);
        show_field(out, 4, "build_user", cfg->build_user);
        show_field(out, 4, "build_user_home", cfg->build_user_home);
        show_list(out, 4, "cachevars", &cfg->cachevars, true);
        show_list(out, 4, "pkgpaths", &cfg->pkgpaths, false);
        show_list(out, 4, "save_wrkdir_patterns", &cfg->save_wrkdir_patterns, false);
        fputs("}\n", out);
    }

    if (cfg->has_sandboxes) {
        fputs("\nsandboxes = {\n", out);
        show_field(out, 4, "basedir", cfg->basedir);
        show_field(out, 4, "bindfs", cfg->bindfs);
        if (!cfg->tmpfs_root || !*cfg->tmpfs_root)
            fprintf(out, "    tmpfs_root = %s,\n", cfg->tmpfs_root ? "true" : "false");
        else
            show_field(out, 4, "tmpfs_root", cfg->tmpfs_root);
        if (cfg->env_build.present || cfg->env_dev.present) {
            fputs("    environment = {\n", out);
            show_policy(out, "build", &cfg->env_build);
            show_policy(out, "dev", &cfg->env_dev);
            fputs("    },\n", out);
        }
        show_actions(out, "setup", &cfg->setup);
        show_actions(out, "hooks", &cfg->hooks);
        fputs("}\n", out);
    }

    if (cfg->njobs) {
        fputs("\njobs = {\n", out);
        for (size_t i = 0; i < cfg->njobs; i++) {
            const struct job *j = &cfg->jobs[i];
            fputs("    {\n", out);
            show_field(out, 8, "name", j->name);
            show_list(out, 8, "depends", &j->depends, false);
            if (j->env.n) {
                fputs("        env = ", out);
                show_env(out, &j->env);
                fputs(",\n", out);
            }
            fputs("        stages = {\n", out);
            for (size_t k = 0; k < j->nstages; k++) {
                fputs("            { name = ", out);
                show_str(out, j->stages[k].name);
                fputs(", run = ", out);
                show_str(out, j->stages[k].run);
                fputs(" },\n", out);
            }
            fputs("        },\n", out);
            show_limits(out, 8, &j->limits, &cfg->limits);
            if (j->network != cfg->network)
                fprintf(out, "        network = %s,\n", j->network ? "true" : "false");
            fputs("    },\n", out);
        }
        fputs("}\n", out);
    }
}

/* ---- JSON ------------------------------------------------------------------ */

/* A "K=V" list as an object. */
static void show_json_env(struct json *w, const char *key, const struct strv *env)
{
    json_object_begin(w, key);
    for (size_t i = 0; i < env->n; i++) {
        const char *eq = strchr(env->v[i], '=');
        char *name = xstrndup(env->v[i], eq ? (size_t)(eq - env->v[i]) : strlen(env->v[i]));
        json_string(w, name, eq ? eq + 1 : "");
        free(name);
    }
    json_object_end(w);
}

/* A script value as {"run": ..., "env": {...}}, or null. */
static void show_json_script(struct json *w, const char *key, const struct script *s)
{
    if (!s->run) {
        json_null(w, key);
        return;
    }
    json_object_begin(w, key);
    json_string(w, "run", s->run);
    show_json_env(w, "env", &s->env);
    json_object_end(w);
}

/* An action list. */
static void show_json_actions(struct json *w, const char *key, const struct action_list *l)
{
    json_array_begin(w, key);
    for (size_t i = 0; i < l->n; i++) {
        const struct action *a = &l->v[i];
        json_object_begin(w, NULL);
        json_string(w, "action", action_kind_name(a->kind));
        json_string(w, "where", a->where);
        if (a->kind == ACTION_MOUNT) {
            json_string(w, "fs", fs_type_name(a->fs));
            json_string(w, "fs_name", a->fs_name);
            json_string(w, "opts", a->opts);
        }
        if (a->kind != ACTION_CMD && a->kind != ACTION_MDNS) {
            json_string(w, "src", a->src);
            json_string(w, "dest", a->dest);
        }
        if (a->kind == ACTION_CMD) {
            json_bool(w, "chroot", a->chroot);
            show_json_script(w, "create", &a->create);
            show_json_script(w, "destroy", &a->destroy);
        }
        json_object_begin(w, "only");
        json_string(w, "environment",
                    a->only_env == CTX_BUILD ? "build"
                    : a->only_env == CTX_DEV ? "dev"
                                             : NULL);
        json_string(w, "exists", a->only_exists);
        json_object_end(w);
        json_object_end(w);
    }
    json_array_end(w);
}

/* sandboxes.environment.<name>, or null. */
static void show_json_policy(struct json *w, const char *key, const struct env_policy *p, bool dev)
{
    if (!p->present) {
        json_null(w, key);
        return;
    }
    json_object_begin(w, key);
    json_bool(w, "clear", p->clear);
    json_strv(w, "inherit", &p->inherit);
    show_json_env(w, "vars", &p->vars);
    if (dev)
        json_string(w, "shell", p->shell ? p->shell : "/bin/sh");
    json_object_end(w);
}

/* A job_limits as an object: each limit in seconds, bytes or a count (null: none), and as written.
 */
static void show_json_limits(struct json *w, const char *key, const struct job_limits *l)
{
    json_object_begin(w, key);
    if (l->time)
        json_uint(w, "time", l->time);
    else
        json_null(w, "time");
    json_string(w, "time_text", l->time_text);
    if (l->silence)
        json_uint(w, "silence", l->silence);
    else
        json_null(w, "silence");
    json_string(w, "silence_text", l->silence_text);
    if (l->memory)
        json_uint(w, "memory", l->memory);
    else
        json_null(w, "memory");
    json_string(w, "memory_text", l->memory_text);
    if (l->tasks)
        json_uint(w, "tasks", l->tasks);
    else
        json_null(w, "tasks");
    json_object_end(w);
}

/* Prints the effective config as one JSON object, with the warnings. */
void config_show_json(const struct config *cfg, FILE *out)
{
    struct json w;

    json_init(&w, out, true);

    json_object_begin(&w, NULL);
    json_string(&w, "path", cfg->path);

    json_object_begin(&w, "options");
    json_uint(&w, "build_threads", cfg->build_threads);
    json_uint(&w, "scan_threads", cfg->scan_threads);
    json_uint(&w, "status_interval", cfg->status_interval);
    json_string(&w, "dbdir", cfg->dbdir);
    json_string(&w, "logdir", cfg->logdir);
    json_string(&w, "log_level", cfg->log_level);
    json_bool(&w, "strict_scan", cfg->strict_scan);
    json_bool(&w, "tui", cfg->tui);
    json_bool(&w, "keep_logs", cfg->keep_logs);
    json_bool(&w, "network", cfg->network);
    show_json_limits(&w, "limits", &cfg->limits);
    json_object_end(&w);

    if (cfg->has_pkgsrc) {
        json_object_begin(&w, "pkgsrc");
        json_string(&w, "basedir", cfg->pkgsrc_basedir);
        json_string(&w, "make", cfg->make);
        json_string(&w, "bootstrap", cfg->bootstrap);
        if (cfg->bootstrap_max_size)
            json_uint(&w, "bootstrap_max_size", cfg->bootstrap_max_size);
        json_string(&w, "build_user", cfg->build_user);
        json_string(&w, "build_user_home", cfg->build_user_home);
        json_strv(&w, "cachevars", &cfg->cachevars);
        json_strv(&w, "pkgpaths", &cfg->pkgpaths);
        json_strv(&w, "save_wrkdir_patterns", &cfg->save_wrkdir_patterns);
        json_object_end(&w);
    } else {
        json_null(&w, "pkgsrc");
    }

    if (cfg->has_sandboxes) {
        json_object_begin(&w, "sandboxes");
        json_string(&w, "basedir", cfg->basedir);
        json_string(&w, "bindfs", cfg->bindfs);
        if (cfg->tmpfs_root && *cfg->tmpfs_root)
            json_string(&w, "tmpfs_root", cfg->tmpfs_root);
        else
            json_bool(&w, "tmpfs_root", cfg->tmpfs_root != NULL);
        json_object_begin(&w, "environment");
        show_json_policy(&w, "build", &cfg->env_build, false);
        show_json_policy(&w, "dev", &cfg->env_dev, true);
        json_object_end(&w);
        show_json_actions(&w, "setup", &cfg->setup);
        show_json_actions(&w, "hooks", &cfg->hooks);
        json_object_end(&w);
    } else {
        json_null(&w, "sandboxes");
    }

    json_array_begin(&w, "jobs");
    for (size_t i = 0; i < cfg->njobs; i++) {
        const struct job *j = &cfg->jobs[i];
        json_object_begin(&w, NULL);
        json_string(&w, "name", j->name);
        json_strv(&w, "depends", &j->depends);
        show_json_env(&w, "env", &j->env);
        json_array_begin(&w, "stages");
        for (size_t k = 0; k < j->nstages; k++) {
            json_object_begin(&w, NULL);
            json_string(&w, "name", j->stages[k].name);
            json_string(&w, "run", j->stages[k].run);
            json_object_end(&w);
        }
        json_array_end(&w);
        show_json_limits(&w, "limits", &j->limits);
        json_bool(&w, "network", j->network);
        json_object_end(&w);
    }
    json_array_end(&w);

    json_strv(&w, "warnings", &cfg->warnings);
    json_object_end(&w);
    fputc('\n', out);
}
