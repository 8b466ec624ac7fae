/*
 * pkgsrc patterns and dewey versions (see pattern.h for the rules). This
 * follows the documented behaviour of pkg_install's lib/dewey.c and
 * lib/opattern.c and of pbulk's choice among several matches; it is
 * written from those rules, not from their code. Versions are compared
 * as they are read, without building arrays: the resolver compares
 * tens of thousands of them.
 */
#include "pkgsrc/pattern.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

enum {
    PATTERN_ALPHA = -3,
    PATTERN_BETA = -2,
    PATTERN_RC = -1,
    PATTERN_DOT = 0,
};

/* A reader of one version's components; nb collects the `nbN` revision. */
struct pattern_ver {
    const char *p;
    long long pending; /* the letter after a PATTERN_DOT of a letter component */
    bool has_pending;
    long long nb;
};

static const struct {
    const char *s;
    size_t len;
    int value;
} pattern_modifiers[] = {
    {"alpha", 5, PATTERN_ALPHA}, {"beta", 4, PATTERN_BETA}, {"pre", 3, PATTERN_RC},
    {"rc", 2, PATTERN_RC},       {"pl", 2, PATTERN_DOT},    {"_", 1, PATTERN_DOT},
    {".", 1, PATTERN_DOT},
};

/* Reads digits at *p into a number that saturates instead of overflowing. */
static long long pattern_number(const char **p)
{
    long long n = 0;
    while (isdigit((unsigned char)**p)) {
        if (n < (INT64_MAX - 9) / 10)
            n = n * 10 + (**p - '0');
        else
            n = INT64_MAX / 2;
        (*p)++;
    }
    return n;
}

/* The next component of the version into *out: true, or false at its end. */
static bool pattern_ver_next(struct pattern_ver *v, long long *out)
{
    if (v->has_pending) {
        v->has_pending = false;
        *out = v->pending;
        return true;
    }
    while (*v->p) {
        const char *p = v->p;
        size_t i;
        if (isdigit((unsigned char)*p)) {
            *out = pattern_number(&v->p);
            return true;
        }
        for (i = 0; i < sizeof(pattern_modifiers) / sizeof(pattern_modifiers[0]); i++)
            if (strncasecmp(p, pattern_modifiers[i].s, pattern_modifiers[i].len) == 0)
                break;
        if (i < sizeof(pattern_modifiers) / sizeof(pattern_modifiers[0])) {
            v->p += pattern_modifiers[i].len;
            *out = pattern_modifiers[i].value;
            return true;
        }
        if (strncasecmp(p, "nb", 2) == 0) {
            v->p += 2;
            v->nb = pattern_number(&v->p);
            continue;
        }
        v->p++;
        if (isalpha((unsigned char)*p)) {
            v->pending = tolower((unsigned char)*p) - 'a' + 1;
            v->has_pending = true;
            *out = PATTERN_DOT;
            return true;
        }
        /* Any other character is ignored. */
    }
    return false;
}

