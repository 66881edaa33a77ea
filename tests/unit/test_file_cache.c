/* file_cache: identity checks, byte budget, LRU order, and references outliving eviction. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file_cache.h"
#include "tap.h"

static struct stat ident(ino_t ino, off_t size, time_t mtime)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_dev = 1;
    st.st_ino = ino;
    st.st_size = size;
    st.st_mtim.tv_sec = mtime;
    return st;
}

/* A new entry holding size bytes of body, put into c; returns the caller's reference. */
static struct file_entry *put(struct file_cache *c, const char *key, const struct stat *st)
{
    struct file_entry *e = file_entry_new(key, st);
    e->data = malloc((size_t)st->st_size ? (size_t)st->st_size : 1);
    memset(e->data, 'x', (size_t)st->st_size);
    return file_cache_put(c, e);
}

int main(void)
{
    uint64_t bytes;
    size_t n;
    const size_t body = 1000;
    /* room for two entries of `body` bytes plus their bookkeeping, not three */
    const uint64_t budget = 2 * (body + sizeof(struct file_entry) + 16) + 100;
    struct file_cache *c = file_cache_new(budget);

    struct stat a = ident(10, body, 100);
    struct file_entry *ea = put(c, "/a", &a);
    file_entry_release(ea);
    file_cache_stats(c, &bytes, &n);
    is_int(n, 1, "one entry after a put");
    ok(bytes >= body && bytes <= budget, "its bytes are counted");

    struct file_entry *hit = file_cache_get(c, "/a", &a);
    ok(hit == ea, "same key and identity: hit");
    file_entry_release(hit);

    struct stat a_changed = ident(10, body, 101); /* edited in place: new mtime */
    ok(file_cache_get(c, "/a", &a_changed) == NULL, "other mtime: miss");
    file_cache_stats(c, &bytes, &n);
    is_int(n, 0, "the stale entry is dropped on the miss");
    is_int(bytes, 0, "and its bytes released");

    struct stat a_new_inode = ident(11, body, 100); /* replaced by rename: new inode */
    file_entry_release(put(c, "/a", &a));
    ok(file_cache_get(c, "/a", &a_new_inode) == NULL, "other inode: miss");
    struct stat a_size = ident(10, body + 1, 100);
    file_entry_release(put(c, "/a", &a));
    ok(file_cache_get(c, "/a", &a_size) == NULL, "other size: miss");
    ok(file_cache_get(c, "/missing", &a) == NULL, "unknown key: miss");

    /* LRU: a, b in; touch a; c evicts b (the least recently used), not a */
    struct stat b = ident(20, body, 100), cc = ident(30, body, 100);
    file_entry_release(put(c, "/a", &a));
    file_entry_release(put(c, "/b", &b));
    file_entry_release(file_cache_get(c, "/a", &a));
    struct file_entry *held_b = file_cache_get(c, "/b", &b); /* a reference across eviction */
    file_entry_release(file_cache_get(c, "/a", &a));         /* a is the most recent again */
    file_entry_release(put(c, "/c", &cc));
    file_cache_stats(c, &bytes, &n);
    is_int(n, 2, "the budget holds two entries");
    ok(bytes <= budget, "bytes stay within the budget");
    struct file_entry *got_a = file_cache_get(c, "/a", &a);
    ok(got_a != NULL, "the recently used entry survived");
    file_entry_release(got_a);
    ok(file_cache_get(c, "/b", &b) == NULL, "the least recently used entry was evicted");
    ok(held_b->data && held_b->data[body - 1] == 'x',
       "an evicted entry stays readable while a reference is held");
    file_entry_release(held_b); /* frees it (ASan/valgrind would see a double free or leak) */

    /* replacing a key keeps one entry per key */
    struct stat c2 = ident(31, body, 100);
    file_entry_release(put(c, "/c", &c2));
    file_cache_stats(c, &bytes, &n);
    is_int(n, 2, "a put for an existing key replaces it");
    struct file_entry *got_c = file_cache_get(c, "/c", &c2);
    ok(got_c != NULL, "the new identity is served");
    file_entry_release(got_c);
    /* callers stat first, so a get with another identity means the file changed again */
    ok(file_cache_get(c, "/c", &cc) == NULL, "the replaced identity is not served");
    file_entry_release(put(c, "/c", &c2));

    /* an entry larger than the whole budget is returned but never cached */
    struct stat huge = ident(40, (off_t)budget, 100);
    struct file_entry *eh = put(c, "/huge", &huge);
    ok(eh != NULL && eh->data != NULL, "an oversized entry is still usable once");
    file_entry_release(eh);
    ok(file_cache_get(c, "/huge", &huge) == NULL, "but it is not cached");
    file_cache_stats(c, &bytes, &n);
    is_int(n, 2, "and evicted nothing");

    /* coded variants: the first attach wins, useless is sticky, per coding */
    struct file_entry *e = file_cache_get(c, "/a", &a);
    bool useless = true;
    ok(file_entry_variant(e, CODING_GZIP, &useless) == NULL && !useless, "no gzip variant yet");
    file_cache_mark_useless(e, CODING_GZIP);
    file_entry_variant(e, CODING_GZIP, &useless);
    ok(useless, "marked useless: remembered");
    file_entry_variant(e, CODING_BR, &useless);
    ok(!useless, "... for that coding only");
    is_int(e->file_coding, -1, "an ordinary file");
    file_entry_release(e);

    struct file_cache *off = file_cache_new(0);
    struct file_entry *eo = put(off, "/a", &a);
    ok(eo != NULL, "a cache of 0 bytes still hands the entry back");
    file_entry_release(eo);
    ok(file_cache_get(off, "/a", &a) == NULL, "but keeps nothing");
    file_cache_free(off);

    file_cache_free(c);
    file_cache_free(NULL);
    return done_testing();
}
