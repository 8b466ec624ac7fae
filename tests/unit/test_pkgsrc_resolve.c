/*
 * Unit tests of the resolver (src/pkgsrc/resolve.c): best matches, limited
 * builds, skip and fail reasons carried to dependents, unresolvable
 * patterns, scan failures, cycles and MULTI_VERSION job names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "pkgsrc/resolve.h"

/* Adds pbulk-index text for pkgpath to x. */
static void add(struct pbulk_index *x, const char *pkgpath, const char *text)
{
    struct err e;
    if (pbulk_parse(text, strlen(text), pkgpath, x, &e) < 0)
        fail_msg("%s: %s", pkgpath, e.msg);
}

/* The kept package of job, which must exist. */
static const struct resolve_pkg *job(const struct resolve *r, const char *name)
{
    long i = resolve_find_job(r, name);
    if (i < 0)
        fail_msg("no job %s", name);
    return &r->v[i];
}

/* Whether job a has b among its resolved dependencies. */
static bool has_dep(const struct resolve *r, const char *a, const char *b)
{
    const struct resolve_pkg *p = job(r, a);
    for (size_t k = 0; k < p->ndeps; k++)
        if (strcmp(r->v[p->deps[k]].job, b) == 0)
            return true;
    return false;
}

static void reason_has(const struct resolve *r, const char *name, enum resolve_state st,
                       const char *needle)
{
    const struct resolve_pkg *p = job(r, name);
    if (p->state != st)
        fail_msg("%s: state %d, want %d (reason %s)", name, p->state, st,
                 p->reason ? p->reason : "none");
    if (needle && (!p->reason || !strstr(p->reason, needle)))
        fail_msg("%s: reason '%s' lacks '%s'", name, p->reason ? p->reason : "", needle);
}

/* A small tree: a leaf with a chain, tools, alternatives and broken parts. */
static void tree(struct pbulk_index *x)
{
    add(x, "misc/leaf",
        "PKGNAME=leaf-1.0\n"
        "ALL_DEPENDS=lib>=1.2:../../devel/lib nbpatch-[0-9]*:../../devel/nbpatch "
        "digest>=20010302:../../pkgtools/digest lib>=1.0:../../devel/lib\n");
    add(x, "devel/lib", "PKGNAME=lib-1.5nb1\nALL_DEPENDS=base-[0-9]*:../../devel/base\n");
    add(x, "devel/lib13", "PKGNAME=lib-1.3\n");
    add(x, "devel/base", "PKGNAME=base-2\n");
    add(x, "devel/nbpatch", "PKGNAME=nbpatch-20151107\n");
    add(x, "pkgtools/digest", "PKGNAME=digest-20220214\nBOOTSTRAP_PKG=yes\n");
    add(x, "misc/unlisted", "PKGNAME=unlisted-1\n");
    add(x, "misc/skipme", "PKGNAME=skipme-1\nPKG_SKIP_REASON=not for this platform\n");
    add(x, "misc/broken", "PKGNAME=broken-1\nPKG_FAIL_REASON=does not build with this gcc\n");
    add(x, "misc/needskip", "PKGNAME=needskip-1\nALL_DEPENDS=skipme-[0-9]*:../../misc/skipme\n");
    add(x, "misc/needbroken",
        "PKGNAME=needbroken-1\nALL_DEPENDS=skipme-[0-9]*:../../misc/skipme "
        "broken>=1:../../misc/broken\n");
    add(x, "misc/chain", "PKGNAME=chain-1\nALL_DEPENDS=needbroken-1:../../misc/needbroken\n");
    add(x, "misc/unres", "PKGNAME=unres-1\nALL_DEPENDS=zz>=9:../../misc/zz\n");
    add(x, "misc/needunres", "PKGNAME=needunres-1\nALL_DEPENDS=unres>=1:../../misc/unres\n");
    add(x, "misc/alt", "PKGNAME=alt-1\nALL_DEPENDS={nothere,base}>=1:../../devel/base\n");
    add(x, "misc/badpat", "PKGNAME=badpat-1\nALL_DEPENDS={base>=1:../../devel/base\n");
}