/* Compares two versions component by component, then their nb revisions. */
int pattern_dewey_cmp(const char *v1, const char *v2)
{
    struct pattern_ver a = {.p = v1}, b = {.p = v2};
    for (;;) {
        long long x = 0, y = 0;
        bool ha = pattern_ver_next(&a, &x), hb = pattern_ver_next(&b, &y);
        if (!ha && !hb)
            break;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a.nb < b.nb ? -1 : a.nb > b.nb ? 1 : 0;
}

enum pattern_op { PATTERN_LT, PATTERN_LE, PATTERN_GT, PATTERN_GE };

/* The operator at s ('<' or '>', maybe '='); its length. */
static size_t pattern_op(const char *s, enum pattern_op *op)
{
    if (s[0] == '<')
        *op = s[1] == '=' ? PATTERN_LE : PATTERN_LT;
    else
        *op = s[1] == '=' ? PATTERN_GE : PATTERN_GT;
    return s[1] == '=' ? 2 : 1;
}

/* Whether cmp (a dewey_cmp result) satisfies op. */
static bool pattern_test(int cmp, enum pattern_op op)
{
    switch (op) {
    case PATTERN_LT:
        return cmp < 0;
    case PATTERN_LE:
        return cmp <= 0;
    case PATTERN_GT:
        return cmp > 0;
    default:
        return cmp >= 0;
    }
}

/* A dewey pattern (it holds '<' or '>', no braces) against pkgname. */
static int pattern_dewey_match(const char *pattern, const char *pkgname)
{
    const char *version = strrchr(pkgname, '-'), *sep = strpbrk(pattern, "<>"), *sep2 = NULL;
    enum pattern_op op, op2;
    char low[256];
    int cmp;

    if (!version || !sep)
        return 0;
    if (sep - pattern != version - pkgname ||
        strncmp(pkgname, pattern, (size_t)(version - pkgname)) != 0)
        return 0;
    version++;
    sep += pattern_op(sep, &op);
    if (op == PATTERN_GT || op == PATTERN_GE) {
        sep2 = strchr(sep, '<');
        if (sep2) {
            size_t n = pattern_op(sep2, &op2);
            if (!pattern_test(pattern_dewey_cmp(version, sep2 + n), op2))
                return 0;
        }
    }
    if (sep2) {
        size_t n = (size_t)(sep2 - sep);
        if (n >= sizeof(low))
            n = sizeof(low) - 1;
        memcpy(low, sep, n);
        low[n] = '\0';
        cmp = pattern_dewey_cmp(version, low);
    } else {
        cmp = pattern_dewey_cmp(version, sep);
    }
    return pattern_test(cmp, op);
}

/* Where the first brace group starting at open ends (just after its '}'), or NULL. */
static const char *pattern_group_end(const char *open)
{
    int depth = 0;
    for (const char *p = open; *p; p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p + 1;
    }
    return NULL;
}

/*
 * Calls fn on each alternative of the first brace group of pattern (the
 * text before the group, one alternative, the text after it), until fn
 * returns non-zero; returns that, 0, or -EINVAL when the braces do not
 * balance.
 */
static int pattern_alternatives(const char *pattern, int (*fn)(const char *alt, void *data),
                                void *data)
{
    const char *open = strchr(pattern, '{'), *end, *cp;
    struct buf b = {0};
    int rc = 0;

    if (!open || !(end = pattern_group_end(open)))
        return -EINVAL;
    for (cp = open + 1; cp < end;) {
        const char *sep = cp;
        int depth = 0;
        while (depth > 0 || (*sep != '}' && *sep != ',')) {
            if (*sep == '{')
                depth++;
            else if (*sep == '}')
                depth--;
            sep++;
        }
        b.len = 0;
        buf_add(&b, pattern, (size_t)(open - pattern));
        buf_add(&b, cp, (size_t)(sep - cp));
        buf_adds(&b, end);
        if ((rc = fn(b.p, data)) != 0)
            break;
        cp = sep + 1;
        if (*sep == '}')
            break;
    }
    buf_free(&b);
    return rc;
}

static int pattern_match_alt(const char *alt, void *data)
{
    int rc = pattern_match(alt, data);
    return rc; /* 1 stops at the first match, <0 at an error */
}

int pattern_match(const char *pattern, const char *pkgname)
{
    char *withver;
    int rc;

    if (strchr(pattern, '{') || strchr(pattern, '}')) {
        if (!strchr(pattern, '{'))
            return -EINVAL;
        return pattern_alternatives(pattern, pattern_match_alt, (void *)pkgname);
    }
    if (strpbrk(pattern, "<>"))
        return pattern_dewey_match(pattern, pkgname);
    if (strpbrk(pattern, "*?[]") && fnmatch(pattern, pkgname, FNM_PERIOD) == 0)
        return 1;
    if (strcmp(pattern, pkgname) == 0)
        return 1;
    /* A glob or a name may be written without the version. */
    withver = xasprintf("%s-[0-9]*", pattern);
    rc = fnmatch(withver, pkgname, FNM_PERIOD) == 0;
    free(withver);
    return rc;
}

static int pattern_check_alt(const char *alt, void *data)
{
    (void)data;
    return pattern_check(alt);
}

int pattern_check(const char *pattern)
{
    const char *sep, *sep2;
    enum pattern_op op, op2;

    if (!*pattern)
        return -EINVAL;
    if (strchr(pattern, '{') || strchr(pattern, '}')) {
        int depth = 0;
        for (const char *p = pattern; *p; p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && --depth < 0)
                return -EINVAL;
        }
        if (depth != 0)
            return -EINVAL;
        return pattern_alternatives(pattern, pattern_check_alt, NULL) < 0 ? -EINVAL : 0;
    }
    if (!(sep = strpbrk(pattern, "<>")))
        return 0;
    /* At most a lower bound then an upper bound, with a name before them. */
    if (sep == pattern)
        return -EINVAL;
    sep += pattern_op(sep, &op);
    sep2 = strpbrk(sep, "<>");
    if (!sep2)
        return 0;
    pattern_op(sep2, &op2);
    if ((op != PATTERN_GT && op != PATTERN_GE) || (op2 != PATTERN_LT && op2 != PATTERN_LE))
        return -EINVAL;
    if (strpbrk(sep2 + 1, "<>") && strpbrk(sep2 + 1, "<>") != sep2 + 1)
        return -EINVAL;
    return sep2[1] == '<' || sep2[1] == '>' ? -EINVAL : 0;
}

