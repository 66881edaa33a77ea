#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int main(void)
{
    struct buf b;
    buf_init(&b, 8);
    is_int(buf_puts(&b, "abcd"), 0, "append under the cap");
    is_int(buf_puts(&b, "efgh"), 0, "append up to the cap");
    is_int(buf_putc(&b, 'x'), -1, "append over the cap fails");
    is_str(b.data, "abcdefgh", "contents unchanged after refused append");
    buf_truncate(&b, 3);
    is_int(b.len, 3, "truncate keeps the first bytes");
    is_str(b.data, "abc", "... and ends the string there");
    buf_reset(&b);
    is_int(b.len, 0, "reset empties");
    buf_dispose(&b);

    buf_init(&b, 0);
    buf_append_html(&b, "<a href=\"x\">&'</a>", 18);
    is_str(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;", "html escaping");
    buf_reset(&b);
    buf_append_json(&b, "a\"b\\c\n\x01", 7);
    is_str(b.data, "a\\\"b\\\\c\\n\\u0001", "json escaping");
    buf_reset(&b);
    {
        /* every byte of a hostile string, byte for byte: controls, DEL, valid UTF-8 of each
         * length, and invalid UTF-8 (lone continuation, overlong, surrogate, truncated, past
         * U+10FFFF, 0xFF) kept as \u00XX so the output is always valid JSON */
        static const char in[] = "\t\r\x1f\x7f/caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                                 "\x80 \xc0\xaf \xed\xa0\x80 \xe2\x82 \xf4\x90\x80\x80 \xff";
        static const char want[] = "\\t\\r\\u001f\\u007f/caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                                   "\\u0080 \\u00c0\\u00af \\u00ed\\u00a0\\u0080 \\u00e2\\u0082 "
                                   "\\u00f4\\u0090\\u0080\\u0080 \\u00ff";
        buf_append_json(&b, in, sizeof in - 1);
        is_mem(b.data, b.len, want, sizeof want - 1,
               "json: controls, UTF-8 kept, bad bytes \\u00XX");
        buf_reset(&b);
        buf_append_json(&b, "a\0b", 3);
        is_mem(b.data, b.len, "a\\u0000b", 8, "json: NUL inside the length");
        buf_reset(&b);
        is_int(buf_utf8_len("\xc3", 1), 0, "utf8: truncated at n");
        is_int(buf_utf8_len("\xf0\x9f\x98\x80", 4), 4, "utf8: four bytes");
        is_int(buf_utf8_len("", 0), 0, "utf8: empty");
        struct buf small;
        buf_init(&small, 5);
        is_int(buf_append_json(&small, "\"\"\"", 3), -1, "json: the cap counts the escapes");
        buf_dispose(&small);
    }
    buf_append_url(&b, "/a b/é?#%", strlen("/a b/é?#%"));
    is_str(b.data, "/a%20b/%C3%A9%3F%23%25", "url escaping keeps slashes");
    buf_reset(&b);
    buf_printf(&b, "%d-%s", 42, "x");
    is_str(b.data, "42-x", "printf");
    size_t n;
    char *s = buf_steal(&b, &n);
    is_str(s, "42-x", "steal hands over the storage");
    is_int(n, 4, "steal reports the length");
    ok(b.data == NULL && b.len == 0, "steal leaves the buffer empty");
    free(s);

    /* buf_take: a consumer reading from the front while a producer appends */
    char out[16];
    size_t off = 0;
    buf_init(&b, 0);
    buf_puts(&b, "0123456789");
    is_int(buf_take(&b, &off, out, 4, 100), 4, "take copies up to max");
    is_mem(out, 4, "0123", 4, "take gives the front bytes");
    is_int(off, 4, "take advances the offset");
    buf_puts(&b, "ab");
    is_int(buf_take(&b, &off, out, 3, 5), 3, "take past compact_above");
    is_mem(out, 3, "456", 3, "take gives the next bytes");
    ok(off == 0 && b.len == 5 && strcmp(b.data, "789ab") == 0,
       "the unread rest moved to the front (NUL-terminated)");
    is_int(buf_take(&b, &off, out, sizeof out, 100), 5, "take the rest");
    is_mem(out, 5, "789ab", 5, "the rest in order");
    ok(off == 0 && b.len == 0, "drained: buffer reset");
    is_int(buf_take(&b, &off, out, sizeof out, 100), 0, "take from an empty buffer gives 0");
    buf_dispose(&b);
    return done_testing();
}
