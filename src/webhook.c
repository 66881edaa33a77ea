/*
 * webhook: signature checks and payload scanning for the push endpoint. Owns header precedence,
 * hex and urlencoding decoding and a validating JSON scanner that reads only top-level members
 * (a push's "ref"; a peer notification's "event", "ref" and "sent").
 * Invariants: the decision to accept depends only on gnutls_memcmp() over two 32-byte HMACs, so
 * timing reveals neither the expected digest nor the secret's length; the supplied signature
 * itself is public and may be parsed with early exits. Every failure path fails closed (never
 * WEBHOOK_OK). The JSON scanner recurses at most WEBHOOK_JSON_MAX_DEPTH levels and never reads
 * past len, so a truncated or hostile body costs bounded stack and no over-read.
 */
#include "webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "buf.h"
#include "util.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN (2 * SHA256_LEN)
#define WEBHOOK_JSON_MAX_DEPTH 64

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly 64 hex digits then NUL; anything shorter, longer or non-hex is malformed. */
static int decode_sha256_hex(const char *s, uint8_t out[SHA256_LEN])
{
    for (size_t i = 0; i < SHA256_LEN; i++) {
        int hi = hex_val((unsigned char)s[2 * i]);
        int lo = hi < 0 ? -1 : hex_val((unsigned char)s[2 * i + 1]);

        if (lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return s[SHA256_HEX_LEN] == '\0' ? 0 : -1;
}

static int hmac_sha256(const char *key, const void *data, size_t len, uint8_t out[SHA256_LEN])
{
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, strlen(key), len ? data : "", len, out);

    return rc < 0 ? -1 : 0;
}

int webhook_sign(const char *secret, const void *body, size_t len,
                 char out[WEBHOOK_SIGNATURE_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[SHA256_LEN];

    out[0] = '\0';
    if (!secret || !*secret || hmac_sha256(secret, body, len, mac) != 0)
        return -1;
    memcpy(out, "sha256=", 7);
    for (size_t i = 0; i < SHA256_LEN; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[WEBHOOK_SIGNATURE_LEN] = '\0';
    return 0;
}

static enum webhook_verdict check_signature(const char *hex, const void *body, size_t len,
                                            const char *secret)
{
    uint8_t got[SHA256_LEN], want[SHA256_LEN];

    if (decode_sha256_hex(hex, got) != 0)
        return WEBHOOK_BAD_SIGNATURE;
    if (!secret || !*secret || hmac_sha256(secret, body, len, want) != 0)
        return WEBHOOK_WRONG_SIGNATURE;
    return gnutls_memcmp(got, want, SHA256_LEN) == 0 ? WEBHOOK_OK : WEBHOOK_WRONG_SIGNATURE;
}

/* GitLab sends the secret in clear. Comparing HMACs keyed with the secret gives two fixed-size
 * values, so a plain length check (or memcmp's early exit) cannot hint at the secret. */
static enum webhook_verdict check_token(const char *token, const char *secret)
{
    uint8_t got[SHA256_LEN], want[SHA256_LEN];

    if (!secret || !*secret)
        return WEBHOOK_WRONG_SIGNATURE;
    if (hmac_sha256(secret, token, strlen(token), got) != 0 ||
        hmac_sha256(secret, secret, strlen(secret), want) != 0)
        return WEBHOOK_WRONG_SIGNATURE;
    return gnutls_memcmp(got, want, SHA256_LEN) == 0 ? WEBHOOK_OK : WEBHOOK_WRONG_SIGNATURE;
}

enum webhook_verdict webhook_verify(const struct webhook_headers *h, const void *body, size_t len,
                                    const char *secret)
{
    static const char prefix[] = "sha256=";

    if (!h)
        return WEBHOOK_NO_SIGNATURE;
    if (h->hub_signature_256) {
        if (strncmp(h->hub_signature_256, prefix, sizeof(prefix) - 1) != 0)
            return WEBHOOK_BAD_SIGNATURE;
        return check_signature(h->hub_signature_256 + sizeof(prefix) - 1, body, len, secret);
    }
    if (h->gitea_signature)
        return check_signature(h->gitea_signature, body, len, secret);
    if (h->gitlab_token)
        return check_token(h->gitlab_token, secret);
    /* note: X-Hub-Signature is HMAC-SHA1; GitHub sends it alongside the SHA-256 one, so a
     * delivery carrying only SHA-1 is treated as unsigned rather than checked weakly. */
    return WEBHOOK_NO_SIGNATURE;
}

const char *webhook_verdict_text(enum webhook_verdict v)
{
    switch (v) {
    case WEBHOOK_OK:
        return "ok";
    case WEBHOOK_NO_SIGNATURE:
        return "no signature";
    case WEBHOOK_BAD_SIGNATURE:
        return "malformed signature";
    case WEBHOOK_WRONG_SIGNATURE:
        return "wrong signature";
    }
    return "unknown verdict";
}

/* ---- JSON scanning ---- */

struct scan {
    const unsigned char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Store a byte if it fits; *n counts every byte so the caller can tell truncation apart. */
static void put(char *out, size_t cap, size_t *n, unsigned char c)
{
    if (*n < cap)
        out[*n] = (char)c;
    (*n)++;
}

static int read_hex4(struct scan *s, unsigned *v)
{
    if (s->end - s->p < 4)
        return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_val(s->p[i]);

        if (d < 0)
            return -1;
        *v = *v << 4 | (unsigned)d;
    }
    s->p += 4;
    return 0;
}

/* After "\u": one code point, joining a surrogate pair; a lone surrogate is malformed. */
static int read_escaped_cp(struct scan *s, unsigned *cp)
{
    unsigned lo;

    if (read_hex4(s, cp) != 0)
        return -1;
    if (*cp >= 0xdc00 && *cp <= 0xdfff)
        return -1;
    if (*cp < 0xd800 || *cp > 0xdbff)
        return 0;
    if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
        return -1;
    s->p += 2;
    if (read_hex4(s, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
        return -1;
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    return 0;
}

static void put_utf8(char *out, size_t cap, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        put(out, cap, n, (unsigned char)cp);
    } else if (cp < 0x800) {
        put(out, cap, n, (unsigned char)(0xc0 | cp >> 6));
        put(out, cap, n, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        put(out, cap, n, (unsigned char)(0xe0 | cp >> 12));
        put(out, cap, n, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
        put(out, cap, n, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        put(out, cap, n, (unsigned char)(0xf0 | cp >> 18));
        put(out, cap, n, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
        put(out, cap, n, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
        put(out, cap, n, (unsigned char)(0x80 | (cp & 0x3f)));
    }
}

/* s->p is on the opening quote. Decodes into out (up to cap bytes, no NUL added) and sets *n to
 * the full decoded length. Raw bytes >= 0x80 pass through unchecked: refs are bytes to git. */
static int scan_string(struct scan *s, char *out, size_t cap, size_t *n)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";

    *n = 0;
    s->p++;
    while (s->p < s->end) {
        unsigned char c = *s->p++;
        const char *e;
        unsigned cp;

        if (c == '"')
            return 0;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            put(out, cap, n, c);
            continue;
        }
        if (s->p == s->end)
            return -1;
        c = *s->p++;
        if (c == 'u') {
            if (read_escaped_cp(s, &cp) != 0)
                return -1;
            put_utf8(out, cap, n, cp);
            continue;
        }
        e = c ? strchr(esc_in, c) : NULL;
        if (!e)
            return -1;
        put(out, cap, n, (unsigned char)esc_out[e - esc_in]);
    }
    return -1;
}

static size_t skip_digits(struct scan *s)
{
    const unsigned char *start = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return (size_t)(s->p - start);
}

/* RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int skip_number(struct scan *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (skip_digits(s) == 0)
        return -1;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (skip_digits(s) == 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (skip_digits(s) == 0)
            return -1;
    }
    return 0;
}

static int skip_literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int skip_value(struct scan *s, int depth);

/* s->p is just past '{' or '['; consumes through the matching close. */
static int skip_members(struct scan *s, int depth, unsigned char close)
{
    size_t n;

    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (s->p == s->end || *s->p != '"' || scan_string(s, NULL, 0, &n) != 0)
                return -1;
            skip_ws(s);
            if (s->p == s->end || *s->p++ != ':')
                return -1;
            skip_ws(s);
        }
        if (skip_value(s, depth) != 0)
            return -1;
        skip_ws(s);
        if (s->p == s->end)
            return -1;
        if (*s->p == close) {
            s->p++;
            return 0;
        }
        if (*s->p++ != ',')
            return -1;
        skip_ws(s);
    }
}

/* s->p is on the first byte of a value (whitespace already skipped). */
static int skip_value(struct scan *s, int depth)
{
    size_t n;

    if (s->p == s->end)
        return -1;
    switch (*s->p) {
    case '"':
        return scan_string(s, NULL, 0, &n);
    case '{':
    case '[':
        if (depth >= WEBHOOK_JSON_MAX_DEPTH)
            return -1;
        return skip_members(s, depth + 1, *s->p++ == '{' ? '}' : ']');
    case 't':
        return skip_literal(s, "true");
    case 'f':
        return skip_literal(s, "false");
    case 'n':
        return skip_literal(s, "null");
    default:
        return skip_number(s);
    }
}

/* A top-level member json_top() looks for: a string decoded into out (NUL-terminated, no NUL
 * inside, fitting cap), or a non-negative integer of at most 18 digits into *num. */
struct member {
    const char *key;
    char *out;
    size_t cap;
    int64_t *num; /* non-NULL: an integer member */
    bool found;
};

static int read_member(struct scan *s, struct member *m)
{
    size_t n = 0;

    /* a repeated key is ambiguous (parsers disagree on which wins): refuse it */
    if (m->found || s->p == s->end)
        return -1;
    m->found = true;
    if (m->num) {
        const unsigned char *start = s->p;
        int64_t v = 0;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && s->p - start < 18)
            v = v * 10 + (*s->p++ - '0');
        if (s->p == start || (*start == '0' && s->p - start > 1))
            return -1;
        /* a fraction, an exponent or a 19th digit is not an integer we take */
        if (s->p < s->end &&
            ((*s->p >= '0' && *s->p <= '9') || *s->p == '.' || *s->p == 'e' || *s->p == 'E'))
            return -1;
        *m->num = v;
        return 0;
    }
    if (*s->p != '"' || scan_string(s, m->out, m->cap, &n) != 0 || n >= m->cap ||
        memchr(m->out, '\0', n))
        return -1;
    m->out[n] = '\0';
    return 0;
}

/* The top level must be one object; the members named in want are read (each must be present,
 * once, of its type), all else is validated and skipped. */
static int json_top(const void *body, size_t len, struct member *want, size_t n_want)
{
    struct scan s = {body, (const unsigned char *)body + len};
    char key[16];
    size_t n;

    skip_ws(&s);
    if (s.p == s.end || *s.p++ != '{')
        return -1;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}')
        return -1; /* empty object: nothing we want */
    for (;;) {
        if (s.p == s.end || *s.p != '"' || scan_string(&s, key, sizeof(key), &n) != 0)
            return -1;
        skip_ws(&s);
        if (s.p == s.end || *s.p++ != ':')
            return -1;
        skip_ws(&s);
        struct member *m = NULL;
        for (size_t i = 0; i < n_want && !m; i++)
            if (n == strlen(want[i].key) && memcmp(key, want[i].key, n) == 0)
                m = &want[i];
        if (m ? read_member(&s, m) != 0 : skip_value(&s, 1) != 0)
            return -1;
        skip_ws(&s);
        if (s.p == s.end)
            return -1;
        if (*s.p == '}')
            break;
        if (*s.p++ != ',')
            return -1;
        skip_ws(&s);
    }
    s.p++;
    skip_ws(&s);
    for (size_t i = 0; i < n_want; i++)
        if (!want[i].found)
            return -1;
    return s.p == s.end ? 0 : -1;
}

static int json_top_ref(const void *body, size_t len, char *out, size_t cap)
{
    struct member ref = {"ref", out, cap, NULL, false};
    return json_top(body, len, &ref, 1);
}

static bool is_form_type(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(form) - 1;

    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (ascii_ncasecmp(ct, form, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* Decodes '+' and %XX; like put(), stores up to cap bytes and counts all of them. */
static int url_decode(const char *in, size_t len, char *out, size_t cap, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;

        if (in[i] == '+') {
            put(out, cap, n, ' ');
        } else if (in[i] != '%') {
            put(out, cap, n, (unsigned char)in[i]);
        } else {
            if (len - i < 3)
                return -1;
            hi = hex_val((unsigned char)in[i + 1]);
            lo = hex_val((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            put(out, cap, n, (unsigned char)(hi << 4 | lo));
            i += 2;
        }
    }
    return 0;
}

/* Finds the single "payload" field; a missing, repeated or badly escaped one is an error. */
static int form_top_ref(const char *body, size_t len, char *out, size_t cap)
{
    const char *field = body, *end = body + len, *value = NULL;
    size_t value_len = 0, json_len;
    char *json = NULL;
    int rc = -1;

    while (field < end) {
        const char *amp = memchr(field, '&', (size_t)(end - field));
        const char *fend = amp ? amp : end;
        const char *eq = memchr(field, '=', (size_t)(fend - field));
        const char *name_end = eq ? eq : fend;
        char name[8];
        size_t n;

        if (url_decode(field, (size_t)(name_end - field), name, sizeof(name), &n) != 0)
            goto out;
        if (n == 7 && memcmp(name, "payload", 7) == 0) {
            if (value)
                goto out;
            value = eq ? eq + 1 : fend;
            value_len = (size_t)(fend - value);
        }
        field = amp ? amp + 1 : end;
    }
    if (!value)
        goto out;
    json = xmalloc(value_len + 1);
    if (url_decode(value, value_len, json, value_len, &json_len) != 0)
        goto out;
    rc = json_top_ref(json, json_len, out, cap);
out:
    free(json);
    return rc;
}

int webhook_push_ref(const char *content_type, const void *body, size_t len, char *out, size_t cap)
{
    int rc;

    if (!out || cap == 0)
        return -1;
    if (!body) {
        body = "";
        len = 0;
    }
    if (is_form_type(content_type))
        rc = form_top_ref(body, len, out, cap);
    else
        rc = json_top_ref(body, len, out, cap);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

bool webhook_ref_is_branch(const char *ref, const char *branch)
{
    static const char heads[] = "refs/heads/";
    size_t n = sizeof(heads) - 1;

    if (!ref || !branch || !*branch)
        return false;
    return strncmp(ref, heads, n) == 0 && strcmp(ref + n, branch) == 0;
}

bool webhook_is_ping(const char *github_event, const char *gitea_event, const char *gitlab_event)
{
    return (github_event && ascii_casecmp(github_event, "ping") == 0) ||
           (gitea_event && ascii_casecmp(gitea_event, "ping") == 0);
}

bool webhook_is_push(const char *github_event, const char *gitea_event, const char *gitlab_event)
{
    if (github_event && ascii_casecmp(github_event, "push") != 0)
        return false;
    if (gitea_event && ascii_casecmp(gitea_event, "push") != 0)
        return false;
    return !gitlab_event || ascii_casecmp(gitlab_event, "Push Hook") == 0;
}

/* ---- peer notifications (git_peers) ---- */

void webhook_peer_body(const char *ref, const char *from, int64_t now_s, struct buf *out)
{
    buf_puts(out, "{\"event\":\"peer\",\"ref\":\"");
    buf_append_json(out, ref, strlen(ref));
    buf_puts(out, "\",\"from\":\"");
    buf_append_json(out, from, strlen(from));
    buf_printf(out, "\",\"sent\":%lld}", (long long)now_s);
}

enum webhook_peer_verdict webhook_peer_check(const void *body, size_t len, int64_t now_s, char *ref,
                                             size_t cap)
{
    char event[8];
    int64_t sent = -1;
    struct member want[] = {
        {"event", event, sizeof event, NULL, false},
        {"ref", ref, cap, NULL, false},
        {"sent", NULL, 0, &sent, false},
    };

    if (!ref || cap == 0)
        return WEBHOOK_PEER_MALFORMED;
    ref[0] = '\0';
    if (!body || json_top(body, len, want, sizeof want / sizeof want[0]) != 0 ||
        strcmp(event, "peer") != 0) {
        ref[0] = '\0';
        return WEBHOOK_PEER_MALFORMED;
    }
    if (sent < now_s - WEBHOOK_PEER_MAX_AGE_S)
        return WEBHOOK_PEER_STALE;
    if (sent > now_s + WEBHOOK_PEER_MAX_AHEAD_S)
        return WEBHOOK_PEER_AHEAD;
    return WEBHOOK_PEER_OK;
}

const char *webhook_peer_verdict_text(enum webhook_peer_verdict v)
{
    switch (v) {
    case WEBHOOK_PEER_OK:
        return "ok";
    case WEBHOOK_PEER_MALFORMED:
        return "not a peer notification";
    case WEBHOOK_PEER_STALE:
        return "stale peer notification";
    case WEBHOOK_PEER_AHEAD:
        return "peer notification dated in the future";
    }
    return "unknown verdict";
}