long pattern_best(const char *pattern, const char *const *names, size_t n)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        const char *v, *bv;
        int cmp;
        if (pattern_match(pattern, names[i]) != 1)
            continue;
        if (best < 0) {
            best = (long)i;
            continue;
        }
        v = strrchr(names[i], '-');
        bv = strrchr(names[best], '-');
        cmp = pattern_dewey_cmp(v ? v + 1 : "", bv ? bv + 1 : "");
        if (cmp > 0 || (cmp == 0 && strcmp(names[i], names[best]) > 0))
            best = (long)i;
    }
    return best;
}

size_t pattern_pkgbase_len(const char *pkgname)
{
    const char *dash = strrchr(pkgname, '-');
    return dash ? (size_t)(dash - pkgname) : strlen(pkgname);
}

bool pattern_pkgbase(const char *pattern, char *out, size_t n)
{
    const char *end;
    size_t len;

    if (strpbrk(pattern, "{}"))
        return false;
    if ((end = strpbrk(pattern, "<>"))) {
        len = (size_t)(end - pattern);
    } else if ((end = strpbrk(pattern, "*?["))) {
        /* "name-[0-9]*", "name-1.*": the base is before the last '-' ahead of the glob. */
        const char *dash = NULL;
        for (const char *p = pattern; p < end; p++)
            if (*p == '-')
                dash = p;
        if (!dash)
            return false;
        for (const char *p = dash + 1; p < end; p++)
            if (!isdigit((unsigned char)*p) && *p != '.')
                return false;
        if (dash + 1 == end && *end != '[')
            return false;
        len = (size_t)(dash - pattern);
    } else {
        return false;
    }
    if (len == 0 || len >= n)
        return false;
    memcpy(out, pattern, len);
    out[len] = '\0';
    return true;
}

struct pattern_expand_ctx {
    struct strv *out;
};

static int pattern_expand_alt(const char *alt, void *data)
{
    struct pattern_expand_ctx *c = data;
    return pattern_expand(alt, c->out);
}

int pattern_expand(const char *pattern, struct strv *out)
{
    struct pattern_expand_ctx c = {out};
    if (!strchr(pattern, '{')) {
        if (strchr(pattern, '}'))
            return -EINVAL;
        strv_push(out, pattern);
        return 0;
    }
    return pattern_alternatives(pattern, pattern_expand_alt, &c) < 0 ? -EINVAL : 0;
}
