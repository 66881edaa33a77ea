#include <stdio.h>
#include <string.h>

#include "mime.h"
#include "tap.h"

#define LOAD(t, lit) mime_table_load_text((t), (lit), sizeof(lit) - 1)

static void test_builtin(void)
{
    struct mime_table *t = mime_table_new();
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"a.htm", "text/html; charset=utf-8"},
        {"style.css", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"data.json", "application/json; charset=utf-8"},
        {"app.js.map", "application/json; charset=utf-8"},
        {"feed.xml", "application/xml; charset=utf-8"},
        {"README.txt", "text/plain; charset=utf-8"},
        {"doc.md", "text/markdown; charset=utf-8"},
        {"t.csv", "text/csv; charset=utf-8"},
        {"cal.ics", "text/calendar; charset=utf-8"},
        {"logo.svg", "image/svg+xml; charset=utf-8"},
        {"site.webmanifest", "application/manifest+json; charset=utf-8"},
        {"feed.atom", "application/atom+xml; charset=utf-8"},
        {"feed.rss", "application/rss+xml; charset=utf-8"},
        {"p.png", "image/png"},
        {"p.jpg", "image/jpeg"},
        {"p.jpeg", "image/jpeg"},
        {"p.gif", "image/gif"},
        {"p.webp", "image/webp"},
        {"p.avif", "image/avif"},
        {"favicon.ico", "image/x-icon"},
        {"p.bmp", "image/bmp"},
        {"p.tif", "image/tiff"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"f.ttf", "font/ttf"},
        {"f.otf", "font/otf"},
        {"f.eot", "application/vnd.ms-fontobject"},
        {"m.wasm", "application/wasm"},
        {"d.pdf", "application/pdf"},
        {"a.zip", "application/zip"},
        {"a.tar.gz", "application/gzip"},
        {"a.tgz", "application/gzip"},
        {"a.bz2", "application/x-bzip2"},
        {"a.xz", "application/x-xz"},
        {"a.zst", "application/zstd"},
        {"a.7z", "application/x-7z-compressed"},
        {"a.tar", "application/x-tar"},
        {"s.mp3", "audio/mpeg"},
        {"s.ogg", "audio/ogg"},
        {"s.oga", "audio/ogg"},
        {"s.wav", "audio/wav"},
        {"s.flac", "audio/flac"},
        {"s.m4a", "audio/mp4"},
        {"v.mp4", "video/mp4"},
        {"v.m4v", "video/mp4"},
        {"v.webm", "video/webm"},
        {"v.ogv", "video/ogg"},
        {"v.mov", "video/quicktime"},
        {"v.avi", "video/x-msvideo"},
        {"v.mkv", "video/x-matroska"},
        /* case-insensitive extension, directories and odd names */
        {"INDEX.HTML", "text/html; charset=utf-8"},
        {"/var/www/Photo.JpG", "image/jpeg"},
        {"/a.b/c.d/e.CSS", "text/css; charset=utf-8"},
        {"/a.html/readme", "application/octet-stream"},
        {"/srv/.htaccess", "application/octet-stream"},
        {".css", "application/octet-stream"},
        {"/dir/.hidden.css", "text/css; charset=utf-8"},
        {"file.", "application/octet-stream"},
        {"file", "application/octet-stream"},
        {"", "application/octet-stream"},
        {"/", "application/octet-stream"},
        {"x.php", "application/octet-stream"},
        {"x.unknownext", "application/octet-stream"},
        {"x.htmlx", "application/octet-stream"},
        {"x.htm ", "application/octet-stream"},
        {"x..html", "text/html; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "lookup '%s'", cases[i].path);
        is_str(mime_lookup(t, cases[i].path), cases[i].want, name);
    }
    is_str(mime_lookup(t, NULL), "application/octet-stream", "NULL path");
    mime_table_free(t);
}

