#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "tap.h"

#define T0 INT64_C(971186136123) /* 10/Oct/2000:13:55:36.123 +0000, in ms */

static struct access_entry base(void)
{
    struct access_entry e = {
        .remote_addr = "127.0.0.1",
        .remote_user = NULL,
        .time_ms = T0,
        .site = "blog",
        .request_id = 42,
        .method = "GET",
        .target = "/a.gif",
        .protocol = "HTTP/1.1",
        .status = 200,
        .bytes = 2326,
        .referer = "http://example.com/",
        .user_agent = "Mozilla/5.0 (X11)",
        .duration_us = 1000,
    };
    return e;
}

static const char *fmt_as(struct buf *b, enum access_log_style style, const struct access_entry *e)
{
    buf_reset(b);
    if (access_log_format(b, style, e) != 0)
        return "(failed)";
    return b->data;
}

static const char *fmt(struct buf *b, const struct access_entry *e)
{
    return fmt_as(b, ACCESS_LOG_TIMED_COMBINED, e);
}

/* combined: exactly NCSA combined, nginx's escapes, Apache's "-" for no body */
static void test_combined(void)
{
    struct buf b;
    struct access_entry e = base();

    buf_init(&b, 0);
    is_str(fmt_as(&b, ACCESS_LOG_COMBINED, &e),
           "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.gif HTTP/1.1\" 200 2326 "
           "\"http://example.com/\" \"Mozilla/5.0 (X11)\"\n",
           "combined: the NCSA line, no duration");

    e.bytes = 0;
    e.status = 304;
    e.referer = NULL;
    e.user_agent = "";
    e.method = "HEAD";
    is_str(
        fmt_as(&b, ACCESS_LOG_COMBINED, &e),
        "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"HEAD /a.gif HTTP/1.1\" 304 - \"-\" \"-\"\n",
        "combined: 0 bytes is '-' (%b), missing headers '-'");

    e = base();
    e.method = NULL;
    e.target = NULL;
    e.protocol = NULL;
    e.remote_addr = NULL;
    e.status = 400;
    is_str(fmt_as(&b, ACCESS_LOG_COMBINED, &e),
           "- - - [10/Oct/2000:13:55:36 +0000] \"- - -\" 400 2326 \"http://example.com/\" "
           "\"Mozilla/5.0 (X11)\"\n",
           "combined: missing request line parts");

    /* Hostile bytes, byte for byte: '"' and '\\' are \x22 and \x5C (no backslash rule for a
     * parser to know), CR LF and other controls, DEL and high bytes \xHH. */
    e = base();
    e.target = "/x\"y\\z\r\n\x01\x7f\xff caf\xc3\xa9";
    e.user_agent =
        "ua\" 200 0 \"-\" \"forged\n127.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 1 \"-\" \"-";
    e.referer = "\\\"";
    e.remote_user = "a b";
    is_str(fmt_as(&b, ACCESS_LOG_COMBINED, &e),
           "127.0.0.1 - a\\x20b [10/Oct/2000:13:55:36 +0000] "
           "\"GET /x\\x22y\\x5Cz\\x0D\\x0A\\x01\\x7F\\xFF caf\\xC3\\xA9 HTTP/1.1\" 200 2326 "
           "\"\\x5C\\x22\" "
           "\"ua\\x22 200 0 \\x22-\\x22 \\x22forged\\x0A127.0.0.1 - - [x] \\x22GET / HTTP/1.1\\x22 "
           "200 1 \\x22-\\x22 \\x22-\"\n",
           "combined: hostile target, user agent and referer escaped nginx's way");
    size_t quotes = 0;
    for (size_t i = 0; i < b.len; i++)
        quotes += b.data[i] == '"';
    is_int(quotes, 6, "combined: exactly the six quotes of the format");
    ok(strchr(b.data, '\n') == b.data + b.len - 1, "combined: exactly one newline, at the end");
    buf_dispose(&b);
}

