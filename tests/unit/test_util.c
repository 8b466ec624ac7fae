/* Unit tests of the shared helpers in src/util: paths, files, the JSON writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/file.h"
#include "util/json.h"
#include "util/path.h"
#include "util/util.h"

/* ---- helpers -------------------------------------------------------------- */

static char tmpdir[PATH_MAX];

/* Removes one entry of the temporary tree. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Each test gets a fresh temporary directory. */
static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bob-test-util.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* path_norm into a buffer of n bytes; returns its result and the text. */
static int norm(const char *in, char *out, size_t n)
{
    memset(out, 'X', n);
    return path_norm(in, out, n);
}

/* Asserts that in normalises to want. */
static void assert_norm(const char *in, const char *want)
{
    char out[PATH_MAX];
    int r = norm(in, out, sizeof(out));
    if (r != 0)
        fail_msg("path_norm(\"%s\") = %d, want 0", in, r);
    if (strcmp(out, want) != 0)
        fail_msg("path_norm(\"%s\") = \"%s\", want \"%s\"", in, out, want);
}

/* Runs fn(j) with a writer on a memory stream and returns what it wrote. */
static char *json_text(bool pretty, void (*fn)(struct json *j))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json j;
    assert_non_null(f);
    json_init(&j, f, pretty);
    fn(&j);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* Asserts that fn writes exactly want. */
static void assert_json(bool pretty, void (*fn)(struct json *j), const char *want)
{
    char *got = json_text(pretty, fn);
    if (strcmp(got, want) != 0)
        fail_msg("JSON differs:\n got: %s\nwant: %s", got, want);
    free(got);
}

/* ---- paths ---------------------------------------------------------------- */

static void test_path_norm_plain(void **state)
{
    (void)state;
    assert_norm("/", "/");
    assert_norm("", "/");
    assert_norm("/usr/bin", "/usr/bin");
    assert_norm("usr/bin", "/usr/bin");
    assert_norm("//usr///bin//", "/usr/bin");
    assert_norm("/./usr/./bin/.", "/usr/bin");
    assert_norm("/usr/../etc", "/etc");
    assert_norm("/a/b/../../c", "/c");
    assert_norm("/a/..", "/");
    assert_norm("/a/.../b", "/a/.../b"); /* "..." is a name */
    assert_norm("/a/..b/.c", "/a/..b/.c");
}

static void test_path_norm_errors(void **state)
{
    char out[8];
    (void)state;
    assert_int_equal(norm("/..", out, sizeof(out)), -EXDEV);
    assert_int_equal(norm("/a/../..", out, sizeof(out)), -EXDEV);
    assert_int_equal(norm("..", out, sizeof(out)), -EXDEV);
    /* "/abcdef" needs 8 bytes with the NUL: fits exactly; one more does not. */
    assert_int_equal(norm("/abcdef", out, sizeof(out)), 0);
    assert_string_equal(out, "/abcdef");
    assert_int_equal(norm("/abcdefg", out, sizeof(out)), -ENAMETOOLONG);
    assert_int_equal(norm("/", out, 1), -ENAMETOOLONG);
    /* The limit holds at every step, not only for the result. */
    assert_int_equal(norm("/aaaaaaaaaaaa/../b", out, sizeof(out)), -ENAMETOOLONG);
    assert_int_equal(norm("/aaaa/../b", out, sizeof(out)), 0);
    assert_string_equal(out, "/b");
}

static void test_path_next(void **state)
{
    const char *p = "//a/./bc//../d/.", *c;
    size_t n;
    (void)state;
    assert_int_equal(n = path_next(&p, &c), 1);
    assert_memory_equal(c, "a", n);
    assert_int_equal(n = path_next(&p, &c), 2);
    assert_memory_equal(c, "bc", n);
    assert_int_equal(n = path_next(&p, &c), 2);
    assert_true(path_is_dotdot(c, n));
    assert_int_equal(n = path_next(&p, &c), 1);
    assert_memory_equal(c, "d", n);
    assert_int_equal(path_next(&p, &c), 0);
    assert_int_equal(path_next(&p, &c), 0); /* stays at the end */
    p = "";
    assert_int_equal(path_next(&p, &c), 0);
    p = "/././";
    assert_int_equal(path_next(&p, &c), 0);
}

static void test_path_dotdot_covers_parent(void **state)
{
    char p[32];
    (void)state;
    assert_true(path_has_dotdot(".."));
    assert_true(path_has_dotdot("/a/../b"));
    assert_true(path_has_dotdot("a/.."));
    assert_false(path_has_dotdot("/a/..b/c.."));
    assert_false(path_has_dotdot("/a/.../b"));
    assert_false(path_has_dotdot(""));

    assert_true(path_covers("/", "/anything"));
    assert_true(path_covers("/a", "/a"));
    assert_true(path_covers("/a", "/a/b"));
    assert_false(path_covers("/a", "/ab"));
    assert_false(path_covers("/a/b", "/a"));

    strcpy(p, "/a/b");
    path_parent(p);
    assert_string_equal(p, "/a");
    path_parent(p);
    assert_string_equal(p, "/");
    path_parent(p);
    assert_string_equal(p, "/");
}