static void test_load_text(void)
{
    struct mime_table *t = mime_table_new();
    size_t n = LOAD(t, "# comment line\n"
                       "\n"
                       "text/x-c\t\tc h\n"
                       "application/x-foo   foo FOO2   # trailing comment bar\n"
                       "   \t  \n"
                       "image/png png xpng\n"     /* png is built in: kept */
                       "text/html html\n"         /* built in too */
                       "application/x-late foo\n" /* later line replaces earlier */
                       "application/x-nothing\n"  /* no extensions */
                       "notatype ext1\n"          /* no slash: skipped */
                       "a/b/c ext2\n"             /* two slashes */
                       "/x ext3\n"
                       "x/ ext4\n"
                       "app(x)/y ext5\n"                   /* not a token */
                       "application/x-dots a.b good\n"     /* a.b can never be looked up */
                       "application/vnd.ms-excel\txls\r\n" /* CRLF */
                       "application/x-last last");         /* no final newline */
    is_int(n, 9, "extensions added: c h foo foo2 xpng foo(again) good xls last");
    is_str(mime_lookup(t, "x.c"), "text/x-c; charset=utf-8", "text/* from mime.types gets charset");
    is_str(mime_lookup(t, "x.H"), "text/x-c; charset=utf-8", "second ext of a line");
    is_str(mime_lookup(t, "x.foo"), "application/x-late", "later line wins");
    is_str(mime_lookup(t, "x.foo2"), "application/x-foo", "stored lower case, found any case");
    is_str(mime_lookup(t, "x.bar"), "application/octet-stream", "text after # ignored");
    is_str(mime_lookup(t, "x.png"), "image/png", "built-in png kept");
    is_str(mime_lookup(t, "x.xpng"), "image/png", "extra ext of a built-in type");
    is_str(mime_lookup(t, "x.html"), "text/html; charset=utf-8", "built-in html kept");
    is_str(mime_lookup(t, "x.ext1"), "application/octet-stream", "type without slash skipped");
    is_str(mime_lookup(t, "x.ext2"), "application/octet-stream", "type with two slashes skipped");
    is_str(mime_lookup(t, "x.ext3"), "application/octet-stream", "empty type part skipped");
    is_str(mime_lookup(t, "x.ext4"), "application/octet-stream", "empty subtype skipped");
    is_str(mime_lookup(t, "x.ext5"), "application/octet-stream", "non-token type skipped");
    is_str(mime_lookup(t, "x.good"), "application/x-dots", "valid ext after a dotted one");
    is_str(mime_lookup(t, "x.xls"), "application/vnd.ms-excel", "CRLF line");
    is_str(mime_lookup(t, "x.last"), "application/x-last", "last line without newline");
    is_str(mime_lookup(t, "x.nothing"), "application/octet-stream", "type-only line adds nothing");

    is_int(LOAD(t, "image/svg+xml svgz\napplication/json jsn\ntext/x-rest rest\n"), 3,
           "charset rule applies to mime.types lines");
    is_str(mime_lookup(t, "a.svgz"), "image/svg+xml; charset=utf-8", "svg+xml mid-text");
    is_str(mime_lookup(t, "a.jsn"), "application/json; charset=utf-8", "json mid-text");
    is_int(LOAD(t, "application/x-semi;q=1 semi\n"), 0, "parameters in mime.types rejected");
    is_int(LOAD(t, ""), 0, "empty text");
    is_int(LOAD(t, "\n\n# only comments\n#text/x y\n"), 0, "comments only");
    is_int(LOAD(t, "text/x-nul\0nul x\n"), 0, "NUL inside a line is not a separator");
    is_int(mime_table_load_text(t, "text/x-cut cut", 11), 0, "len is honoured (\"text/x-cut \")");
    is_str(mime_lookup(t, "x.cut"), "application/octet-stream", "nothing read past len");
    is_int(mime_table_load_text(t, "text/x-cut cut", 14), 1, "same text, full length");
    is_str(mime_lookup(t, "x.cut"), "text/x-cut; charset=utf-8", "now found");

    /* many entries force the hash table to grow; all stay reachable */
    char big[64 * 1024];
    size_t len = 0;
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(big + len, sizeof big - len, "application/x-t%d e%d\n", i, i);
    is_int(mime_table_load_text(t, big, len), 2000, "2000 lines");
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        char path[32], want[32];
        snprintf(path, sizeof path, "f.E%d", i);
        snprintf(want, sizeof want, "application/x-t%d", i);
        if (strcmp(mime_lookup(t, path), want) != 0)
            bad++;
    }
    is_int(bad, 0, "all 2000 found after growth");
    is_str(mime_lookup(t, "x.css"), "text/css; charset=utf-8", "built-ins survive growth");
    mime_table_free(t);
}