static void test_json(void)
{
    struct buf b;
    struct access_entry e = base();

    buf_init(&b, 0);
    is_str(fmt_as(&b, ACCESS_LOG_JSON, &e),
           "{\"time\":\"2000-10-10T13:55:36.123Z\",\"site\":\"blog\",\"client\":\"127.0.0.1\","
           "\"method\":\"GET\",\"path\":\"/a.gif\",\"protocol\":\"HTTP/1.1\",\"status\":200,"
           "\"bytes\":2326,\"duration\":0.001000,\"upstream\":null,\"request_id\":42,"
           "\"referer\":\"http://example.com/\",\"user_agent\":\"Mozilla/5.0 (X11)\"}\n",
           "json: every field, static request");

    e.upstream = "unix:/run/php/php8.2-fpm.sock";
    e.referer = NULL;
    e.user_agent = NULL;
    e.method = NULL;
    e.protocol = NULL;
    e.bytes = 0;
    e.status = 502;
    e.duration_us = 61234567;
    e.time_ms = INT64_C(1709208000007);
    is_str(fmt_as(&b, ACCESS_LOG_JSON, &e),
           "{\"time\":\"2024-02-29T12:00:00.007Z\",\"site\":\"blog\",\"client\":\"127.0.0.1\","
           "\"method\":null,\"path\":\"/a.gif\",\"protocol\":null,\"status\":502,"
           "\"bytes\":0,\"duration\":61.234567,\"upstream\":\"unix:/run/php/php8.2-fpm.sock\","
           "\"request_id\":42,\"referer\":null,\"user_agent\":null}\n",
           "json: upstream, nulls for what is missing, 0 bytes is 0, ms padded");

    /* Hostile bytes, byte for byte: JSON escapes, valid UTF-8 kept, invalid bytes \u00XX. */
    e = base();
    e.target = "/x\"y\\z\r\n\x01\x7f\xff caf\xc3\xa9";
    e.user_agent = "a\",\"status\":200,\"x\":\"\n{\"time\":\"";
    e.time_ms = INT64_C(400000000000000);
    is_str(fmt_as(&b, ACCESS_LOG_JSON, &e),
           "{\"time\":null,\"site\":\"blog\",\"client\":\"127.0.0.1\",\"method\":\"GET\","
           "\"path\":\"/x\\\"y\\\\z\\r\\n\\u0001\\u007f\\u00ff caf\xc3\xa9\","
           "\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":2326,\"duration\":0.001000,"
           "\"upstream\":null,\"request_id\":42,\"referer\":\"http://example.com/\","
           "\"user_agent\":\"a\\\",\\\"status\\\":200,\\\"x\\\":\\\"\\n{\\\"time\\\":\\\"\"}\n",
           "json: hostile path and user agent stay inside their strings");
    ok(strchr(b.data, '\n') == b.data + b.len - 1, "json: exactly one newline, at the end");

    buf_dispose(&b);
    buf_init(&b, 100);
    buf_puts(&b, "keep");
    e = base();
    is_int(access_log_format(&b, ACCESS_LOG_JSON, &e), -1, "json: over the cap fails");
    is_str(b.data, "keep", "json: no half line left behind");
    buf_dispose(&b);
}

