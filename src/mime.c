/*
 * mime: extension -> Content-Type, looked up once per static response, so the table is an
 * open-addressing hash keyed by the lower-cased extension and a lookup allocates nothing.
 * Precedence: mime_table_set (config) > built-in web types > mime.types text; a later
 * mime.types line replaces an earlier one. Every stored type already carries its charset
 * (decided once at insertion), and type strings are never freed before the table is, so a
 * pointer handed out by mime_lookup stays valid even if that extension is set again (the
 * cost, one string per set call, is bounded by the config's size).
 */
#include "mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "http_token.h"

#define DEFAULT_TYPE "application/octet-stream"

enum source { SRC_TEXT = 1, SRC_BUILTIN, SRC_SET }; /* 0 = empty slot; higher wins */

struct entry {
    char *ext; /* lower case; NULL = empty slot */
    size_t ext_len;
    const char *type; /* points into struct mime_table.owned */
    enum source src;
};

struct mime_table {
    struct entry *slot;
    size_t cap; /* power of two */
    size_t used;
    char **owned; /* every type string ever stored, freed with the table */
    size_t n_owned, cap_owned;
};

static const struct {
    const char *ext;
    const char *type;
} builtin[] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"xhtml", "application/xhtml+xml"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"jsonld", "application/ld+json"},
    {"xml", "application/xml"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
    {"csv", "text/csv"},
    {"ics", "text/calendar"},
    {"vtt", "text/vtt"},
    {"webmanifest", "application/manifest+json"},
    {"atom", "application/atom+xml"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"apng", "image/apng"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"jxl", "image/jxl"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"eot", "application/vnd.ms-fontobject"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tgz", "application/gzip"},
    {"bz2", "application/x-bzip2"},
    {"xz", "application/x-xz"},
    {"zst", "application/zstd"},
    {"7z", "application/x-7z-compressed"},
    {"tar", "application/x-tar"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"opus", "audio/ogg"},
    {"wav", "audio/wav"},
    {"flac", "audio/flac"},
    {"m4a", "audio/mp4"},
    {"aac", "audio/aac"},
    {"mp4", "video/mp4"},
    {"m4v", "video/mp4"},
    {"webm", "video/webm"},
    {"ogv", "video/ogg"},
    {"mov", "video/quicktime"},
    {"avi", "video/x-msvideo"},
    {"mkv", "video/x-matroska"},
};

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* FNV-1a over the lower-cased bytes, so lookups need no lower-cased copy. */
static uint64_t hash_ext(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)lower((unsigned char)s[i]);
        h *= 0x100000001b3u;
    }
    return h;
}

/* The slot holding ext, or the empty slot where it would go. cap is never full. */
static struct entry *find_slot(struct entry *slot, size_t cap, const char *ext, size_t n)
{
    size_t i = (size_t)hash_ext(ext, n) & (cap - 1);
    while (slot[i].ext) {
        if (slot[i].ext_len == n && ascii_ncasecmp(slot[i].ext, ext, n) == 0)
            return &slot[i];
        i = (i + 1) & (cap - 1);
    }
    return &slot[i];
}

static void grow(struct mime_table *t)
{
    size_t cap = t->cap * 2;
    struct entry *slot = xcalloc(cap, sizeof *slot);
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slot[i].ext)
            *find_slot(slot, cap, t->slot[i].ext, t->slot[i].ext_len) = t->slot[i];
    }
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
}

/* The media type of type[0..len): before any ';' parameters, without trailing whitespace. */
static size_t media_type_len(const char *type, size_t len)
{
    const char *semi = memchr(type, ';', len);
    size_t n = semi ? (size_t)(semi - type) : len;
    while (n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t'))
        n--;
    return n;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && ascii_ncasecmp(s + n - k, suffix, k) == 0;
}

static bool is_type(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && ascii_ncasecmp(s, want, n) == 0;
}

/* note: the +json/+xml structured-syntax suffixes (RFC 6839) are UTF-8 text like their bases. */
static bool wants_charset(const char *type, size_t len)
{
    if (memchr(type, ';', len)) /* the caller chose its own parameters */
        return false;
    size_t n = media_type_len(type, len);
    if (n > 5 && ascii_ncasecmp(type, "text/", 5) == 0)
        return true;
    if (n > 12 && ascii_ncasecmp(type, "application/", 12) == 0) {
        return is_type(type, n, "application/json") || is_type(type, n, "application/javascript") ||
               is_type(type, n, "application/xml") || has_suffix(type, n, "+json") ||
               has_suffix(type, n, "+xml");
    }
    return is_type(type, n, "image/svg+xml");
}

static const char *own_type(struct mime_table *t, const char *type, size_t n)
{
    char *s =
        wants_charset(type, n) ? xasprintf("%.*s; charset=utf-8", (int)n, type) : xstrndup(type, n);
    if (t->n_owned == t->cap_owned) {
        t->cap_owned = t->cap_owned ? t->cap_owned * 2 : 128;
        t->owned = xrealloc(t->owned, t->cap_owned * sizeof *t->owned);
    }
    t->owned[t->n_owned++] = s;
    return s;
}

/* Store ext -> type unless an entry from a stronger source is there. Returns whether stored. */
static bool put(struct mime_table *t, const char *ext, size_t n, const char *type, enum source src)
{
    if ((t->used + 1) * 4 > t->cap * 3)
        grow(t);
    struct entry *e = find_slot(t->slot, t->cap, ext, n);
    if (e->ext && e->src > src)
        return false;
    if (!e->ext) {
        e->ext = xstrndup(ext, n);
        for (size_t i = 0; i < n; i++)
            e->ext[i] = (char)lower((unsigned char)e->ext[i]);
        e->ext_len = n;
        t->used++;
    }
    e->type = type;
    e->src = src;
    return true;
}

struct mime_table *mime_table_new(void)
{
    struct mime_table *t = xcalloc(1, sizeof *t);
    t->cap = 256;
    t->slot = xcalloc(t->cap, sizeof *t->slot);
    for (size_t i = 0; i < ARRAY_LEN(builtin); i++) {
        const char *type = own_type(t, builtin[i].type, strlen(builtin[i].type));
        put(t, builtin[i].ext, strlen(builtin[i].ext), type, SRC_BUILTIN);
    }
    return t;
}

static bool valid_media_type(const char *s, size_t n)
{
    size_t slash = 0, n_slash = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/') {
            slash = i;
            n_slash++;
        } else if (!http_is_tchar((unsigned char)s[i])) {
            return false;
        }
    }
    return n_slash == 1 && slash > 0 && slash < n - 1;
}