static void test_path_split(void **state)
{
    struct strv c = {0};
    (void)state;
    path_split("/./a//b/../c/", &c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.v[0], "a");
    assert_string_equal(c.v[1], "b");
    assert_string_equal(c.v[2], "..");
    assert_string_equal(c.v[3], "c");
    assert_null(c.v[4]);
    strv_free(&c);
    path_split("/", &c);
    assert_int_equal(c.n, 0);
    strv_free(&c);
}

static void test_path_absolute(void **state)
{
    char cwd[PATH_MAX], *p, *want;
    (void)state;
    p = path_absolute("/x/./y/../z");
    assert_string_equal(p, "/x/z");
    free(p);
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    p = path_absolute("rel/./f");
    want = xasprintf("%s/rel/f", strcmp(cwd, "/") == 0 ? "" : cwd);
    assert_string_equal(p, want);
    free(p);
    free(want);
}

/* ---- mkdir_p ---------------------------------------------------------------- */

static void test_mkdir_p_creates_and_accepts_existing(void **state)
{
    struct err e;
    struct stat st;
    char *deep = xasprintf("%s/a/b//c/", tmpdir), *c = xasprintf("%s/a/b/c", tmpdir);
    (void)state;
    assert_int_equal(file_mkdir_p(deep, 0755, 0, &e), 0);
    assert_int_equal(stat(c, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* All of it exists now: a second call is fine. */
    assert_int_equal(file_mkdir_p(deep, 0755, 0, &e), 0);
    assert_int_equal(file_mkdir_p(tmpdir, 0755, 0, &e), 0);
    assert_int_equal(file_mkdir_p("/", 0755, 0, &e), 0);
    free(deep);
    free(c);
}

static void test_mkdir_p_file_in_the_way(void **state)
{
    struct err e;
    char *file = xasprintf("%s/f", tmpdir), *below = xasprintf("%s/f/sub", tmpdir);
    int fd;
    (void)state;
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    close(fd);
    /* The file itself as the last component, and as a parent. */
    assert_int_equal(file_mkdir_p(file, 0755, 0, &e), -ENOTDIR);
    assert_non_null(strstr(e.msg, file));
    assert_int_equal(e.code, ENOTDIR);
    assert_true(file_mkdir_p(below, 0755, 0, &e) < 0);
    assert_non_null(strstr(e.msg, file));
    assert_int_equal(access(below, F_OK), -1);
    free(file);
    free(below);
}

static void test_mkdir_p_modes(void **state)
{
    struct err e;
    struct stat st;
    char *a = xasprintf("%s/umasked", tmpdir), *b = xasprintf("%s/exact/x", tmpdir);
    mode_t old = umask(077);
    (void)state;
    assert_int_equal(file_mkdir_p(a, 0755, 0, &e), 0);
    assert_int_equal(file_mkdir_p(b, 0755, FILE_MKDIR_NO_UMASK, &e), 0);
    umask(old);
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(b, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    free(a);
    free(b);
}

/* ---- write_all -------------------------------------------------------------- */

static void test_write_all_pipe(void **state)
{
    /* More than a pipe holds, so that the writes are short and must go on. */
    size_t n = 1 << 20, got = 0;
    char *data = xmalloc(n), *back = xmalloc(n);
    int fds[2], status;
    pid_t pid;
    (void)state;
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 251);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(file_write_all(fds[1], data, n) == 0 ? 0 : 1);
    }
    close(fds[1]);
    for (;;) {
        ssize_t r = read(fds[0], back + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            break;
        got += (size_t)r;
        assert_true(got <= n);
    }
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, n);
    assert_memory_equal(back, data, n);
    free(data);
    free(back);
}

static void test_write_all_reader_gone(void **state)
{
    int fds[2];
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    (void)state;
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    assert_int_equal(file_write_all(fds[1], "x", 1), -EPIPE);
    close(fds[1]);
    assert_int_equal(file_write_all(-1, "x", 1), -EBADF);
    assert_int_equal(file_write_all(-1, "", 0), 0); /* nothing to write */
    signal(SIGPIPE, old);
}

/* ---- JSON ------------------------------------------------------------------- */

static void write_nested(struct json *j)
{
    struct strv l = {0};
    strv_push(&l, "x");
    strv_push(&l, "y");
    json_object_begin(j, NULL);
    json_string(j, "s", "v");
    json_uint(j, "u", 18446744073709551615ull);
    json_int(j, "i", -3);
    json_fixed(j, "f", 1.25, 3);
    json_fixed(j, "nan", NAN, 3);
    json_bool(j, "t", true);
    json_bool(j, "b", false);
    json_null(j, "n");
    json_string(j, "ns", NULL);
    json_array_begin(j, "empty_a");
    json_array_end(j);
    json_object_begin(j, "empty_o");
    json_object_end(j);
    json_array_begin(j, "a");
    json_object_begin(j, NULL);
    json_strv(j, "l", &l);
    json_object_end(j);
    json_uint(j, NULL, 2);
    json_array_end(j);
    json_object_end(j);
    strv_free(&l);
}

static void test_json_compact(void **state)
{
    (void)state;
    assert_json(false, write_nested,
                "{\"s\":\"v\",\"u\":18446744073709551615,\"i\":-3,\"f\":1.250,\"nan\":null,"
                "\"t\":true,\"b\":false,\"n\":null,\"ns\":null,\"empty_a\":[],\"empty_o\":{},"
                "\"a\":[{\"l\":[\"x\",\"y\"]},2]}");
}

static void test_json_pretty(void **state)
{
    (void)state;
    assert_json(true, write_nested,
                "{\n"
                "  \"s\": \"v\",\n"
                "  \"u\": 18446744073709551615,\n"
                "  \"i\": -3,\n"
                "  \"f\": 1.250,\n"
                "  \"nan\": null,\n"
                "  \"t\": true,\n"
                "  \"b\": false,\n"
                "  \"n\": null,\n"
                "  \"ns\": null,\n"
                "  \"empty_a\": [],\n"
                "  \"empty_o\": {},\n"
                "  \"a\": [\n"
                "    {\n"
                "      \"l\": [\n"
                "        \"x\",\n"
                "        \"y\"\n"
                "      ]\n"
                "    },\n"
                "    2\n"
                "  ]\n"
                "}");
}

static void write_escapes(struct json *j)
{
    json_object_begin(j, NULL);
    json_string(j, "q\"k", "a\"b\\c/d");
    json_string(j, "ctl", "\n\r\t\b\f\x01\x1f\x7f");
    json_string(j, "utf8", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    json_string(j, "bad",
                "a\xff"
                "b\xc3"
                "c");
    json_string(j, "overlong", "\xc0\xaf\xe0\x80\xaf");
    json_string(j, "surrogate", "\xed\xa0\x80");
    json_string(j, "too_high", "\xf4\x90\x80\x80");
    json_string(j, "cut", "\xe2\x82");
    json_object_end(j);
}

static void test_json_escapes(void **state)
{
    (void)state;
    assert_json(false, write_escapes,
                "{\"q\\\"k\":\"a\\\"b\\\\c/d\","
                "\"ctl\":\"\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\","
                "\"utf8\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
                "\"bad\":\"a\\ufffdb\\ufffdc\","
                "\"overlong\":\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\","
                "\"surrogate\":\"\\ufffd\\ufffd\\ufffd\","
                "\"too_high\":\"\\ufffd\\ufffd\\ufffd\\ufffd\","
                "\"cut\":\"\\ufffd\\ufffd\"}");
}

static void write_deep(struct json *j)
{
    for (int i = 0; i < 100; i++)
        json_array_begin(j, NULL);
    json_uint(j, NULL, 1);
    json_uint(j, NULL, 2);
    for (int i = 0; i < 100; i++)
        json_array_end(j);
}

/* Nesting deeper than any fixed table: the separators stay right. */
static void test_json_deep(void **state)
{
    char *got, *want = xmalloc(256);
    size_t k = 0;
    (void)state;
    for (int i = 0; i < 100; i++)
        want[k++] = '[';
    memcpy(want + k, "1,2", 3);
    k += 3;
    for (int i = 0; i < 100; i++)
        want[k++] = ']';
    want[k] = '\0';
    got = json_text(false, write_deep);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

/* FNV-1a, 64 bits: the published values (the names of cgroups and locks depend on them). */
static void test_fnv1a(void **state)
{
    (void)state;
    assert_true(str_fnv1a("") == UINT64_C(0xcbf29ce484222325));
    assert_true(str_fnv1a("a") == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(str_fnv1a("foobar") == UINT64_C(0x85944171f73967e8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a),
        cmocka_unit_test(test_path_norm_plain),
        cmocka_unit_test(test_path_norm_errors),
        cmocka_unit_test(test_path_next),
        cmocka_unit_test(test_path_dotdot_covers_parent),
        cmocka_unit_test(test_path_split),
        cmocka_unit_test(test_path_absolute),
        cmocka_unit_test_setup_teardown(test_mkdir_p_creates_and_accepts_existing, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_mkdir_p_file_in_the_way, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_mkdir_p_modes, setup_tmp, teardown_tmp),
        cmocka_unit_test(test_write_all_pipe),
        cmocka_unit_test(test_write_all_reader_gone),
        cmocka_unit_test(test_json_compact),
        cmocka_unit_test(test_json_pretty),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