static void test_format(void)
{
    struct buf b;
    struct access_entry e = base();

    buf_init(&b, 0);
    is_str(fmt(&b, &e),
           "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.gif HTTP/1.1\" 200 2326 "
           "\"http://example.com/\" \"Mozilla/5.0 (X11)\" 0.001\n",
           "combined line with duration");

    e.remote_user = "alice";
    e.referer = NULL;
    e.user_agent = "";
    e.bytes = 0;
    e.status = 304;
    e.duration_us = 0;
    e.time_ms = 0;
    is_str(fmt(&b, &e),
           "127.0.0.1 - alice [01/Jan/1970:00:00:00 +0000] \"GET /a.gif HTTP/1.1\" 304 0 "
           "\"-\" \"-\" 0.000\n",
           "user, '-' for NULL and empty, 0 bytes printed as 0");

    e = base();
    e.remote_user = "";
    e.remote_addr = NULL;
    e.method = NULL;
    e.target = "";
    e.protocol = NULL;
    e.status = 400;
    e.time_ms = INT64_C(1709208000000); /* leap day 2024 */
    is_str(fmt(&b, &e),
           "- - - [29/Feb/2024:12:00:00 +0000] \"- - -\" 400 2326 "
           "\"http://example.com/\" \"Mozilla/5.0 (X11)\" 0.001\n",
           "missing request line parts become '-'");

    static const struct {
        uint64_t us;
        const char *want;
    } durations[] = {
        {0, " 0.000\n"},         {499, " 0.000\n"},
        {500, " 0.001\n"},       {1499, " 0.001\n"},
        {999500, " 1.000\n"},    {1234567, " 1.235\n"},
        {61000000, " 61.000\n"}, {UINT64_MAX, " 18446744073709.552\n"},
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        char name[64];
        e = base();
        e.duration_us = durations[i].us;
        fmt(&b, &e);
        size_t wl = strlen(durations[i].want);
        snprintf(name, sizeof name, "duration %llu us ->%.*s", (unsigned long long)durations[i].us,
                 (int)(wl - 1), durations[i].want);
        ok(b.len >= wl && strcmp(b.data + b.len - wl, durations[i].want) == 0, name);
    }

    e = base();
    e.bytes = UINT64_MAX;
    e.status = 599;
    ok(strstr(fmt(&b, &e), "\" 599 18446744073709551615 \"") != NULL, "large byte count");

    e = base();
    e.time_ms = INT64_C(400000000000000);
    is_str(fmt(&b, &e),
           "127.0.0.1 - - [-] \"GET /a.gif HTTP/1.1\" 200 2326 \"http://example.com/\" "
           "\"Mozilla/5.0 (X11)\" 0.001\n",
           "unrepresentable time");
    buf_dispose(&b);
}

static void test_escaping(void)
{
    struct buf b;
    struct access_entry e = base();

    buf_init(&b, 0);
    e.user_agent = "x\"\n127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /admin HTTP/1.1\" 200 0 "
                   "\"-\" \"evil";
    is_str(fmt(&b, &e),
           "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.gif HTTP/1.1\" 200 2326 "
           "\"http://example.com/\" \"x\\\"\\x0A127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "
           "\\\"GET /admin HTTP/1.1\\\" 200 0 \\\"-\\\" \\\"evil\" 0.001\n",
           "forged line in the user agent stays inside one quoted field");
    ok(strchr(b.data, '\n') == b.data + b.len - 1, "exactly one newline, at the end");

    e = base();
    e.referer = "a\\\"b\\";
    e.target = "/x\r\nSet-Cookie: y\t\x7f\x01\x1b[31m";
    e.method = "G\"ET";
    e.protocol = "HTTP/1.1\"";
    e.user_agent = "caf\xc3\xa9 \xff";
    is_str(fmt(&b, &e),
           "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "
           "\"G\\\"ET /x\\x0D\\x0ASet-Cookie: y\\x09\\x7F\\x01\\x1B[31m HTTP/1.1\\\"\" 200 2326 "
           "\"a\\\\\\\"b\\\\\" \"caf\\xC3\\xA9 \\xFF\" 0.001\n",
           "quotes, backslashes, control and high bytes escaped in every quoted field");

    e = base();
    e.remote_user = "bob \"x\" - [";
    e.remote_addr = "::1\n";
    is_str(fmt(&b, &e),
           "::1\\x0A - bob\\x20\\\"x\\\"\\x20-\\x20[ [10/Oct/2000:13:55:36 +0000] "
           "\"GET /a.gif HTTP/1.1\" 200 2326 \"http://example.com/\" \"Mozilla/5.0 (X11)\" 0.001\n",
           "unquoted fields also escape spaces");
    buf_dispose(&b);

    /* The cap: fails cleanly, leaves the buffer as it was. */
    buf_init(&b, 60);
    buf_puts(&b, "keep");
    e = base();
    is_int(access_log_format(&b, ACCESS_LOG_TIMED_COMBINED, &e), -1, "over the cap fails");
    is_str(b.data, "keep", "no half line left behind");
    buf_dispose(&b);

    buf_init(&b, 0);
    buf_puts(&b, "x\n");
    e = base();
    access_log_format(&b, ACCESS_LOG_TIMED_COMBINED, &e);
    access_log_format(&b, ACCESS_LOG_TIMED_COMBINED, &e);
    is_int(b.len, 2 + 2 * 122, "appends lines after existing content");
    buf_dispose(&b);
}

/* ---- writer ---- */