static void test_set(void)
{
    struct mime_table *t = mime_table_new();
    const char *before = mime_lookup(t, "a.md");
    mime_table_set(t, "md", "text/plain");
    is_str(mime_lookup(t, "a.md"), "text/plain; charset=utf-8", "set overrides a built-in");
    is_str(before, "text/markdown; charset=utf-8", "an earlier lookup's string stays valid");
    mime_table_set(t, "JS", "application/javascript");
    is_str(mime_lookup(t, "a.js"), "application/javascript; charset=utf-8",
           "set is case-insensitive, application/javascript gets charset");
    mime_table_set(t, ".wxyz", "application/x-wxyz");
    is_str(mime_lookup(t, "a.WXYZ"), "application/x-wxyz", "leading dot tolerated");
    mime_table_set(t, "html", "text/html; charset=iso-8859-1");
    is_str(mime_lookup(t, "a.html"), "text/html; charset=iso-8859-1",
           "explicit parameters are kept, no second charset");
    mime_table_set(t, "json2", "application/ld+json");
    is_str(mime_lookup(t, "a.json2"), "application/ld+json; charset=utf-8", "+json gets charset");
    mime_table_set(t, "kml", "application/vnd.google-earth.kml+xml");
    is_str(mime_lookup(t, "a.kml"), "application/vnd.google-earth.kml+xml; charset=utf-8",
           "+xml gets charset");
    mime_table_set(t, "bin2", "application/octet-stream");
    is_str(mime_lookup(t, "a.bin2"), "application/octet-stream", "no charset for binary");

    /* rejected: nothing changes */
    mime_table_set(t, "css", "text/css\r\nX-Evil: 1");
    is_str(mime_lookup(t, "a.css"), "text/css; charset=utf-8", "CRLF in type rejected");
    mime_table_set(t, "css", "");
    is_str(mime_lookup(t, "a.css"), "text/css; charset=utf-8", "empty type rejected");
    mime_table_set(t, "css", "nonsense");
    is_str(mime_lookup(t, "a.css"), "text/css; charset=utf-8", "type without slash rejected");
    mime_table_set(t, "", "text/plain");
    is_str(mime_lookup(t, "a."), "application/octet-stream", "empty ext rejected");
    mime_table_set(t, "a.b", "text/plain");
    is_str(mime_lookup(t, "x.a.b"), "application/octet-stream", "dotted ext rejected");
    mime_table_set(t, NULL, "text/plain");
    mime_table_set(t, "css", NULL);
    is_str(mime_lookup(t, "a.css"), "text/css; charset=utf-8", "NULL arguments ignored");

    /* set beats a later mime.types load */
    mime_table_set(t, "qq", "application/x-mine");
    is_int(LOAD(t, "application/x-theirs qq rr\n"), 1, "only rr added");
    is_str(mime_lookup(t, "a.qq"), "application/x-mine", "set beats mime.types");
    is_str(mime_lookup(t, "a.rr"), "application/x-theirs", "mime.types fills the rest");
    mime_table_set(t, "rr", "application/x-mine2");
    is_str(mime_lookup(t, "a.rr"), "application/x-mine2", "set replaces a mime.types entry");
    mime_table_free(t);
    mime_table_free(NULL);
    ok(1, "free(NULL) is a no-op");
}

static void test_compressible(void)
{
    static const char *const yes[] = {
        "text/html",
        "text/html; charset=utf-8",
        "TEXT/CSS",
        "text/plain;charset=utf-8",
        "text/javascript; charset=utf-8",
        "application/json",
        "application/json ; charset=utf-8",
        "application/javascript",
        "application/x-javascript",
        "application/xml",
        "application/manifest+json; charset=utf-8",
        "application/ld+json",
        "application/rss+xml",
        "application/atom+xml",
        "application/xhtml+xml",
        "image/svg+xml; charset=utf-8",
        "application/wasm",
        "font/ttf",
        "font/otf",
        "application/vnd.ms-fontobject",
        "image/x-icon",
        "image/bmp",
        " text/css",
    };
    static const char *const no[] = {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "application/zip",
        "application/gzip",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
        "application/x-7z-compressed",
        "application/pdf",
        "application/octet-stream",
        "font/woff",
        "font/woff2",
        "audio/mpeg",
        "audio/ogg",
        "video/mp4",
        "video/webm",
        "text/",
        "text",
        "",
        "application/",
        "application/jsonx",
        "application/json5",
        "xapplication/json",
        "image/svg",
        "image/svg+xmlz",
        "font/ttfx",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "compressible '%s'", yes[i]);
        ok(mime_is_compressible(yes[i]), name);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "not compressible '%s'", no[i]);
        ok(!mime_is_compressible(no[i]), name);
    }
    ok(!mime_is_compressible(NULL), "NULL is not compressible");

    /* every built-in type answers as the brief expects */
    struct mime_table *t = mime_table_new();
    ok(mime_is_compressible(mime_lookup(t, "a.webmanifest")), "lookup result of .webmanifest");
    ok(!mime_is_compressible(mime_lookup(t, "a.woff2")), "lookup result of .woff2");
    ok(!mime_is_compressible(mime_lookup(t, "a.unknown")), "lookup default");
    mime_table_free(t);
}

int main(void)
{
    test_builtin();
    test_load_text();
    test_set();
    test_compressible();
    return done_testing();
}
