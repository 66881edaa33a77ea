/*
 * static_file: see include/static_file.h.
 *
 * Flow: stat(root + path) (once per worker loop turn: stat_memo.h); a cache hit with the same
 * identity is answered from memory at once. Otherwise fs_open_beneath() applies the symlink
 * policy, directories get the slash redirect, an index file or a listing, and regular files become
 * a cache entry (small) or an fd-backed response (large, sent with sendfile). Then one selection
 * step picks the variant (for each coding the client takes, best first (coding.h): a
 * precompressed FILE.zst, .br or .gz, else that coding made here and cached; else identity),
 * checks preconditions against
 * that variant's validators, and applies a single Range to identity bodies only.
 *
 * Notes: multiple ranges are answered with the whole 200 (RFC 9110 14.2 allows ignoring
 * Range). Vary: Accept-Encoding is sent on every compressible type so shared caches never mix
 * variants, whether or not this site compresses.
 */
#include "static_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "coding.h"
#include "compress.h"
#include "conditional.h"
#include "dir_listing.h"
#include "error_page.h"
#include "live_reload.h"
#include "file_cache.h"
#include "fs.h"
#include "gzip.h"
#include "handler.h"
#include "http_date.h"
#include "log.h"
#include "range.h"
#include "response.h"
#include "route.h"
#include "stat_memo.h"
#include "util.h"

#define GZIP_MAX_FILE (8u << 20) /* larger compressible files are sent as they are */
#define LISTING_MAX_BYTES (8u << 20)
#define LISTING_MAX_ENTRIES 50000

static const struct mime_table *mime;
static struct file_cache *small_files; /* identity (and coded variants) of files <= max_file */
static struct file_cache *big_gzip;    /* coded variants (gzip, br, zstd) of larger files */
static uint64_t max_file;
static bool live_reload; /* development mode: the reload script goes into HTML files */

void static_file_init(const struct server_conf *conf, const struct mime_table *m)
{
    mime = m;
    live_reload = conf->dev_reload;
    max_file = conf->file_cache_bytes ? conf->file_cache_max_file : 0;
    small_files = file_cache_new(conf->file_cache_bytes);
    big_gzip = file_cache_new(conf->gzip_cache_bytes);
}

static void cache_stats(struct file_cache *c, struct static_file_cache_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!c)
        return;
    file_cache_counts(c, &st->hits, &st->misses);
    file_cache_stats(c, &st->bytes, &st->entries);
}

void static_file_cache_stats(struct static_file_cache_stats *file,
                             struct static_file_cache_stats *gzip)
{
    cache_stats(small_files, file);
    cache_stats(big_gzip, gzip);
}

void static_file_shutdown(void)
{
    file_cache_free(small_files);
    file_cache_free(big_gzip);
    small_files = big_gzip = NULL;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Validators and type shared by every response about one file. */
static void add_entity_headers(struct MHD_Response *resp, const struct file_entry *e,
                               const char *etag, int coding)
{
    bool gzip_body = coding >= 0;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, WHARF_SERVER_HEADER);
    if (e->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, e->last_modified);
    if (gzip_body)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, coding_name(coding));
    else
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (gzip_body || (e->content_type && mime_is_compressible(e->content_type)))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
}