static void test_limited(void **state)
{
    struct pbulk_index x = {0};
    struct strv roots = {0};
    struct resolve r;
    (void)state;
    tree(&x);
    strv_push(&roots, "misc/leaf");
    resolve_run(&x, &roots, NULL, 0, &r);
    /* The leaf and what it needs; lib-1.5nb1 beats lib-1.3; nothing else. */
    assert_int_equal(r.n, 5);
    assert_int_equal(resolve_find_job(&r, "devel/lib13"), -1);
    assert_int_equal(resolve_find_job(&r, "misc/unlisted"), -1);
    assert_true(has_dep(&r, "misc/leaf", "devel/lib"));
    assert_true(has_dep(&r, "misc/leaf", "devel/nbpatch"));
    assert_true(has_dep(&r, "misc/leaf", "pkgtools/digest"));
    assert_true(has_dep(&r, "devel/lib", "devel/base"));
    assert_false(has_dep(&r, "misc/leaf", "devel/base"));
    /* lib>=1.0 is satisfied by lib>=1.2's package: one edge, not two. */
    assert_int_equal(job(&r, "misc/leaf")->ndeps, 3);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(r.v[i].state, RESOLVE_OK);
    resolve_free(&r);
    strv_free(&roots);
    pbulk_index_free(&x);
}

static void test_reasons(void **state)
{
    struct pbulk_index x = {0};
    struct resolve r;
    (void)state;
    tree(&x);
    resolve_run(&x, NULL, NULL, 0, &r);
    assert_int_equal(r.n, x.n);
    reason_has(&r, "misc/skipme", RESOLVE_SKIP, "not for this platform");
    reason_has(&r, "misc/broken", RESOLVE_FAIL, "does not build with this gcc");
    reason_has(&r, "misc/needskip", RESOLVE_INDIRECT,
               "depends on misc/skipme, which is skipped: not for this platform");
    /* The worst of two: the failure. */
    reason_has(&r, "misc/needbroken", RESOLVE_INDIRECT,
               "depends on misc/broken, which is skipped: does not build with this gcc");
    /* Through a chain, the root cause stays. */
    reason_has(&r, "misc/chain", RESOLVE_INDIRECT,
               "depends on misc/needbroken, which is skipped: does not build with this gcc");
    reason_has(&r, "misc/unres", RESOLVE_UNRESOLVED, "no package satisfies zz>=9");
    reason_has(&r, "misc/needunres", RESOLVE_INDIRECT,
               "depends on misc/unres, which is skipped: no package satisfies zz>=9");
    reason_has(&r, "misc/alt", RESOLVE_OK, NULL);
    assert_true(has_dep(&r, "misc/alt", "devel/base"));
    reason_has(&r, "misc/badpat", RESOLVE_FAIL, "malformed dependency pattern {base>=1");
    reason_has(&r, "misc/leaf", RESOLVE_OK, NULL);
    resolve_free(&r);
    pbulk_index_free(&x);
}

static void test_scanfail(void **state)
{
    struct pbulk_index x = {0};
    struct strv roots = {0};
    struct resolve r;
    struct resolve_scanfail f = {"devel/gone", "bmake: exit 2"};
    (void)state;
    add(&x, "misc/a", "PKGNAME=a-1\nALL_DEPENDS=gone-[0-9]*:../../devel/gone\n");
    add(&x, "misc/b", "PKGNAME=b-1\nALL_DEPENDS=a-[0-9]*:../../misc/a\n");
    strv_push(&roots, "misc/b");
    resolve_run(&x, &roots, &f, 1, &r);
    assert_int_equal(r.n, 2);
    reason_has(&r, "misc/a", RESOLVE_UNRESOLVED, "devel/gone failed to scan");
    reason_has(&r, "misc/b", RESOLVE_INDIRECT, "depends on misc/a");
    resolve_free(&r);
    strv_free(&roots);
    pbulk_index_free(&x);
}

