/* log: the pure line formatter (text and JSON), byte for byte, hostile messages included. */
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "tap.h"

#define T0 INT64_C(1764358200123) /* 2025-11-28T19:30:00.123Z */

static const char *line(struct buf *b, enum log_format f, enum log_level level, uint64_t id,
                        const char *msg, size_t n)
{
    buf_reset(b);
    if (log_format_line(b, f, T0, level, "fcgi", id, msg, n) != 0)
        return "(failed)";
    return b->data;
}

static void test_text(void)
{
    struct buf b;

    buf_init(&b, 0);
    is_str(line(&b, LOG_FORMAT_TEXT, LOG_ERROR, 42, "x", 1),
           "2025-11-28T19:30:00.123Z [error] fcgi #42: x\n", "text: with a request id");
    is_str(line(&b, LOG_FORMAT_TEXT, LOG_WARN, 0, "a\nb\rc", 5),
           "2025-11-28T19:30:00.123Z [warn] fcgi: a b c\n",
           "text: no id; CR and LF become spaces (one entry, one line)");
    static const char esc[] = "\x1b[31mred\x1b[0m\x07\x7f\x00\ttab caf\xc3\xa9 \xc2\x9b"
                              "2J \xff";
    is_str(line(&b, LOG_FORMAT_TEXT, LOG_WARN, 3, esc, sizeof esc - 1),
           "2025-11-28T19:30:00.123Z [warn] fcgi #3: \\x1B[31mred\\x1B[0m\\x07\\x7F\\x00\ttab "
           "caf\xc3\xa9 \\xC2\\x9B2J \xff\n",
           "text: other control bytes (ESC, BEL, DEL, NUL, C1 in UTF-8) as \\xHH; TAB, UTF-8 kept");
    is_str(line(&b, LOG_FORMAT_TEXT, LOG_WARN, 3, "end\xc2", 4),
           "2025-11-28T19:30:00.123Z [warn] fcgi #3: end\xc2\n",
           "text: a lone 0xC2 at the end is kept");
    buf_reset(&b);
    is_int(log_format_line(&b, LOG_FORMAT_TEXT, INT64_C(400000000000000), LOG_INFO, "x", 0, "m", 1),
           0, "text: time past year 9999");
    is_str(b.data, "- [info] x: m\n", "text: '-' for it");
    buf_dispose(&b);
}

static void test_json(void)
{
    struct buf b;

    buf_init(&b, 0);
    is_str(line(&b, LOG_FORMAT_JSON, LOG_ERROR, 42, "PHP message: boom", 17),
           "{\"time\":\"2025-11-28T19:30:00.123Z\",\"level\":\"error\",\"module\":\"fcgi\","
           "\"request_id\":42,\"message\":\"PHP message: boom\"}\n",
           "json: every field");
    is_str(line(&b, LOG_FORMAT_JSON, LOG_DEBUG, 0, "", 0),
           "{\"time\":\"2025-11-28T19:30:00.123Z\",\"level\":\"debug\",\"module\":\"fcgi\","
           "\"request_id\":null,\"message\":\"\"}\n",
           "json: request_id null when not request-bound");
    static const char hostile[] = "q\"b\\n\n\r\t\x01\x7f caf\xc3\xa9 \xff\xc3\"}\n{\"level\":\"x";
    is_str(line(&b, LOG_FORMAT_JSON, LOG_WARN, 7, hostile, sizeof hostile - 1),
           "{\"time\":\"2025-11-28T19:30:00.123Z\",\"level\":\"warn\",\"module\":\"fcgi\","
           "\"request_id\":7,\"message\":\"q\\\"b\\\\n\\n\\r\\t\\u0001\\u007f caf\xc3\xa9 "
           "\\u00ff\\u00c3\\\"}\\n{\\\"level\\\":\\\"x\"}\n",
           "json: quotes, backslashes, controls escaped; UTF-8 kept; invalid bytes \\u00XX");
    ok(strchr(b.data, '\n') == b.data + b.len - 1, "json: exactly one newline, at the end");
    buf_dispose(&b);

    buf_init(&b, 40);
    buf_puts(&b, "keep");
    is_int(log_format_line(&b, LOG_FORMAT_JSON, T0, LOG_ERROR, "fcgi", 1, "m", 1), -1,
           "json: over the cap fails");
    is_str(b.data, "keep", "json: nothing half written");
    buf_dispose(&b);
}

int main(void)
{
    test_text();
    test_json();
    return done_testing();
}
