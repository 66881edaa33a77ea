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