static void test_cycle(void **state)
{
    struct pbulk_index x = {0};
    struct resolve r;
    (void)state;
    add(&x, "c/a", "PKGNAME=a-1\nALL_DEPENDS=b-1:../../c/b\n");
    add(&x, "c/b", "PKGNAME=b-1\nALL_DEPENDS=a-1:../../c/a\n");
    add(&x, "c/c", "PKGNAME=c-1\nALL_DEPENDS=a-1:../../c/a\n");
    add(&x, "c/self", "PKGNAME=self-1\nALL_DEPENDS=self-1:../../c/self\n");
    add(&x, "c/ok", "PKGNAME=ok-1\n");
    resolve_run(&x, NULL, NULL, 0, &r);
    reason_has(&r, "c/a", RESOLVE_UNRESOLVED, "dependency cycle: c/a -> c/b -> c/a");
    reason_has(&r, "c/b", RESOLVE_UNRESOLVED, "dependency cycle");
    reason_has(&r, "c/c", RESOLVE_INDIRECT, "depends on c/a");
    reason_has(&r, "c/self", RESOLVE_UNRESOLVED, "dependency cycle: c/self -> c/self");
    reason_has(&r, "c/ok", RESOLVE_OK, NULL);
    resolve_free(&r);
    pbulk_index_free(&x);
}

static void test_multi_version(void **state)
{
    struct pbulk_index x = {0};
    struct strv roots = {0};
    struct resolve r;
    (void)state;
    add(&x, "lang/py-foo",
        "PKGNAME=py311-foo-1\nMULTI_VERSION= PYTHON_VERSION_REQD=311\n"
        "PKGNAME=py310-foo-1\nMULTI_VERSION= PYTHON_VERSION_REQD=310\n");
    add(&x, "misc/user", "PKGNAME=user-1\nALL_DEPENDS=py310-foo-[0-9]*:../../lang/py-foo\n");
    /* Only the variant needed is kept: the job is the pkgpath. */
    strv_push(&roots, "misc/user");
    resolve_run(&x, &roots, NULL, 0, &r);
    assert_int_equal(r.n, 2);
    assert_true(has_dep(&r, "misc/user", "lang/py-foo"));
    assert_string_equal(x.v[r.v[resolve_find_job(&r, "lang/py-foo")].idx].pkgname, "py310-foo-1");
    resolve_free(&r);
    /* Both kept: the names add the MULTI_VERSION values. */
    strv_push(&roots, "lang/py-foo");
    resolve_run(&x, &roots, NULL, 0, &r);
    assert_int_equal(r.n, 3);
    assert_true(has_dep(&r, "misc/user", "lang/py-foo/310"));
    assert_string_equal(x.v[job(&r, "lang/py-foo/311")->idx].pkgname, "py311-foo-1");
    resolve_free(&r);
    strv_free(&roots);
    pbulk_index_free(&x);
}

static void test_duplicate_name(void **state)
{
    struct pbulk_index x = {0};
    struct resolve r;
    (void)state;
    add(&x, "a/one", "PKGNAME=same-1\n");
    add(&x, "a/two", "PKGNAME=same-1\n");
    resolve_run(&x, NULL, NULL, 0, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].job, "a/one");
    resolve_free(&r);
    pbulk_index_free(&x);
}

static void test_large(void **state)
{
    struct pbulk_index x = {0};
    struct resolve r;
    char path[64], text[256];
    (void)state;
    /* 20000 packages, each needing the two before it: resolves fast, in order. */
    for (int i = 0; i < 20000; i++) {
        snprintf(path, sizeof(path), "cat%d/p%d", i % 100, i);
        if (i >= 2)
            snprintf(text, sizeof(text),
                     "PKGNAME=p%d-1.%d\nALL_DEPENDS=p%d>=1:../../cat%d/p%d "
                     "p%d-[0-9]*:../../cat%d/p%d\n",
                     i, i, i - 1, (i - 1) % 100, i - 1, i - 2, (i - 2) % 100, i - 2);
        else
            snprintf(text, sizeof(text), "PKGNAME=p%d-1.%d\n", i, i);
        add(&x, path, text);
    }
    resolve_run(&x, NULL, NULL, 0, &r);
    assert_int_equal(r.n, 20000);
    assert_int_equal(r.v[19999].ndeps, 2);
    assert_int_equal(r.v[r.v[19999].deps[0]].idx, 19998);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(r.v[i].state, RESOLVE_OK);
    resolve_free(&r);
    pbulk_index_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_limited),
        harness_test(test_reasons),
        harness_test(test_scanfail),
        harness_test(test_cycle),
        harness_test(test_multi_version),
        harness_test(test_duplicate_name),
        harness_test_timeout(test_large, 120),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
