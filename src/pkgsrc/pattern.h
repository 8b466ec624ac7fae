/*
 * pkgsrc package patterns, matched as pkg_install's pkg_match() does and
 * ordered as pbulk's resolver does:
 *   - `{a,b}` alternatives (csh style, nested): the first group is
 *     expanded and each alternative is matched again;
 *   - with `<` or `>`: a dewey comparison, `name>=1.0`, `name>1<2`,
 *     `name<=2`, `name<2` (a lower bound may be followed by an upper one);
 *     `==` and `!=` exist in pkg_install's dewey.c but a pattern is a
 *     dewey pattern only with `<` or `>`, so `name==1` is a plain string
 *     (that matches no package name);
 *   - with `*`, `?` or `[`: fnmatch(3) with FNM_PERIOD (`name-[0-9]*`);
 *   - otherwise the exact name, or the name with any version (`name`
 *     matches `name-1.0`: pkg_install tries `name-[0-9]*` too).
 * Dewey versions: digits are numbers; `alpha` -3, `beta` -2, `pre` and
 * `rc` -1, `pl`, `_` and `.` 0; another letter is 0 then its place in the
 * alphabet (case-insensitive); `nbN` is the revision, compared last; other
 * characters are ignored; a missing component counts as 0.
 */
#ifndef BOB_PKGSRC_PATTERN_H
#define BOB_PKGSRC_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* Compares two versions ("1.0nb2", "2.0rc1"): <0, 0 or >0. */
int pattern_dewey_cmp(const char *v1, const char *v2);
/* 1 when pkgname ("foo-1.0nb1") matches pattern, 0 when not, -EINVAL when pattern is malformed. */
int pattern_match(const char *pattern, const char *pkgname);
/* 0, or -EINVAL when pattern is malformed (unbalanced braces, bad dewey operators). */
int pattern_check(const char *pattern);
/*
 * The best of names[0..n) for pattern, as pbulk picks it: the highest
 * dewey version among the matching names; on equal versions the greater
 * name (strcmp). -1 when none matches (or the pattern is malformed).
 */
long pattern_best(const char *pattern, const char *const *names, size_t n);
/* The length of the package base of a package name: up to its last '-' (all of it without one). */
size_t pattern_pkgbase_len(const char *pkgname);
/*
 * The package base a pattern can only match, when there is one: the name
 * before a dewey operator, or before "-[" / "-<digit>" of a glob or a
 * plain name. Writes it to out (size n) and returns true; false for
 * alternatives and globs in the base (they may match any base).
 */
bool pattern_pkgbase(const char *pattern, char *out, size_t n);
/*
 * Expands every `{a,b}` group of pattern (nested ones too) and appends
 * the patterns without braces to out; pattern_match is true for one of
 * them exactly when it is for pattern. 0, or -EINVAL when malformed.
 */
struct strv;
int pattern_expand(const char *pattern, struct strv *out);

#endif
