/*
 * Unit tests of the up-to-date check (src/pkgsrc/uptodate.c) and of
 * SHA-256: binary packages made with tar(1) in the test's directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "pkgsrc/sha256.h"
#include "pkgsrc/uptodate.h"

static char root[PATH_MAX];

/* Writes text to root/rel (its directory made). */
static void put(const char *rel, const char *text)
{
    char path[PATH_MAX * 2], cmd[PATH_MAX * 3];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Makes packages/All/<name>.tgz with that metadata, mtime now + age seconds. */
static void make_pkg(const char *name, const char *build_version, const char *contents, int age)
{
    char cmd[PATH_MAX * 8], rel[256];
    snprintf(rel, sizeof(rel), "meta/%s/+CONTENTS", name);
    put(rel, contents);
    snprintf(rel, sizeof(rel), "meta/%s/+BUILD_VERSION", name);
    put(rel, build_version);
    snprintf(rel, sizeof(rel), "meta/%s/bin/file", name);
    put(rel, "a file\n");
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/packages/All' && cd '%s/meta/%s' && "
             "tar czf '%s/packages/All/%s.tgz' +CONTENTS +BUILD_VERSION bin && "
             "touch -d @$(( $(date +%%s) + %d )) '%s/packages/All/%s.tgz'",
             root, root, name, root, name, age, root, name);
    assert_int_equal(system(cmd), 0);
}

/* Checks pkgname against deps; returns the reason (or NULL). */
static char *check(const char *pkgname, const char *const *deps, size_t n)
{
    char all[PATH_MAX + 32], tree[PATH_MAX + 32], *why;
    snprintf(all, sizeof(all), "%s/packages/All", root);
    snprintf(tree, sizeof(tree), "%s/pkgsrc", root);
    int rc = uptodate_check(all, tree, pkgname, deps, n, &why);
    assert_int_equal(rc, why ? 1 : 0);
    return why;
}

static void is(char *why, const char *want)
{
    if (!want && why)
        fail_msg("expected up to date, got: %s", why);
    if (want && (!why || strcmp(why, want) != 0))
        fail_msg("expected '%s', got '%s'", want, why ? why : "up to date");
    free(why);
}