/* An extension that mime_lookup can ever produce: no dot, no slash. */
static bool valid_ext(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' || !http_is_tchar((unsigned char)s[i]))
            return false;
    }
    return n > 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

size_t mime_table_load_text(struct mime_table *t, const char *text, size_t len)
{
    size_t added = 0, pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl ? 1 : 0);

        const char *hash = memchr(line, '#', line_len);
        if (hash)
            line_len = (size_t)(hash - line);

        const char *type = NULL, *stored = NULL;
        size_t type_len = 0, i = 0;
        while (i < line_len) {
            while (i < line_len && is_blank(line[i]))
                i++;
            size_t tok = i;
            while (i < line_len && !is_blank(line[i]))
                i++;
            if (i == tok)
                break;
            if (!type) {
                type = line + tok;
                type_len = i - tok;
                if (!valid_media_type(type, type_len))
                    break; /* not a mapping line: skip all of it */
                continue;
            }
            if (!valid_ext(line + tok, i - tok))
                continue;
            if (!stored)
                stored = own_type(t, type, type_len);
            if (put(t, line + tok, i - tok, stored, SRC_TEXT))
                added++;
        }
    }
    return added;
}

void mime_table_set(struct mime_table *t, const char *ext, const char *type)
{
    if (!ext || !type)
        return;
    if (ext[0] == '.')
        ext++;
    size_t n = strlen(ext);
    if (!valid_ext(ext, n) || !valid_media_type(type, media_type_len(type, strlen(type))))
        return;
    for (const char *p = type; *p; p++) {
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return; /* it goes verbatim into a response header */
    }
    put(t, ext, n, own_type(t, type, strlen(type)), SRC_SET);
}

const char *mime_lookup(const struct mime_table *t, const char *path)
{
    if (!path)
        return DEFAULT_TYPE;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    /* note: ".htaccess" is a name, not an extension */
    if (!dot || dot == base || dot[1] == '\0')
        return DEFAULT_TYPE;
    size_t n = strlen(dot + 1);
    const struct entry *e = find_slot(t->slot, t->cap, dot + 1, n);
    return e->ext ? e->type : DEFAULT_TYPE;
}

bool mime_is_compressible(const char *content_type)
{
    if (!content_type)
        return false;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    const char *s = content_type;
    size_t n = media_type_len(s, strlen(s));

    if (n > 5 && ascii_ncasecmp(s, "text/", 5) == 0)
        return true;
    if (n > 12 && ascii_ncasecmp(s, "application/", 12) == 0) {
        static const char *const app[] = {
            "application/json",
            "application/javascript",
            "application/x-javascript",
            "application/ecmascript",
            "application/xml",
            "application/wasm",
            "application/vnd.ms-fontobject",
            "application/x-font-ttf",
            "application/x-font-otf",
        };
        for (size_t i = 0; i < ARRAY_LEN(app); i++) {
            if (is_type(s, n, app[i]))
                return true;
        }
        return has_suffix(s, n, "+json") || has_suffix(s, n, "+xml");
    }
    /* note: ico and bmp are usually uncompressed bitmaps; png/jpeg/gif/webp/avif are not */
    return is_type(s, n, "image/svg+xml") || is_type(s, n, "image/x-icon") ||
           is_type(s, n, "image/vnd.microsoft.icon") || is_type(s, n, "image/bmp") ||
           is_type(s, n, "font/ttf") || is_type(s, n, "font/otf") ||
           is_type(s, n, "font/collection");
}

void mime_table_free(struct mime_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->slot[i].ext);
    for (size_t i = 0; i < t->n_owned; i++)
        free(t->owned[i]);
    free(t->slot);
    free(t->owned);
    free(t);
}