/* A new entry for a regular file: validators always, the body too when it is small. */
static struct file_entry *make_entry(const char *key, int fd, const struct stat *st,
                                     const char *type_path, int file_coding, struct request *r)
{
    /* ETag suffixes: a variant made here, and a precompressed file ("s": its own bytes) */
    static const char *const made[CODING_N] = {"-gz", "-br", "-zst"};
    static const char *const stored[CODING_N] = {"-gzs", "-brs", "-zsts"};
    struct file_entry *e = file_entry_new(key, st);
    e->content_type = mime_lookup(mime, type_path);
    e->file_coding = file_coding;
    etag_make(e->etag, st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (uint64_t)st->st_size,
              file_coding >= 0 ? stored[file_coding] : "");
    for (int k = 0; k < CODING_N; k++)
        etag_make(e->enc[k].etag, st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (uint64_t)st->st_size,
                  made[k]);
    http_date_format(st->st_mtim.tv_sec, e->last_modified);
    if (e->size <= max_file) {
        e->data = xmalloc(e->size + 1);
        int rc = fs_read_all(fd, e->data, e->size);
        if (rc != 0) {
            log_error("static", r->id, "reading %s: %s", key, strerror(-rc));
            free(e->data);
            e->data = NULL;
        } else {
            /* the response owns the bytes: a connection may still be sending them after
             * the entry was replaced or evicted (file_cache.h) */
            e->resp = MHD_create_response_from_buffer_with_free_callback(e->size, e->data, free);
            if (e->resp)
                add_entity_headers(e->resp, e, e->etag, file_coding);
        }
    }
    return file_cache_put(small_files, e);
}

static void release_entry(void *cls)
{
    file_entry_release(cls);
}

/*
 * Queue a cached response of e (shared, the fast path), or, when response rules, an X-Sendfile or
 * HSTS will add headers to r's response (response_private_headers), a response of r's own
 * over the same bytes, holding a reference to e (and so to its bytes) until MHD drops it: a shared
 * response must never carry one request's headers.
 */
static enum MHD_Result queue_cached(struct MHD_Connection *c, struct request *r,
                                    struct file_entry *e, struct MHD_Response *shared, char *data,
                                    size_t len, const char *etag, int coding)
{
    if (!response_private_headers(r))
        return response_queue(c, r, MHD_HTTP_OK, shared, len);
    file_entry_ref(e);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(len, data, release_entry, e);
    if (!resp) {
        file_entry_release(e);
        return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
    }
    add_entity_headers(resp, e, etag, coding);
    enum MHD_Result ret = response_queue(c, r, MHD_HTTP_OK, resp, len);
    MHD_destroy_response(resp);
    return ret;
}

/* A response in coding k over body, which it owns from now on (freed with the response). */
static struct MHD_Response *coded_response(const struct file_entry *e, enum coding k, char *body,
                                           size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (resp)
        add_entity_headers(resp, e, e->enc[k].etag, (int)k);
    return resp;
}

/* Read and compress a whole file; NULL on failure. */
static char *compress_file(enum coding k, int fd, uint64_t size, const char *known, size_t *out_len,
                           struct request *r, const char *key)
{
    char *tmp = NULL;
    const char *src = known;
    if (!src) {
        tmp = xmalloc(size + 1);
        int rc = fs_read_all(fd, tmp, size);
        if (rc != 0) {
            log_error("static", r->id, "reading %s: %s", key, strerror(-rc));
            free(tmp);
            return NULL;
        }
        src = tmp;
    }
    struct buf out;
    buf_init(&out, size); /* a variant that is not smaller is useless */
    int rc = compress_buffer(k, src, size, &out);
    free(tmp);
    if (rc != 0) {
        buf_dispose(&out);
        return NULL;
    }
    return buf_steal(&out, out_len);
}

/*
 * The entry that holds the variant of e in coding k, referenced for the caller, or NULL when
 * there is none (too large, or k does not pay off): e itself for small files, an entry of
 * big_gzip for larger ones. note: read and compressed on the worker thread, once per file
 * and coding (then cached), as gzip always was; brotli at quality 5 and zstd at level 6 cost
 * about what gzip -6 does.
 */
static struct file_entry *variant_holder(const char *key, struct file_entry *e, int fd,
                                         const struct stat *st, struct request *r, enum coding k)
{
    bool useless;
    struct file_entry *h;
    if (e->data) {
        file_entry_ref(e);
        h = e;
    } else {
        h = file_cache_get(big_gzip, key, st);
        if (!h) {
            if (e->size > GZIP_MAX_FILE || fd < 0)
                return NULL;
            h = file_entry_new(key, st);
            h->content_type = e->content_type;
            for (int i = 0; i < CODING_N; i++)
                memcpy(h->enc[i].etag, e->enc[i].etag, sizeof h->enc[i].etag);
            memcpy(h->last_modified, e->last_modified, sizeof h->last_modified);
            h = file_cache_put(big_gzip, h);
        }
    }
    if (file_entry_variant(h, k, &useless))
        return h;
    if (!useless) {
        size_t len = 0;
        char *body = compress_file(k, fd, e->size, e->data, &len, r, key);
        struct MHD_Response *resp = body ? coded_response(h, k, body, len) : NULL;
        if (resp) {
            file_cache_attach(h, k, body, len, resp);
            return h;
        }
        free(body); /* no response took it */
        file_cache_mark_useless(h, k);
    }
    file_entry_release(h);
    return NULL;
}

