/*
 * Unit tests of pkgsrc patterns and dewey versions (src/pkgsrc/pattern.c)
 * against the rules pkg_install documents for pkg_match(), dewey.c and
 * pbulk's choice of the best match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "pkgsrc/pattern.h"
#include "util/util.h"

/* Asserts the sign of pattern_dewey_cmp(a, b) and of the reverse comparison. */
static void cmp_is(const char *a, const char *b, int want)
{
    int got = pattern_dewey_cmp(a, b), rev = pattern_dewey_cmp(b, a);
    got = got < 0 ? -1 : got > 0;
    rev = rev < 0 ? -1 : rev > 0;
    if (got != want || rev != -want)
        fail_msg("dewey %s vs %s: got %d (reverse %d), want %d", a, b, got, rev, want);
}

/* Asserts pattern_match(pattern, name) == want. */
static void match_is(const char *pattern, const char *name, int want)
{
    int got = pattern_match(pattern, name);
    if (got != want)
        fail_msg("pattern_match(%s, %s) = %d, want %d", pattern, name, got, want);
}

static void test_dewey_order(void **state)
{
    (void)state;
    /* The documented ladder: alpha < beta < pre = rc < release < pl = '.' 0. */
    cmp_is("1.0alpha", "1.0beta", -1);
    cmp_is("1.0beta", "1.0rc1", -1);
    cmp_is("1.0rc1", "1.0", -1);
    cmp_is("1.0pre1", "1.0rc1", 0);
    cmp_is("1.0", "1.0pl1", -1);
    cmp_is("1.0pl1", "1.1", -1);
    cmp_is("1.0alpha2", "1.0alpha10", -1);
    /* Numbers compare as numbers, a missing component is 0. */
    cmp_is("1.10", "1.9", 1);
    cmp_is("1.0", "1", 0);
    cmp_is("1.0.0", "1", 0);
    cmp_is("2", "10", -1);
    cmp_is("007", "7", 0);
    /* '_' and "pl" are the same separator as '.'. */
    cmp_is("1_2", "1.2", 0);
    cmp_is("1pl2", "1.2", 0);
    /* A letter is 0 then its place: 1.0a < 1.0b < 1.0.1 < 1.0.3 and 1.0c = 1.0.3. */
    cmp_is("1.0a", "1.0b", -1);
    cmp_is("1.0b", "1.0.3", -1);
    cmp_is("1.0c", "1.0.3", 0);
    cmp_is("1.0C", "1.0c", 0);
    cmp_is("1.0", "1.0a", -1);
    /* nb revisions come last. */
    cmp_is("1.0nb1", "1.0", 1);
    cmp_is("1.0nb2", "1.0nb10", -1);
    cmp_is("1.0nb9", "1.0.1", -1);
    cmp_is("1.0rc1nb5", "1.0", -1);
    cmp_is("1.0nb", "1.0", 0);
    /* Other characters are ignored; modifiers are case-insensitive. */
    cmp_is("1.0+", "1.0", 0);
    cmp_is("1.0RC1", "1.0rc1", 0);
    cmp_is("1.0BETA", "1.0beta", 0);
    /* A huge number saturates instead of wrapping round. */
    cmp_is("20251208143052123456123", "1", 1);
    cmp_is("", "0", 0);
}

