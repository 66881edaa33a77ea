/*
 * libFuzzer target for path: any byte string either fails to split/normalise or yields a
 * path meeting the invariants in path.h. Also checks that out_cap is exact (len + 1 fits,
 * len does not) and that a result with no '%' left is a fixed point.
 * Build: clang -g -fsanitize=fuzzer,address,undefined -Iinclude src/util.c src/path.c
 *        tests/fuzz/fuzz_path.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "fuzz.h"

static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], k;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < k)
            return false;
        for (unsigned j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static void check_invariants(const char *p, size_t len)
{
    const char *ext;

    CHECK(len > 0 && p[0] == '/' && strlen(p) == len);
    CHECK(strstr(p, "//") == NULL);
    CHECK(utf8_ok((const unsigned char *)p, len));
    for (size_t i = 0; i < len; i++)
        CHECK((unsigned char)p[i] >= 0x20 && p[i] != 0x7f);
    for (const char *s = p + 1; *s;) {
        size_t n = strcspn(s, "/");

        CHECK(!(n == 1 && s[0] == '.'));
        CHECK(!(n == 2 && s[0] == '.' && s[1] == '.'));
        s += n;
        if (*s == '/')
            s++;
    }
    ext = path_extension(p);
    CHECK(ext == NULL || (ext > p && ext < p + len && ext[0] == '.' && ext[1] != '\0'));
    (void)path_has_hidden_segment(p);
}

/* Normalise raw; on success check everything we can say about the result. */
static void check_normalize(const char *raw, size_t raw_len)
{
    size_t cap = raw_len + 1, len = 0, len2 = 0;
    char *out = malloc(cap), *out2 = malloc(cap);
    enum path_status st;

    CHECK(out && out2);
    st = path_normalize(raw, raw_len, out, cap, &len);
    /* decoding and resolving only ever shrink the path */
    CHECK(st != PATH_TOO_LONG);
    if (st != PATH_OK) {
        CHECK(len == 0 && out[0] == '\0');
        goto done;
    }
    check_invariants(out, len);
    CHECK(path_normalize(raw, raw_len, out2, len + 1, &len2) == PATH_OK);
    CHECK(len2 == len && memcmp(out, out2, len + 1) == 0);
    CHECK(path_normalize(raw, raw_len, out2, len, &len2) == PATH_TOO_LONG);
    if (!memchr(out, '%', len)) {
        CHECK(path_normalize(out, len, out2, len + 1, &len2) == PATH_OK);
        CHECK(len2 == len && memcmp(out, out2, len + 1) == 0);
    }
done:
    free(out);
    free(out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    struct path_target t;

    check_normalize(raw, size);
    if (path_split_target(raw, size, &t) == PATH_OK) {
        CHECK(t.path && t.path_len > 0 && t.path[0] == '/');
        CHECK(memchr(t.path, '?', t.path_len) == NULL && memchr(t.path, '#', t.path_len) == NULL);
        CHECK(t.query == NULL || (t.query >= raw && t.query + t.query_len <= raw + size));
        CHECK(t.authority == NULL || t.authority_len > 0);
        check_normalize(t.path, t.path_len);
    }
    return 0;
}