/* A 304 carries the validators of the variant it stands for (RFC 9110 15.4.5), and the
 * length of that variant: MHD writes a Content-Length on a 304 whatever we do, and only the
 * 200's length is allowed there (RFC 9110 8.6), never 0 for a file that is not empty. */
static enum MHD_Result not_modified(struct MHD_Connection *c, struct request *r,
                                    const struct file_entry *e, const char *etag, int coding,
                                    uint64_t variant_len)
{
    struct MHD_Response *resp = response_bodiless(variant_len);
    if (!resp)
        return MHD_NO;
    add_entity_headers(resp, e, etag, coding);
    if (coding >= 0)
        MHD_del_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, coding_name(coding));
    MHD_del_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_del_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type);
    enum MHD_Result ret = response_queue(c, r, MHD_HTTP_NOT_MODIFIED, resp, 0);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * A usable precompressed sibling in coding k: FILE.gz, FILE.br or FILE.zst, regular, not older
 * than FILE. Returns its entry
 * (referenced) and, when its body is not held in memory, an open fd in *fd (else -1).
 * note: cached under "FILE.gz\n", not "FILE.gz": a direct request for FILE.gz is a different
 * representation (application/gzip, no Content-Encoding). A path never holds a control byte.
 */
static struct file_entry *precompressed(struct request *r, const struct site_conf *site,
                                        const char *full, const char *path, const struct stat *orig,
                                        enum coding k, int *fd)
{
    const char *sfx = coding_suffix(k);
    char key[PATH_MAX], file[PATH_MAX], rel[PATH_MAX];
    struct stat st;
    *fd = -1;
    if (!join2(file, sizeof file, full, sfx) || !join2(key, sizeof key, file, "\n") ||
        !join2(rel, sizeof rel, path, sfx))
        return NULL;
    if (stat_memo_stat(file, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_mtim.tv_sec < orig->st_mtim.tv_sec)
        return NULL;
    struct file_entry *e = file_cache_get(small_files, key, &st);
    if (e && e->resp)
        return e;
    file_entry_release(e);
    int gz_fd = fs_open_beneath(site->root, rel, site->follow_symlinks, site->git.shared_dir, &st);
    if (gz_fd < 0)
        return NULL;
    if (!S_ISREG(st.st_mode)) {
        close(gz_fd);
        return NULL;
    }
    e = make_entry(key, gz_fd, &st, path, (int)k, r);
    if (e->resp)
        close(gz_fd);
    else
        *fd = gz_fd; /* too large for memory: sent from the file */
    return e;
}

/* RFC 9110 13.2.2: the client's preconditions against one representation's validators. */
static inline enum cond_result evaluate_conditions(struct MHD_Connection *c, const char *etag,
                                                   time_t mtime)
{
    struct cond_headers ch = {
        .if_match = header(c, MHD_HTTP_HEADER_IF_MATCH),
        .if_none_match = header(c, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .if_modified_since = header(c, MHD_HTTP_HEADER_IF_MODIFIED_SINCE),
        .if_unmodified_since = header(c, MHD_HTTP_HEADER_IF_UNMODIFIED_SINCE),
    };
    return cond_evaluate(&ch, etag, mtime, true);
}

#define LIVE_RELOAD_MAX_FILE (16u << 20) /* larger HTML files are sent without the script */

/*
 * Development mode's live reload: an HTML file with the script in it (live_reload.h). Its own
 * representation: the ETag names it ("-lr"), Content-Length counts the script, a Range is
 * ignored (RFC 9110 14.2 allows it), and gzip, when the site and the client want it, is made
 * from the injected bytes. Returns MHD_YES/MHD_NO, or -1 to serve the file as it is (too big,
 * unreadable).
 */
static int serve_injected(struct MHD_Connection *c, struct request *r, const struct site_conf *site,
                          const struct file_entry *e, int fd)
{
    char etag[ETAG_MAX + 8];
    size_t script = strlen(live_reload_script);
    /* gzip'd when the site compresses and the client takes it (HEAD too: the same headers) */
    unsigned codings = site->compress | (site->gzip ? CODING_BIT(CODING_GZIP) : 0);
    enum coding best[CODING_N];
    bool gz = (codings & CODING_BIT(CODING_GZIP)) && e->size + script >= GZIP_MIN_BYTES &&
              coding_negotiate(header(c, MHD_HTTP_HEADER_ACCEPT_ENCODING), CODING_BIT(CODING_GZIP),
                               best) > 0;
    if (e->size > LIVE_RELOAD_MAX_FILE || !live_reload_etag(e->etag, etag, sizeof etag))
        return -1;
    if (gz) { /* "...-lr" + "-gz": another representation */
        etag[strlen(etag) - 1] = '\0';
        strcat(etag, "-gz\"");
    }
    char *file = e->data; /* made first: a 304 carries the 200's length */
    if (!file) {
        file = xmalloc(e->size + 1);
        if (fs_read_all(fd, file, e->size) != 0) {
            free(file);
            return -1;
        }
    }
    struct buf body, z;
    buf_init(&body, 0);
    live_reload_inject(&body, file, e->size);
    if (file != e->data)
        free(file);
    buf_init(&z, 0);
    if (gz && compress_buffer(CODING_GZIP, body.data, body.len, &z) == 0) {
        buf_dispose(&body);
        body = z;
    } else {
        buf_dispose(&z);
        if (gz) { /* cannot compress: identity, under the identity's ETag */
            gz = false;
            live_reload_etag(e->etag, etag, sizeof etag);
        }
    }
    size_t len = body.len;
    enum cond_result cr = evaluate_conditions(c, etag, e->mtime.tv_sec);
    if (cr != COND_PROCEED) {
        buf_dispose(&body);
        return cr == COND_NOT_MODIFIED
                   ? not_modified(c, r, e, etag, gz ? (int)CODING_GZIP : -1, len)
                   : response_error(c, r, MHD_HTTP_PRECONDITION_FAILED, NULL, NULL, NULL);
    }
    struct MHD_Response *resp = response_from_buf(&body, NULL);
    if (!resp)
        return MHD_NO;
    MHD_del_response_header(resp, MHD_HTTP_HEADER_SERVER, WHARF_SERVER_HEADER);
    add_entity_headers(resp, e, etag, gz ? (int)CODING_GZIP : -1);
    MHD_del_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ret = response_queue(c, r, MHD_HTTP_OK, resp, len);
    MHD_destroy_response(resp);
    return ret;
}

/* The representation chosen for one answer: the file itself, or a coded variant of it. */
struct variant {
    struct file_entry *alt; /* a coded variant's entry (our reference); NULL = identity */
    int fd;                 /* open on alt's file when its body is not in memory, else -1 */
    int coding;             /* -1 = identity */
    bool stored;            /* alt is a precompressed file's own bytes */
    const char *etag;       /* the chosen representation's validators and length */
    const struct timespec *mtime;
    uint64_t len;
};

/* For each coding the client takes, best first: a precompressed file, else one made here. */
static void choose_variant(struct MHD_Connection *c, struct request *r,
                           const struct site_conf *site, const char *full, const char *path,
                           struct file_entry *e, int fd, const struct stat *st, struct variant *v)
{
    unsigned codings = site->compress | (site->gzip ? CODING_BIT(CODING_GZIP) : 0);
    if (!codings)
        return;
    enum coding want[CODING_N];
    size_t n = coding_negotiate(header(c, MHD_HTTP_HEADER_ACCEPT_ENCODING), codings, want);
    bool make = e->size >= GZIP_MIN_BYTES && mime_is_compressible(e->content_type);
    for (size_t i = 0; i < n && !v->alt; i++) {
        v->alt = precompressed(r, site, full, path, st, want[i], &v->fd);
        if (!v->alt && make)
            v->alt = variant_holder(full, e, fd, st, r, want[i]);
        if (v->alt)
            v->coding = (int)want[i];
    }
    if (!v->alt)
        return;
    v->stored = v->alt->file_coding >= 0;
    v->etag = v->stored ? v->alt->etag : v->alt->enc[v->coding].etag;
    v->mtime = &v->alt->mtime;
    v->len = v->stored ? v->alt->size : v->alt->enc[v->coding].len;
}

/* A coded variant: from its file when too large for memory (MHD then owns v->fd), else from
 * the responses its entry holds. */
static enum MHD_Result serve_variant(struct MHD_Connection *c, struct request *r, struct variant *v)
{
    struct file_entry *alt = v->alt;
    int coding = v->coding;

    if (v->fd >= 0) {
        struct MHD_Response *resp = MHD_create_response_from_fd64(alt->size, v->fd);
        if (!resp)
            return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
        v->fd = -1; /* MHD owns it now */
        add_entity_headers(resp, alt, alt->etag, coding);
        enum MHD_Result ret = response_queue(c, r, MHD_HTTP_OK, resp, alt->size);
        MHD_destroy_response(resp);
        return ret;
    }
    /* the entry owns these responses; our reference keeps them alive while queued */
    return v->stored ? queue_cached(c, r, alt, alt->resp, alt->data, alt->size, alt->etag, coding)
                     : queue_cached(c, r, alt, alt->enc[coding].resp, alt->enc[coding].data,
                                    alt->enc[coding].len, alt->enc[coding].etag, coding);
}

/* The file's own bytes, whole or one satisfiable Range of them (206). When the body is read
 * from *fd and MHD takes it, *fd becomes -1. */
static enum MHD_Result serve_identity(struct MHD_Connection *c, struct request *r,
                                      struct file_entry *e, const char *range, int *fd)
{
    struct MHD_Response *resp;
    uint64_t start = 0, len = e->size;
    enum range_result rr = RANGE_NONE;

    if (range && cond_if_range(header(c, MHD_HTTP_HEADER_IF_RANGE), e->etag, e->mtime.tv_sec))
        rr = range_parse(range, e->size, &start, &len);
    if (rr == RANGE_UNSATISFIABLE) {
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)e->size);
        return response_error(c, r, MHD_HTTP_RANGE_NOT_SATISFIABLE, NULL,
                              MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    if (rr != RANGE_SINGLE) {
        if (e->resp)
            return queue_cached(c, r, e, e->resp, e->data, e->size, e->etag, e->file_coding);
        start = 0;
        len = e->size;
    }
    if (e->data) {
        resp = MHD_create_response_from_buffer(len, e->data + start, MHD_RESPMEM_MUST_COPY);
    } else {
        resp = MHD_create_response_from_fd_at_offset64(len, *fd, start);
        if (resp)
            *fd = -1; /* MHD owns it now */
    }
    if (!resp)
        return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
    add_entity_headers(resp, e, e->etag, e->file_coding);
    if (rr == RANGE_SINGLE) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)start,
                 (unsigned long long)(start + len - 1), (unsigned long long)e->size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    enum MHD_Result ret = response_queue(
        c, r, rr == RANGE_SINGLE ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, resp, len);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * Answer for a regular file described by e. fd is open on it when the body is not in memory
 * (ownership passes here: it is closed or handed to MHD), else -1.
 */
static enum MHD_Result serve_entry(struct MHD_Connection *c, struct request *r,
                                   const struct site_conf *site, const char *full, const char *path,
                                   struct file_entry *e, int fd, const struct stat *st)
{
    enum MHD_Result ret = MHD_NO;
    if (live_reload && e->file_coding < 0 && live_reload_is_html(e->content_type)) {
        int rc = serve_injected(c, r, site, e, fd);
        if (rc >= 0) {
            if (fd >= 0)
                close(fd);
            return (enum MHD_Result)rc;
        }
    }
    /* an error page (r->error_status) is the whole page, whatever the client asks for */
    const char *range = r->error_status ? NULL : header(c, MHD_HTTP_HEADER_RANGE);
    struct variant v = {
        .fd = -1, .coding = -1, .etag = e->etag, .mtime = &e->mtime, .len = e->size};

    if (!range && e->file_coding < 0)
        choose_variant(c, r, site, full, path, e, fd, st, &v);
    switch (r->error_status ? COND_PROCEED : evaluate_conditions(c, v.etag, v.mtime->tv_sec)) {
    case COND_NOT_MODIFIED:
        ret = not_modified(c, r, e, v.etag, v.coding, v.len);
        break;
    case COND_PRECONDITION_FAILED:
        ret = response_error(c, r, MHD_HTTP_PRECONDITION_FAILED, NULL, NULL, NULL);
        break;
    case COND_PROCEED:
        ret = v.alt ? serve_variant(c, r, &v) : serve_identity(c, r, e, range, &fd);
        break;
    }
    file_entry_release(v.alt);
    if (v.fd >= 0)
        close(v.fd);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Serve the regular file open on fd (ownership passes here). */
static enum MHD_Result serve_fd(struct MHD_Connection *c, struct request *r,
                                const struct site_conf *site, const char *full, const char *path,
                                int fd, const struct stat *st)
{
    struct file_entry *e = make_entry(full, fd, st, path, -1, r);
    if (e->data) {
        close(fd);
        fd = -1;
    }
    enum MHD_Result ret = serve_entry(c, r, site, full, path, e, fd, st);
    file_entry_release(e);
    return ret;
}

static enum MHD_Result listing(struct MHD_Connection *c, struct request *r,
                               const struct site_conf *site, const char *path, int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
    }
    struct dir_entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int flags = site->follow_symlinks == FOLLOW_OFF ? AT_SYMLINK_NOFOLLOW : 0;
    while ((de = readdir(d)) && n < LISTING_MAX_ENTRIES) {
        struct stat st;
        if (de->d_name[0] == '.')
            continue; /* dotfiles are never listed (nor served) */
        if (fstatat(dirfd(d), de->d_name, &st, flags) != 0)
            continue;
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[n].name = xstrdup(de->d_name);
        v[n].is_dir = S_ISDIR(st.st_mode);
        v[n].size = (uint64_t)st.st_size;
        v[n].mtime = st.st_mtim.tv_sec;
        n++;
    }
    closedir(d);
    dir_listing_sort(v, n);
    struct buf b;
    buf_init(&b, LISTING_MAX_BYTES);
    bool json = error_page_wants_json(header(c, MHD_HTTP_HEADER_ACCEPT));
    int rc = json ? dir_listing_json(&b, path, v, n) : dir_listing_html(&b, path, v, n);
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    if (rc != 0) {
        buf_dispose(&b);
        return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "listing too large", NULL,
                              NULL);
    }
    return response_send_buf(c, r, MHD_HTTP_OK, &b,
                             json ? "application/json" : "text/html; charset=utf-8", "no-cache",
                             MHD_HTTP_HEADER_VARY, "Accept");
}

/* A directory: redirect to the slash form, else its first index file, else a listing. */
static enum MHD_Result serve_dir(struct MHD_Connection *c, struct request *r,
                                 const struct site_conf *site, const char *path, size_t path_len,
                                 const char *query, size_t query_len, int dirfd)
{
    if (path[path_len - 1] != '/') {
        close(dirfd);
        struct buf loc;
        buf_init(&loc, 0);
        buf_append_url(&loc, path, path_len);
        buf_putc(&loc, '/');
        if (query) {
            buf_putc(&loc, '?');
            buf_append(&loc, query, query_len);
        }
        enum MHD_Result ret = response_error(c, r, MHD_HTTP_MOVED_PERMANENTLY, NULL,
                                             MHD_HTTP_HEADER_LOCATION, loc.data);
        buf_dispose(&loc);
        return ret;
    }
    for (size_t i = 0; i < site->index.n; i++) {
        char rel[PATH_MAX], full[PATH_MAX];
        struct stat st;
        if (!join2(rel, sizeof rel, path, site->index.v[i]) ||
            !join2(full, sizeof full, site->root, rel))
            continue;
        int fd = fs_open_beneath(site->root, rel, site->follow_symlinks, site->git.shared_dir, &st);
        if (fd < 0)
            continue;
        if (!S_ISREG(st.st_mode)) {
            close(fd);
            continue;
        }
        close(dirfd);
        return serve_fd(c, r, site, full, rel, fd, &st);
    }
    if (site->browse)
        return listing(c, r, site, path, dirfd);
    close(dirfd);
    return response_error(c, r, MHD_HTTP_FORBIDDEN, "Directory listing is disabled.", NULL, NULL);
}

/* Every response is queued in the start call; no per-request state. */
static const struct handler static_file_handler = {"static", handler_discard_body, NULL};

enum MHD_Result static_file_options(struct MHD_Connection *c, struct request *r)
{
    r->handler = &static_file_handler;
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, WHARF_SERVER_HEADER);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, ROUTE_STATIC_ALLOW);
    enum MHD_Result ret = response_queue(c, r, MHD_HTTP_NO_CONTENT, resp, 0);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result static_file_serve(struct MHD_Connection *c, struct request *r,
                                  const struct site_conf *site, const char *path, const char *query,
                                  size_t query_len)
{
    r->handler = &static_file_handler;
    char full[PATH_MAX];
    struct stat st;
    size_t path_len = strlen(path);
    if (!join2(full, sizeof full, site->root, path))
        return response_error(c, r, MHD_HTTP_URI_TOO_LONG, NULL, NULL, NULL);

    /* Fast path: an entry filled earlier, for the very same file. Not for X-Sendfile
     * (fcgi_sendfile.h): the entry was opened beneath another root, and the file must be
     * found beneath the allowed directory, as fs_open_beneath does below */
    if (path[path_len - 1] != '/' && !r->sendfile && stat_memo_stat(full, &st) == 0 &&
        S_ISREG(st.st_mode)) {
        struct file_entry *e = file_cache_get(small_files, full, &st);
        if (e && !e->resp) { /* a large file: validators only, the body needs an fd */
            file_entry_release(e);
            e = NULL;
        }
        if (e) {
            enum MHD_Result ret = serve_entry(c, r, site, full, path, e, -1, &st);
            file_entry_release(e);
            return ret;
        }
    }
    int fd = fs_open_beneath(site->root, path, site->follow_symlinks, site->git.shared_dir, &st);
    if (fd < 0) {
        if (fd != -ENOENT && fd != -ENOTDIR && fd != -EACCES && fd != -EINVAL && fd != -ELOOP)
            log_warn("static", r->id, "open %s: %s", full, strerror(-fd));
        return response_error(c, r, fd == -EACCES ? MHD_HTTP_FORBIDDEN : MHD_HTTP_NOT_FOUND, NULL,
                              NULL, NULL);
    }
    if (S_ISDIR(st.st_mode) && r->sendfile) {
        close(fd); /* X-Sendfile names files: no listing, no redirect naming the path */
        return response_error(c, r, MHD_HTTP_NOT_FOUND, NULL, NULL, NULL);
    }
    if (S_ISDIR(st.st_mode))
        return serve_dir(c, r, site, path, path_len, query, query_len, fd);
    if (path[path_len - 1] == '/') {
        close(fd); /* "/file.txt/" names a directory that is not there */
        return response_error(c, r, MHD_HTTP_NOT_FOUND, NULL, NULL, NULL);
    }
    return serve_fd(c, r, site, full, path, fd, &st);
}
