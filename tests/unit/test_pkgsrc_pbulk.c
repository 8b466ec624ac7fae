/* Unit tests of the pbulk-index parser (src/pkgsrc/pbulk.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "harness.h"
#include "pkgsrc/pbulk.h"

static int parse(const char *text, const char *pkgpath, struct pbulk_index *x, struct err *e)
{
    return pbulk_parse(text, strlen(text), pkgpath, x, e);
}

static void test_full_record(void **state)
{
    struct pbulk_index x = {0};
    struct err e;
    const struct pbulk_pkg *p;
    (void)state;
    assert_int_equal(parse("PKGNAME=foo-1.0nb2\n"
                           "ALL_DEPENDS=digest>=20010302:../../pkgtools/digest "
                           "gmake>=3.81:../../devel/gmake\n"
                           "PKG_SKIP_REASON=\n"
                           "PKG_FAIL_REASON=\n"
                           "NO_BIN_ON_FTP=license forbids it\n"
                           "RESTRICTED=\n"
                           "CATEGORIES=misc games\n"
                           "MAINTAINER=someone@example.org\n"
                           "USE_DESTDIR=user-destdir\n"
                           "BOOTSTRAP_PKG=YES\n"
                           "USERGROUP_PHASE=configure\n"
                           "SCAN_DEPENDS=/usr/pkgsrc/mk/a.mk /usr/pkgsrc/misc/foo/options.mk\n"
                           "MAKE_JOBS_SAFE=no\n"
                           "PBULK_WEIGHT=250\n"
                           "SOMETHING_NEW=ignored\n",
                           "misc/foo", &x, &e),
                     0);
    assert_int_equal(x.n, 1);
    p = &x.v[0];
    assert_string_equal(p->pkgname, "foo-1.0nb2");
    assert_string_equal(p->pkgpath, "misc/foo");
    assert_int_equal(p->dep_pattern.n, 2);
    assert_string_equal(p->dep_pattern.v[0], "digest>=20010302");
    assert_string_equal(p->dep_path.v[0], "pkgtools/digest");
    assert_string_equal(p->dep_pattern.v[1], "gmake>=3.81");
    assert_string_equal(p->dep_path.v[1], "devel/gmake");
    assert_null(p->skip_reason);
    assert_null(p->fail_reason);
    assert_string_equal(p->no_bin_on_ftp, "license forbids it");
    assert_null(p->restricted);
    assert_string_equal(p->categories, "misc games");
    assert_string_equal(p->maintainer, "someone@example.org");
    assert_string_equal(p->use_destdir, "user-destdir");
    assert_true(p->bootstrap_pkg);
    assert_string_equal(p->usergroup_phase, "configure");
    assert_int_equal(p->scan_depends.n, 2);
    assert_false(p->make_jobs_safe);
    assert_int_equal(p->weight, 250);
    assert_int_equal(p->multi_version.n, 0);
    assert_int_equal(pbulk_find(&x, "foo-1.0nb2"), 0);
    assert_int_equal(pbulk_find(&x, "foo-1.0"), -1);
    pbulk_index_free(&x);
}

static void test_multi_version(void **state)
{
    struct pbulk_index x = {0};
    struct err e;
    (void)state;
    /* The default variant comes first and again later: the repeat is dropped. */
    assert_int_equal(parse("PKGNAME=py311-foo-1.0\n"
                           "MULTI_VERSION= PYTHON_VERSION_REQD=311\n"
                           "ALL_DEPENDS=python311>=3.11:../../lang/python311\n"
                           "PKGNAME=py310-foo-1.0\n"
                           "MULTI_VERSION= PYTHON_VERSION_REQD=310\n"
                           "ALL_DEPENDS=python310>=3.10:../../lang/python310\n"
                           "\n"
                           "PKGNAME=py311-foo-1.0\n"
                           "MULTI_VERSION= PYTHON_VERSION_REQD=311\n",
                           "devel/py-foo", &x, &e),
                     0);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.v[0].pkgname, "py311-foo-1.0");
    assert_int_equal(x.v[0].multi_version.n, 1);
    assert_string_equal(x.v[0].multi_version.v[0], "PYTHON_VERSION_REQD=311");
    assert_string_equal(x.v[1].pkgname, "py310-foo-1.0");
    assert_string_equal(x.v[1].dep_path.v[0], "lang/python310");
    assert_false(x.v[0].bootstrap_pkg);
    assert_true(x.v[0].make_jobs_safe);
    assert_int_equal(x.v[0].weight, 100);
    /* A second pkgpath appends. */
    assert_int_equal(parse("PKGNAME=bar-2\nPKG_SKIP_REASON=not for this OS\n"
                           "PKG_FAIL_REASON=broken\n",
                           "misc/bar", &x, &e),
                     0);
    assert_int_equal(x.n, 3);
    assert_string_equal(x.v[2].skip_reason, "not for this OS");
    assert_string_equal(x.v[2].fail_reason, "broken");
    pbulk_index_free(&x);
}