static char tmpdir[64];

static char *slurp(const char *path, size_t *len)
{
    struct buf b;
    char chunk[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    buf_init(&b, 0);
    if (fd < 0) {
        *len = 0;
        return NULL;
    }
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        buf_append(&b, chunk, (size_t)n);
    close(fd);
    return buf_steal(&b, len);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static struct access_entry numbered(char *target, size_t cap, const char *tag, int i)
{
    struct access_entry e = base();
    snprintf(target, cap, "/%s/%06d", tag, i);
    e.target = target;
    return e;
}

/* Write entries tag/from..to-1 to l and their formatted lines to want. */
static void write_range(struct access_log *l, struct buf *want, const char *tag, int from, int to)
{
    char target[64];
    for (int i = from; i < to; i++) {
        struct access_entry e = numbered(target, sizeof target, tag, i);
        access_log_write(l, ACCESS_LOG_TIMED_COMBINED, &e);
        if (want)
            access_log_format(want, ACCESS_LOG_TIMED_COMBINED, &e);
    }
}

/* Length of one numbered line with this tag. */
static size_t line_len(const char *tag)
{
    struct buf b;
    char target[64];
    struct access_entry e = numbered(target, sizeof target, tag, 0);
    buf_init(&b, 0);
    access_log_format(&b, ACCESS_LOG_TIMED_COMBINED, &e);
    size_t n = b.len;
    buf_dispose(&b);
    return n;
}

static void test_open(void)
{
    char path[128], bad[160];
    const char *why = NULL;

    snprintf(path, sizeof path, "%s/open.log", tmpdir);
    struct access_log *a = access_log_open(path, &why);
    ok(a != NULL, "open creates the file");
    ok(file_size(path) == 0, "file exists and is empty");
    struct stat st;
    stat(path, &st);
    is_int(st.st_mode & 0777, 0644, "created with mode 0644 (umask 022)");
    ok(access_log_open(path, &why) == a, "same path, same object");
    snprintf(bad, sizeof bad, "%s/missing/dir/x.log", tmpdir);
    why = NULL;
    ok(access_log_open(bad, &why) == NULL, "open in a missing directory fails");
    is_str(why, "No such file or directory", "why says so");
    ok(access_log_open(bad, NULL) == NULL, "why may be NULL");
    access_log_shutdown();
    ok(file_size(path) == 0, "shutdown with nothing written leaves the file empty");
}

static void test_end_to_end(void)
{
    char path[128];
    struct buf want;
    size_t len;

    snprintf(path, sizeof path, "%s/e2e.log", tmpdir);
    /* Existing content is appended to, never truncated. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ok(fd >= 0 && write(fd, "old\n", 4) == 4, "seed the file");
    close(fd);

    buf_init(&want, 0);
    buf_puts(&want, "old\n");
    struct access_log *l = access_log_open(path, NULL);
    is_int(access_log_start(), 0, "writer starts");
    is_int(access_log_start(), 0, "starting twice is harmless");
    write_range(l, &want, "e2e", 0, 5000);
    access_log_shutdown();
    char *got = slurp(path, &len);
    is_int(len, want.len, "every byte written");
    is_mem(got, len, want.data, want.len, "file holds exactly the lines, in order, after 'old'");
    free(got);
    buf_dispose(&want);
}

static void test_flushes_in_background(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/bg.log", tmpdir);
    struct access_log *l = access_log_open(path, NULL);
    access_log_start();
    write_range(l, NULL, "bg", 0, 1);
    /* The writer runs every 100 ms: poll for up to 5 s, with no flush call from here. */
    off_t size = 0;
    for (int i = 0; i < 500 && size <= 0; i++) {
        usleep(10000);
        size = file_size(path);
    }
    is_int(size, line_len("bg"), "the writer thread flushed one line on its own");
    access_log_shutdown();
}

/* How many of this process's fds are open on path (readlink of /proc/self/fd). */
static int fds_on(const char *path)
{
    char link[64], target[256];
    int n = 0;

    for (int fd = 0; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = 0;
        n += strcmp(target, path) == 0;
    }
    return n;
}

static void test_close(void)
{
    char path[128], other[128];
    struct buf want;
    size_t len;

    snprintf(path, sizeof path, "%s/close.log", tmpdir);
    snprintf(other, sizeof other, "%s/close-other.log", tmpdir);
    buf_init(&want, 0);
    access_log_start();
    struct access_log *o = access_log_open(other, NULL);
    struct access_log *a = access_log_open(path, NULL);
    struct access_log *b = access_log_open(path, NULL);
    ok(a && a == b, "two opens of one path: one object");
    is_int(fds_on(path), 1, "one fd for both");
    write_range(a, &want, "c", 0, 100);
    access_log_close(a);
    is_int(fds_on(path), 1, "still open after the first close (one user left)");
    write_range(b, &want, "c", 100, 200);
    access_log_close(b);
    is_int(fds_on(path), 0, "the last close closes the file");
    char *got = slurp(path, &len);
    is_mem(got, len, want.data, want.len, "every line written before the last close is there");
    free(got);
    access_log_close(NULL);
    struct access_log *c = access_log_open(path, NULL);
    ok(c != NULL, "the path opens again after its last close");
    is_int(fds_on(path), 1, "... with its own fd");
    write_range(c, NULL, "c", 0, 1);
    write_range(o, NULL, "o", 0, 1);
    access_log_close(c);
    is_int((int)file_size(path), (int)(want.len + line_len("c")), "... and its line lands");
    /* Closes racing the writer thread's walk of the list (it flushes every 100 ms). */
    for (int i = 0; i < 200; i++) {
        struct access_log *x = access_log_open(path, NULL);
        write_range(x, NULL, "r", 0, 1);
        access_log_close(x);
    }
    is_int((int)file_size(path), (int)(want.len + line_len("c") + 200 * line_len("r")),
           "200 open/write/close rounds: every line kept");
    access_log_shutdown();
    is_int(fds_on(other), 0, "shutdown closes the logs still open");
    buf_dispose(&want);
}

struct worker {
    struct access_log *l;
    char tag[8];
};

static void *on_worker(void *arg)
{
    struct worker *w = arg;
    write_range(w->l, NULL, w->tag, 0, 3000);
    return NULL;
}

static void test_threads(void)
{
    char path[128];
    struct worker w[4];
    pthread_t t[4];
    size_t len;

    snprintf(path, sizeof path, "%s/threads.log", tmpdir);
    access_log_start();
    for (int i = 0; i < 4; i++) {
        w[i].l = access_log_open(path, NULL);
        snprintf(w[i].tag, sizeof w[i].tag, "t%d", i);
        pthread_create(&t[i], NULL, on_worker, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    access_log_shutdown();

    char *got = slurp(path, &len);
    int next[4] = {0}, lines = 0, bad = 0;
    for (char *p = got; p && *p;) {
        char *nl = strchr(p, '\n');
        char *q = strstr(p, "\"GET /t");
        int tid, seq;
        if (!nl || !q || q > nl || sscanf(q, "\"GET /t%d/%d ", &tid, &seq) != 2 || tid < 0 ||
            tid > 3 || seq != next[tid] || (size_t)(nl - p) + 1 != line_len("t0"))
            bad++;
        else
            next[tid]++;
        lines++;
        p = nl ? nl + 1 : p + strlen(p);
    }
    is_int(lines, 12000, "four threads, 3000 lines each");
    is_int(bad, 0, "every line whole and each thread's lines in order");
    free(got);
}

static void test_reopen(void)
{
    char path[128], rotated[160];
    struct buf before, after;
    size_t len;

    snprintf(path, sizeof path, "%s/rotate.log", tmpdir);
    snprintf(rotated, sizeof rotated, "%s.1", path);
    buf_init(&before, 0);
    buf_init(&after, 0);
    struct access_log *l = access_log_open(path, NULL);
    access_log_start();
    write_range(l, &before, "before", 0, 1000);
    usleep(150000); /* let the writer flush some of it to the old file first */
    write_range(l, &before, "before", 1000, 2000);
    ok(rename(path, rotated) == 0, "logrotate renames the file");
    access_log_reopen_all();
    ok(file_size(path) == 0, "reopen creates a fresh file");
    write_range(l, &after, "after", 0, 1000);
    access_log_shutdown();

    char *got = slurp(rotated, &len);
    is_mem(got, len, before.data, before.len, "lines before the reopen are all in the old file");
    free(got);
    got = slurp(path, &len);
    is_mem(got, len, after.data, after.len, "lines after the reopen are all in the new file");
    free(got);
    buf_dispose(&before);
    buf_dispose(&after);
}

static void test_reopen_failure(void)
{
    char dir[128], path[160], moved[160];
    struct buf want;
    size_t len;

    snprintf(dir, sizeof dir, "%s/gone", tmpdir);
    snprintf(path, sizeof path, "%s/x.log", dir);
    snprintf(moved, sizeof moved, "%s/moved.log", tmpdir);
    mkdir(dir, 0755);
    buf_init(&want, 0);
    struct access_log *l = access_log_open(path, NULL);
    access_log_start();
    write_range(l, &want, "a", 0, 10);
    rename(path, moved);
    ok(rmdir(dir) == 0, "the log's directory disappears");
    printf("# expect one 'reopen failed' error below\n");
    fflush(stdout);
    access_log_reopen_all();
    write_range(l, &want, "b", 0, 10);
    access_log_shutdown();
    char *got = slurp(moved, &len);
    is_mem(got, len, want.data, want.len, "a failed reopen keeps writing to the old file");
    free(got);
    buf_dispose(&want);
}

static void test_backlog_cap(void)
{
    char path[128];
    size_t len;
    const size_t line = line_len("d"), cap = 4u << 20;

    snprintf(path, sizeof path, "%s/drop.log", tmpdir);
    struct access_log *l = access_log_open(path, NULL);
    /* No writer thread: everything stays queued, so the cap is reached deterministically. */
    printf("# expect one 'dropped 100 lines' warning below\n");
    fflush(stdout);
    write_range(l, NULL, "d", 0, (int)(cap / line) + 100);
    access_log_shutdown();
    ok(file_size(path) == (off_t)(cap / line * line), "backlog capped at 4 MiB of whole lines");
    char *got = slurp(path, &len);
    char last[64];
    snprintf(last, sizeof last, "/d/%06d ", (int)(cap / line) - 1);
    ok(got && len >= line && strstr(got + len - line, last) != NULL,
       "the kept lines are the first ones");
    free(got);

    /* After shutdown the module is usable again. */
    l = access_log_open(path, NULL);
    ok(l != NULL, "open after shutdown");
    is_int(access_log_start(), 0, "start after shutdown");
    write_range(l, NULL, "again", 0, 1);
    access_log_shutdown();
    ok(file_size(path) == (off_t)(cap / line * line + line_len("again")), "and writes again");
}

static void test_stdout(void)
{
    char path[128];
    struct buf want;
    size_t len;

    snprintf(path, sizeof path, "%s/stdout.log", tmpdir);
    fflush(stdout);
    int saved = dup(1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    buf_init(&want, 0);
    struct access_log *l = access_log_open("-", NULL);
    int shared = access_log_open("-", NULL) == l;
    access_log_start();
    write_range(l, &want, "stdout", 0, 100);
    access_log_reopen_all(); /* nothing to reopen for stdout */
    access_log_shutdown();
    int still_open = fcntl(1, F_GETFD) != -1;
    dup2(saved, 1);
    close(saved);

    ok(l != NULL && shared, "\"-\" opens once");
    ok(still_open, "shutdown does not close fd 1");
    char *got = slurp(path, &len);
    is_mem(got, len, want.data, want.len, "\"-\" writes to fd 1");
    free(got);
    buf_dispose(&want);
}

static void cleanup(void)
{
    static const char *const names[] = {"open.log",    "e2e.log",    "bg.log",
                                        "threads.log", "rotate.log", "rotate.log.1",
                                        "moved.log",   "drop.log",   "stdout.log"};
    char path[160];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

int main(void)
{
    umask(022);
    test_format();
    test_escaping();
    test_combined();
    test_json();
    is_int(line_len("d"), 125, "numbered line length");

    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_access_log.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_open();
    test_end_to_end();
    test_flushes_in_background();
    test_threads();
    test_close();
    test_reopen();
    test_reopen_failure();
    test_backlog_cap();
    test_stdout();
    cleanup();
    return done_testing();
}
