/*
 * name.c -- name validation; see name.h for the rules.
 */
#include "util/name.h"

#include <string.h>

/* Length of the UTF-8 sequence starting at S (at most N bytes), or 0 if it is not valid
 * (overlong forms, surrogates and code points above U+10FFFF are rejected). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

int st_name_check_len(st_err *err, const char *what, const char *s, size_t len)
{
    if (s == NULL || len == 0) return st_error(err, STRATA_ENAME, "%s name is empty", what);
    if (len > STRATA_NAME_MAX)
        return st_error(err, STRATA_ENAME, "%s name is %zu bytes long; the limit is %d", what, len,
                        STRATA_NAME_MAX);
    if (s[0] == '-')
        return st_error(err, STRATA_ENAME, "%s name '%.*s' starts with '-'", what, (int)len, s);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        if (c == 0)
            return st_error(err, STRATA_ENAME, "%s name contains a NUL byte at offset %zu", what,
                            i);
        if (c < 0x20 || c == 0x7F)
            return st_error(err, STRATA_ENAME,
                            "%s name contains control character 0x%02x at offset %zu", what, c, i);
        if (c == '/' || c == '\\')
            return st_error(err, STRATA_ENAME, "%s name '%.*s' contains '%c'", what, (int)len, s,
                            (char)c);
        if (c == '.' && i + 1 < len && s[i + 1] == '.')
            return st_error(err, STRATA_ENAME, "%s name '%.*s' contains '..'", what, (int)len, s);
        size_t n = utf8_len(u + i, len - i);
        if (n == 0)
            return st_error(err, STRATA_ENAME, "%s name is not valid UTF-8 at offset %zu", what, i);
        i += n;
    }
    if (len == 1 && s[0] == '.')
        return st_error(err, STRATA_ENAME, "%s name '.' is reserved", what);
    return STRATA_OK;
}

int st_name_check(st_err *err, const char *what, const char *s)
{
    if (s == NULL) return st_error(err, STRATA_ENAME, "%s name is missing", what);
    /* Look one byte past the limit only, so that a huge string is not scanned. */
    size_t len = strnlen(s, STRATA_NAME_MAX + 1);
    if (len > STRATA_NAME_MAX)
        return st_error(err, STRATA_ENAME, "%s name is longer than %d bytes", what,
                        STRATA_NAME_MAX);
    return st_name_check_len(err, what, s, len);
}