static void test_sha256(void **state)
{
    struct sha256 c;
    char hex[65];
    (void)state;
    sha256_init(&c);
    sha256_update(&c, "abc", 3);
    sha256_hex(&c, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_init(&c);
    sha256_hex(&c, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        sha256_update(&c,
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaa",
                      100);
    sha256_hex(&c, hex);
    /* 100000 times 'a'. */
    assert_int_equal(strlen(hex), 64);
    {
        struct sha256 d;
        char hex2[65];
        sha256_init(&d);
        for (int i = 0; i < 100000; i++)
            sha256_update(&d, "a", 1);
        sha256_hex(&d, hex2);
        assert_string_equal(hex, hex2);
    }
}

static void test_check(void **state)
{
    char hex[65], bv[1024], path[PATH_MAX + 64];
    const char *deps[] = {"bar-1.0"};
    const char *newer[] = {"bar-1.1"};
    const char *other[] = {"baz-2"};
    (void)state;
    snprintf(root, sizeof(root), "%s", harness_dir());
    put("pkgsrc/misc/foo/Makefile", "# $NetBSD: Makefile,v 1.7 2014/01/01 00:00:00 x Exp $\n");
    put("pkgsrc/misc/foo/distinfo", "SHA1 (foo-1.0.tar.gz) = 0\n");
    snprintf(path, sizeof(path), "%s/pkgsrc/misc/foo/distinfo", root);
    assert_int_equal(sha256_file(path, hex), 0);
    snprintf(bv, sizeof(bv),
             "misc/foo/Makefile: $NetBSD: Makefile,v 1.7 2014/01/01 00:00:00 x Exp $\n"
             "misc/foo/distinfo: %s\n",
             hex);
    make_pkg("bar-1.0", "", "@name bar-1.0\n", -100);
    make_pkg("foo-1.0", bv, "@name foo-1.0\n@blddep bar-1.0\nbin/file\n", 0);

    is(check("nothere-1", NULL, 0), "package not found");
    is(check("foo-1.0", deps, 1), NULL);
    /* A resolved dependency that was not recorded is no reason. */
    {
        const char *more[] = {"bar-1.0", "baz-2"};
        is(check("foo-1.0", more, 2), NULL);
    }
    is(check("foo-1.0", newer, 1), "dependencies changed: bar 1.0 -> 1.1");
    is(check("foo-1.0", other, 1), "dependencies changed: -bar-1.0");
    /* The dependency's package is newer, or gone. */
    make_pkg("bar-1.0", "", "@name bar-1.0\n", 100);
    is(check("foo-1.0", deps, 1), "dependency refreshed: bar-1.0");
    snprintf(path, sizeof(path), "%s/packages/All/bar-1.0.tgz", root);
    assert_int_equal(unlink(path), 0);
    is(check("foo-1.0", deps, 1), "dependency missing: bar-1.0");
    make_pkg("bar-1.0", "", "@name bar-1.0\n", -100);
    is(check("foo-1.0", deps, 1), NULL);
    /* The files of the tree: a changed $NetBSD$ id, a changed hash, a removed file; they win. */
    put("pkgsrc/misc/foo/Makefile", "# $NetBSD: Makefile,v 1.8 2014/02/02 00:00:00 x Exp $\n");
    is(check("foo-1.0", newer, 1), "build file changed: misc/foo/Makefile");
    put("pkgsrc/misc/foo/Makefile", "# $NetBSD: Makefile,v 1.7 2014/01/01 00:00:00 x Exp $\n");
    is(check("foo-1.0", deps, 1), NULL);
    put("pkgsrc/misc/foo/distinfo", "SHA1 (foo-1.1.tar.gz) = 0\n");
    is(check("foo-1.0", deps, 1), "build file changed: misc/foo/distinfo");
    unlink(path);
    snprintf(path, sizeof(path), "%s/pkgsrc/misc/foo/distinfo", root);
    assert_int_equal(unlink(path), 0);
    is(check("foo-1.0", deps, 1), "build file removed: misc/foo/distinfo");
    /* Not a package. */
    put("packages/All/junk-1.tgz", "not a tar file at all\n");
    {
        char *why = check("junk-1", NULL, 0);
        assert_non_null(why);
        assert_non_null(strstr(why, "cannot read the package"));
        free(why);
    }
}

static void test_run_propagates(void **state)
{
    struct pbulk_index x = {0};
    struct resolve r;
    struct err e;
    char *why[3] = {0}, all[PATH_MAX + 32], tree[PATH_MAX + 32];
    const char *a = "PKGNAME=a-1\n", *b = "PKGNAME=b-1\nALL_DEPENDS=a-1:../../c/a\n",
               *c = "PKGNAME=c-1\nALL_DEPENDS=b-1:../../c/b\n";
    (void)state;
    snprintf(root, sizeof(root), "%s", harness_dir());
    assert_int_equal(pbulk_parse(a, strlen(a), "c/a", &x, &e), 0);
    assert_int_equal(pbulk_parse(b, strlen(b), "c/b", &x, &e), 0);
    assert_int_equal(pbulk_parse(c, strlen(c), "c/c", &x, &e), 0);
    resolve_run(&x, NULL, NULL, 0, &r);
    put("pkgsrc/c/a/Makefile", "v1\n");
    make_pkg("a-1", "c/a/Makefile: 0000\n", "", -10);
    make_pkg("b-1", "", "@blddep a-1\n", -5);
    make_pkg("c-1", "", "@blddep b-1\n", 0);
    snprintf(all, sizeof(all), "%s/packages/All", root);
    snprintf(tree, sizeof(tree), "%s/pkgsrc", root);
    uptodate_run(&r, &x, all, tree, why);
    /* a's Makefile no longer has that hash: a, then b and c through it. */
    assert_string_equal(why[resolve_find_job(&r, "c/a")], "build file changed: c/a/Makefile");
    assert_string_equal(why[resolve_find_job(&r, "c/b")], "dependency refreshed: a-1");
    assert_string_equal(why[resolve_find_job(&r, "c/c")], "dependency refreshed: b-1");
    for (int i = 0; i < 3; i++) {
        free(why[i]);
        why[i] = NULL;
    }
    /* a's package missing: a is built; b recorded it, so b finds it missing; c is current. */
    make_pkg("a-1", "", "", -10);
    snprintf(all, sizeof(all), "%s/packages/All/a-1.tgz", root);
    assert_int_equal(unlink(all), 0);
    snprintf(all, sizeof(all), "%s/packages/All", root);
    uptodate_run(&r, &x, all, tree, why);
    assert_string_equal(why[resolve_find_job(&r, "c/a")], "package not found");
    assert_string_equal(why[resolve_find_job(&r, "c/b")], "dependency missing: a-1");
    assert_string_equal(why[resolve_find_job(&r, "c/c")], "dependency refreshed: b-1");
    for (int i = 0; i < 3; i++)
        free(why[i]);
    resolve_free(&r);
    pbulk_index_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_sha256),
        harness_test(test_check),
        harness_test(test_run_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