static void test_location(void **state)
{
    struct pbulk_index x = {0};
    struct err e;
    (void)state;
    /* Without a pkgpath of the caller, PKG_LOCATION gives it. */
    assert_int_equal(parse("PKGNAME=a-1\nPKG_LOCATION=misc/a\n", NULL, &x, &e), 0);
    assert_string_equal(x.v[0].pkgpath, "misc/a");
    assert_int_equal(parse("PKGNAME=b-1\n", NULL, &x, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "no PKG_LOCATION"));
    assert_int_equal(x.n, 1);
    /* The caller's pkgpath wins over PKG_LOCATION. */
    assert_int_equal(parse("PKGNAME=c-1\nPKG_LOCATION=misc/other\n", "misc/c", &x, &e), 0);
    assert_string_equal(x.v[1].pkgpath, "misc/c");
    pbulk_index_free(&x);
}

static void test_malformed(void **state)
{
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"", "no PKGNAME"},
        {"\n\n", "no PKGNAME"},
        {"ALL_DEPENDS=a:../../b/c\nPKGNAME=x-1\n", "before the first PKGNAME"},
        {"PKGNAME=x-1\njunk line\n", "line 2: not KEY=VALUE"},
        {"PKGNAME=x-1\nbmake: warning: x=y\n", "line 2: not KEY=VALUE"},
        {"PKGNAME=\n", "line 1: PKGNAME"},
        {"PKGNAME=x-1\nALL_DEPENDS=nocolon\n", "'nocolon' is not pattern"},
        {"PKGNAME=x-1\nALL_DEPENDS=a:b:../../c/d\n", "is not pattern"},
        {"PKGNAME=x-1\nALL_DEPENDS=a:../..\n", "is not pattern"},
        {"PKGNAME=x-1\nALL_DEPENDS=a:../../x/y;rm\n", "is not pattern"},
        {"PKGNAME=x-1\nALL_DEPENDS=a:../../x/$(id)\n", "is not pattern"},
        {"PKGNAME=x-1\nALL_DEPENDS=a:../../x/..\n", "is not pattern"},
        {"PKGNAME=x-1\nALL_DEPENDS=:../../c/d\n", "is not pattern"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pbulk_index x = {0};
        struct err e;
        assert_int_equal(parse("PKGNAME=keep-1\n", "a/keep", &x, &e), 0);
        if (parse(bad[i].text, "a/b", &x, &e) != -EINVAL)
            fail_msg("parsed: %s", bad[i].text);
        if (!strstr(e.msg, bad[i].needle))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, e.msg, bad[i].needle);
        /* What was there before stays. */
        assert_int_equal(x.n, 1);
        assert_string_equal(x.v[0].pkgname, "keep-1");
        pbulk_index_free(&x);
    }
}

static void test_crlf_and_no_newline(void **state)
{
    struct pbulk_index x = {0};
    struct err e;
    (void)state;
    assert_int_equal(parse("PKGNAME=a-1\r\nCATEGORIES=x\r\nUSERGROUP_PHASE=  ", "c/a", &x, &e), 0);
    assert_string_equal(x.v[0].pkgname, "a-1");
    assert_string_equal(x.v[0].categories, "x");
    assert_null(x.v[0].usergroup_phase);
    pbulk_index_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_full_record),
        harness_test(test_multi_version),
        harness_test(test_location),
        harness_test(test_malformed),
        harness_test(test_crlf_and_no_newline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