static void test_dewey_patterns(void **state)
{
    (void)state;
    match_is("foo>=1.0", "foo-1.0", 1);
    match_is("foo>=1.0", "foo-1.0nb1", 1);
    match_is("foo>=1.0", "foo-0.9", 0);
    match_is("foo>=1.0", "foo-1.0rc1", 0);
    match_is("foo>1.0", "foo-1.0", 0);
    match_is("foo>1.0", "foo-1.0nb1", 1);
    match_is("foo<2", "foo-1.99", 1);
    match_is("foo<2", "foo-2.0", 0);
    match_is("foo<2", "foo-2.0alpha", 1);
    match_is("foo<=2", "foo-2.0", 1);
    match_is("foo<=2", "foo-2.0nb1", 0);
    /* A range: lower bound first, then the upper one. */
    match_is("foo>=1.1<3.0", "foo-1.0.2", 0);
    match_is("foo>=1.1<3.0", "foo-1.1.1w", 1);
    match_is("foo>=1.1<3.0", "foo-2.9", 1);
    match_is("foo>=1.1<3.0", "foo-3.0", 0);
    match_is("foo>1<=3", "foo-3", 1);
    /* The name must be the whole package base. */
    match_is("foo>=1", "foo-bar-1.0", 0);
    match_is("foo-bar>=1", "foo-bar-1.0", 1);
    match_is("foo>=1", "xfoo-1.0", 0);
    match_is("foo>=1", "foo", 0);
    match_is("digest>=20010302", "digest-20220214", 1);
    /* pre is rc: -1, below the release and its revisions. */
    match_is("spandsp>=0.0.6pre18", "spandsp-0.0.6nb5", 1);
    match_is("spandsp>=0.0.6pre18", "spandsp-0.0.6rc18", 1);
    match_is("spandsp>=0.0.6pre18", "spandsp-0.0.6rc17", 0);
    /* Bounds with modifiers and revisions on both sides. */
    match_is("pkg>1.0alpha3nb2<2.0beta4nb7", "pkg-1.0alpha3nb2", 0);
    match_is("pkg>1.0alpha3nb2<2.0beta4nb7", "pkg-1.0alpha3nb3", 1);
    match_is("pkg>1.0alpha3nb2<2.0beta4nb7", "pkg-2.0beta3nb8", 1);
    match_is("pkg>1.0alpha3nb2<2.0beta4nb7", "pkg-2.0beta4nb7", 0);
    match_is("pkg>1.0alpha3nb2<2.0beta4nb7", "pkg-2.0", 0);
    /* Trailing zero components and separators do not count; alpha does. */
    match_is("pkg>1.0.0.0alphanb1", "pkg-1", 1);
    match_is("pkg>1.0.0.0alphanb1", "pkg-1.0.0.0_", 1);
    match_is("pkg>1.0.0.0alphanb1", "pkg-1.0.0.0alphanb2", 1);
    match_is("pkg>1.0.0.0alphanb1", "pkg-1.0.0.0alphanb1", 0);
    match_is("pkg>1.0.0.0alphanb1", "pkg-1.0alpha", 0);
    /* An empty version: 0. */
    match_is("pkg>", "pkg-0", 0);
    match_is("pkg>", "pkg-0nb1", 1);
    match_is("pkg>=", "pkg-", 1);
    match_is("pkg>=1.0", "pkg1.0", 0);
    /* == is not a pattern operator: a plain name that matches no package. */
    match_is("foo==1.0", "foo-1.0", 0);
}

static void test_globs_and_names(void **state)
{
    (void)state;
    match_is("nbpatch-[0-9]*", "nbpatch-20151107", 1);
    match_is("nbpatch-[0-9]*", "nbpatch-x1", 0);
    match_is("nbpatch-[0-9]*", "nbpatchx-1", 0);
    match_is("foo-1.*", "foo-1.2", 1);
    match_is("foo-1.*", "foo-2.0", 0);
    match_is("foo-?.0", "foo-3.0", 1);
    match_is("p5-*", "p5-Foo-1.0", 1);
    /* A plain name matches itself, or itself with any version. */
    match_is("foo-1.0", "foo-1.0", 1);
    match_is("foo-1.0", "foo-1.0nb1", 0);
    match_is("foo", "foo-1.0", 1);
    match_is("foo", "foo-bar-1.0", 0);
    match_is("foo", "foo", 1);
    match_is("fo", "foo-1.0", 0);
    /* A glob without the version gets one too. */
    match_is("py3*-foo", "py311-foo-1.0", 1);
}

static void test_alternatives(void **state)
{
    (void)state;
    match_is("{foo,bar}>=1", "foo-1.0", 1);
    match_is("{foo,bar}>=1", "bar-2", 1);
    match_is("{foo,bar}>=1", "baz-2", 0);
    match_is("mpg123{,-esound,-nas}>=0.59.18", "mpg123-1", 1);
    match_is("mpg123{,-esound,-nas}>=0.59.18", "mpg123-nas-1", 1);
    match_is("mpg123{,-esound,-nas}>=0.59.18", "mpg123-esd-1", 0);
    /* Nested groups. */
    match_is("{a{x,y},b}-[0-9]*", "ax-1", 1);
    match_is("{a{x,y},b}-[0-9]*", "ay-1", 1);
    match_is("{a{x,y},b}-[0-9]*", "b-1", 1);
    match_is("{a{x,y},b}-[0-9]*", "a-1", 0);
    match_is("{a{x,y},b}-[0-9]*", "az-1", 0);
    /* Two groups. */
    match_is("{gcc,clang}-{10,11}.*", "clang-11.2", 1);
    match_is("{gcc,clang}-{10,11}.*", "gcc-12.1", 0);
    /* Malformed ones are errors. */
    match_is("{foo,bar>=1", "foo-1", -EINVAL);
    match_is("foo}>=1", "foo-1", -EINVAL);
}

