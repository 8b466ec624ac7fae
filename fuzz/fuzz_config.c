/*
 * libFuzzer target for the configuration loader (src/config).
 *
 * Each input is a config file: it is written to one temporary path (reused
 * for every run, so the loader's API stays as it is) and loaded with small
 * bounds. A config that loads is then shown as Lua, the text is loaded
 * back and shown again, and the two texts must be equal ("config show"
 * promises Lua that loads back to the same config); it is also shown as
 * JSON. Crashes, sanitizer reports, leaks and round-trip mismatches are
 * findings. See fuzz/run.
 *
 * Environment: FUZZ_CONFIG_MS (default 2000) and FUZZ_CONFIG_MIB (default
 * 64) set the loader's bounds; FUZZ_HARD_STOP=1 arms the loader's hard stop
 * (the process ends with exit 1 and a message 2 s after FUZZ_CONFIG_MS, as
 * bob does; fuzz/run uses it to check the inputs that time out);
 * FUZZ_NO_ROUNDTRIP=1 turns the round trip off;
 * FUZZ_AUX_DIR names a directory whose files are linked next to the config
 * (the modules and lists that the seeds require and read).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[PATH_MAX];
static char fuzz_path[PATH_MAX + 32];  /* the input, as a config file */
static char fuzz_shown[PATH_MAX + 32]; /* what config show made of it */
static struct config_limits fuzz_limits = {(size_t)64 << 20, 2000, false};
static int fuzz_roundtrip = 1;
static int fuzz_report_fd = 2; /* a copy of stderr that -close_fd_mask leaves open */
static FILE *fuzz_null;

/* Removes the temporary directory and what is in it (files and links only) at exit. */
static void fuzz_cleanup(void)
{
    DIR *d = opendir(fuzz_dir);
    struct dirent *de;

    if (d) {
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(fuzz_dir);
}

/* Links every file of dir into the config's directory. */
static void fuzz_link_aux(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char src[PATH_MAX + 256], dst[PATH_MAX + 256];

    if (!d) {
        fprintf(stderr, "fuzz_config: FUZZ_AUX_DIR %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "config.lua") == 0 ||
            strcmp(de->d_name, "shown.lua") == 0)
            continue;
        snprintf(src, sizeof(src), "%s/%s", dir, de->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", fuzz_dir, de->d_name);
        if (symlink(src, dst) != 0)
            fprintf(stderr, "fuzz_config: cannot link %s: %s\n", src, strerror(errno));
    }
    closedir(d);
}

/* Writes n bytes to path (truncating it); aborts on failure: the harness is broken. */
static void fuzz_write(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = data;

    if (fd < 0) {
        dprintf(fuzz_report_fd, "fuzz_config: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            dprintf(fuzz_report_fd, "fuzz_config: cannot write %s: %s\n", path, strerror(errno));
            abort();
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

/* Reads an unsigned number from the environment, def when unset or junk. */
static unsigned long fuzz_env(const char *name, unsigned long def)
{
    const char *s = getenv(name);
    char *end;
    unsigned long v;

    if (!s || !*s)
        return def;
    errno = 0;
    v = strtoul(s, &end, 10);
    return errno || *end ? def : v;
}

/* Makes the temporary directory, a fixed environment and the bounds. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    (void)argc;
    (void)argv;

    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/bob-fuzz-config.XXXXXX", tmp);
    if (!mkdtemp(fuzz_dir)) {
        perror("fuzz_config: mkdtemp");
        exit(1);
    }
    snprintf(fuzz_path, sizeof(fuzz_path), "%s/config.lua", fuzz_dir);
    snprintf(fuzz_shown, sizeof(fuzz_shown), "%s/shown.lua", fuzz_dir);
    atexit(fuzz_cleanup);
    if (getenv("FUZZ_AUX_DIR") && *getenv("FUZZ_AUX_DIR"))
        fuzz_link_aux(getenv("FUZZ_AUX_DIR"));
    /* The defaults the loader derives from the environment, fixed for reproducibility. */
    setenv("HOME", fuzz_dir, 1);
    setenv("XDG_DATA_HOME", fuzz_dir, 1);
    unsetenv("BOB_BASEDIR");
    unsetenv("BOB_BUILD_USER");
    fuzz_limits.max_ms = (unsigned)fuzz_env("FUZZ_CONFIG_MS", 2000);
    fuzz_limits.max_bytes = (size_t)fuzz_env("FUZZ_CONFIG_MIB", 64) << 20;
    fuzz_roundtrip = !fuzz_env("FUZZ_NO_ROUNDTRIP", 0);
    fuzz_limits.hard_stop = fuzz_env("FUZZ_HARD_STOP", 0) != 0;
    fuzz_report_fd = dup(2);
    if (fuzz_report_fd < 0)
        fuzz_report_fd = 2;
    fuzz_null = fopen("/dev/null", "w");
    if (!fuzz_null) {
        perror("fuzz_config: /dev/null");
        exit(1);
    }
    return 0;
}

/* Shows cfg as Lua into a malloc'd string (*len bytes). */
static char *fuzz_show(const struct config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    if (!f)
        abort();
    config_show_lua(cfg, f);
    if (fclose(f) != 0)
        abort();
    return text;
}

/* Reports a round-trip mismatch and aborts, so that libFuzzer keeps the input. */
__attribute__((noreturn)) static void fuzz_mismatch(const char *why, const char *a, size_t alen,
                                                    const char *b, size_t blen)
{
    dprintf(fuzz_report_fd, "fuzz_config: config show round trip: %s\n", why);
    dprintf(fuzz_report_fd, "---- shown from the input (%zu bytes) ----\n%.*s\n", alen,
            (int)(alen > 4000 ? 4000 : alen), a);
    if (b)
        dprintf(fuzz_report_fd, "---- shown again (%zu bytes) ----\n%.*s\n", blen,
                (int)(blen > 4000 ? 4000 : blen), b);
    abort();
}

/* Loads the config shown from cfg and checks that it shows the same. */
static void fuzz_check_roundtrip(const struct config *cfg)
{
    struct config again;
    struct err e;
    size_t alen, blen;
    char *a = fuzz_show(cfg, &alen), *b;

    fuzz_write(fuzz_shown, a, alen);
    if (config_load_limited(fuzz_shown, &fuzz_limits, &again, &e) != 0) {
        /* Loading a plain data file cannot run out of time unless the machine stalls. */
        if (strstr(e.msg, "took too long") || strstr(e.msg, "too much memory")) {
            free(a);
            return;
        }
        dprintf(fuzz_report_fd, "fuzz_config: the shown config does not load: %s\n", e.msg);
        fuzz_mismatch("does not load back", a, alen, NULL, 0);
    }
    b = fuzz_show(&again, &blen);
    config_free(&again);
    if (alen != blen || memcmp(a, b, alen) != 0)
        fuzz_mismatch("loads back to a different config", a, alen, b, blen);
    free(a);
    free(b);
}

/* One input: load it, show it, load that back, free everything. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    struct err e;

    fuzz_write(fuzz_path, data, size);
    if (config_load_limited(fuzz_path, &fuzz_limits, &cfg, &e) != 0) {
        /* Every message starts with the file it is about (SPEC section 3). */
        if (strncmp(e.msg, fuzz_path, strlen(fuzz_path)) != 0) {
            dprintf(fuzz_report_fd, "fuzz_config: the message does not name the file: '%s'\n",
                    e.msg);
            abort();
        }
        return 0;
    }
    config_show_json(&cfg, fuzz_null);
    if (fuzz_roundtrip)
        fuzz_check_roundtrip(&cfg);
    config_free(&cfg);
    return 0;
}