static void test_check(void **state)
{
    (void)state;
    assert_int_equal(pattern_check("foo>=1.0<2"), 0);
    assert_int_equal(pattern_check("foo>1<=2"), 0);
    assert_int_equal(pattern_check("foo-[0-9]*"), 0);
    assert_int_equal(pattern_check("{a,b{c,d}}>=1"), 0);
    assert_int_equal(pattern_check("foo<1>2"), -EINVAL);
    assert_int_equal(pattern_check("foo>1>=2"), -EINVAL);
    assert_int_equal(pattern_check("foo>=1<2<3"), -EINVAL);
    assert_int_equal(pattern_check(">=1"), -EINVAL);
    assert_int_equal(pattern_check("{a,b"), -EINVAL);
    assert_int_equal(pattern_check("a}"), -EINVAL);
    assert_int_equal(pattern_check("{a,b}}{"), -EINVAL);
    assert_int_equal(pattern_check(""), -EINVAL);
}

static void test_best(void **state)
{
    const char *names[] = {"foo-1.0", "foo-2.0rc1", "foo-1.5nb3", "bar-9", "foo-2.0alpha"};
    const char *mpg[] = {"mpg123-1", "mpg123-esound-1", "mpg123-nas-1"};
    const char *same[] = {"pkg-1.0", "pkg-1.0"};
    (void)state;
    assert_int_equal(pattern_best("foo>=1", names, 5), 1);
    assert_int_equal(pattern_best("foo<2", names, 5), 1);
    assert_int_equal(pattern_best("foo<1.6", names, 5), 2);
    assert_int_equal(pattern_best("foo<1", names, 5), -1);
    assert_int_equal(pattern_best("bar-[0-9]*", names, 5), 3);
    assert_int_equal(pattern_best("{foo,bar}>=0", names, 5), 3);
    /* pbulk: on equal versions the greater name wins, in any order. */
    assert_int_equal(pattern_best("mpg123{,-esound,-nas}>=0.59.18", mpg, 3), 2);
    {
        const char *rev[] = {"mpg123-nas-1", "mpg123-1", "mpg123-esound-1"};
        assert_int_equal(pattern_best("mpg123{,-esound,-nas}>=0.59.18", rev, 3), 0);
    }
    /* A repeated name keeps the first. */
    assert_int_equal(pattern_best("pkg-[0-9]*", same, 2), 0);
    assert_int_equal(pattern_best("{x", names, 5), -1);
}

static void test_pkgbase(void **state)
{
    char b[64];
    (void)state;
    assert_int_equal(pattern_pkgbase_len("foo-bar-1.0"), 7);
    assert_int_equal(pattern_pkgbase_len("foo"), 3);
    assert_true(pattern_pkgbase("foo>=1", b, sizeof(b)));
    assert_string_equal(b, "foo");
    assert_true(pattern_pkgbase("mpg123-nas>=1<2", b, sizeof(b)));
    assert_string_equal(b, "mpg123-nas");
    assert_true(pattern_pkgbase("foo-[0-9]*", b, sizeof(b)));
    assert_string_equal(b, "foo");
    assert_true(pattern_pkgbase("foo-bar-1.*", b, sizeof(b)));
    assert_string_equal(b, "foo-bar");
    assert_false(pattern_pkgbase("foo*-1.0", b, sizeof(b)));
    assert_false(pattern_pkgbase("p5-*", b, sizeof(b)));
    assert_false(pattern_pkgbase("{a,b}>=1", b, sizeof(b)));
    assert_false(pattern_pkgbase("foo", b, sizeof(b)));
    assert_false(pattern_pkgbase("foo>=1", b, 3));
}

static void test_expand(void **state)
{
    struct strv v = {0};
    (void)state;
    assert_int_equal(pattern_expand("{a{x,y},b}-{1,2}", &v), 0);
    assert_int_equal(v.n, 6);
    assert_string_equal(v.v[0], "ax-1");
    assert_string_equal(v.v[1], "ax-2");
    assert_string_equal(v.v[2], "ay-1");
    assert_string_equal(v.v[5], "b-2");
    strv_free(&v);
    assert_int_equal(pattern_expand("plain>=1", &v), 0);
    assert_int_equal(v.n, 1);
    strv_free(&v);
    assert_int_equal(pattern_expand("{a,b", &v), -EINVAL);
    strv_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_dewey_order),     harness_test(test_dewey_patterns),
        harness_test(test_globs_and_names), harness_test(test_alternatives),
        harness_test(test_check),           harness_test(test_best),
        harness_test(test_pkgbase),         harness_test(test_expand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
