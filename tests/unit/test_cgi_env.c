#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cgi_env.h"
#include "tap.h"
#include "util.h"

/* Collects "NAME=VALUE\n" lines; fails on call number fail_at (1-based; 0 = never). */
struct sink {
    struct buf out;
    int calls, fail_at;
    int bad_len; /* a NUL inside name or value */
};

static int collect(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct sink *s = ctx;

    if (++s->calls == s->fail_at)
        return -1;
    if (memchr(name, 0, nlen) || memchr(value, 0, vlen))
        s->bad_len++;
    buf_append(&s->out, name, nlen);
    buf_putc(&s->out, '=');
    buf_append(&s->out, value, vlen);
    buf_putc(&s->out, '\n');
    return 0;
}

/* Run cgi_env_build; returns the lines (static storage, valid until the next call). */
static const char *build(const struct cgi_request *r, int *rc)
{
    static char *last;
    struct sink s = {.fail_at = 0};

    buf_init(&s.out, 0);
    *rc = cgi_env_build(r, collect, &s);
    free(last);
    last = buf_steal(&s.out, NULL);
    return last;
}

static void base_request(struct cgi_request *r)
{
    memset(r, 0, sizeof *r);
    r->server_software = "wharf/0.1";
    r->server_name = "example.org";
    r->server_addr = "192.0.2.1";
    r->server_port = 8080;
    r->server_protocol = "HTTP/1.1";
    r->remote_addr = "198.51.100.7";
    r->remote_port = 54321;
    r->document_root = "/srv/www";
    r->redirect_status = 200;
}

static void test_get(void)
{
    struct cgi_request r;
    static const struct cgi_header h[] = {
        {"Host", "example.org:8080"},    {"User-Agent", "curl/7.88.1"},
        {"Accept", "text/html"},         {"Cookie", "a=1"},
        {"Accept", "application/json"},  {"Cookie", "b=2"},
        {"Accept-Encoding", "gzip, br"},
    };
    int rc;

    base_request(&r);
    r.method = "GET";
    r.request_uri = "/blog/index.php/a/b?x=1&y=%20z";
    r.query = "x=1&y=%20z";
    r.script_name = "/blog/index.php";
    r.path_info = "/a/b";
    r.document_uri = "/blog/index.php/a/b";
    r.headers = h;
    r.n_headers = ARRAY_LEN(h);
    is_str(build(&r, &rc),
           "GATEWAY_INTERFACE=CGI/1.1\n"
           "SERVER_SOFTWARE=wharf/0.1\n"
           "SERVER_NAME=example.org\n"
           "SERVER_ADDR=192.0.2.1\n"
           "SERVER_PORT=8080\n"
           "SERVER_PROTOCOL=HTTP/1.1\n"
           "REQUEST_SCHEME=http\n"
           "REQUEST_METHOD=GET\n"
           "REQUEST_URI=/blog/index.php/a/b?x=1&y=%20z\n"
           "QUERY_STRING=x=1&y=%20z\n"
           "DOCUMENT_URI=/blog/index.php/a/b\n"
           "DOCUMENT_ROOT=/srv/www\n"
           "SCRIPT_NAME=/blog/index.php\n"
           "SCRIPT_FILENAME=/srv/www/blog/index.php\n"
           "PATH_INFO=/a/b\n"
           "PATH_TRANSLATED=/srv/www/a/b\n"
           "REMOTE_ADDR=198.51.100.7\n"
           "REMOTE_PORT=54321\n"
           "REDIRECT_STATUS=200\n"
           "HTTP_HOST=example.org:8080\n"
           "HTTP_USER_AGENT=curl/7.88.1\n"
           "HTTP_ACCEPT=text/html, application/json\n"
           "HTTP_COOKIE=a=1; b=2\n"
           "HTTP_ACCEPT_ENCODING=gzip, br\n",
           "GET: every param, in order");
    is_int(rc, 0, "GET: returns 0");
}

static void test_post(void)
{
    struct cgi_request r;
    static const struct cgi_header h[] = {
        {"Host", "example.org"},
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Content-Length", "11"},
        {"Origin", "https://example.org"},
    };
    static char *preset_env[] = {"APP_ENV=dev", "PATH_INFO=/evil", "PHP_VALUE=a=1", "X=1"};
    static char *site_env[] = {"HTTP_HOST=evil", "APP_ENV=prod", "EMPTY=", "=noname",
                               "NOEQUALS",       "X=2",          "X=3"};
    int rc;

    base_request(&r);
    r.method = "POST";
    r.request_uri = "/form.php";
    r.query = NULL;
    r.script_name = "/form.php";
    r.script_filename = "/chroot/form.php";
    r.path_info = NULL;
    r.document_uri = "/form.php";
    r.content_type = "application/x-www-form-urlencoded";
    r.content_length = 11;
    r.has_body = true;
    r.https = true;
    r.server_port = 443;
    r.headers = h;
    r.n_headers = ARRAY_LEN(h);
    r.env[0] = (struct cgi_env_list){preset_env, ARRAY_LEN(preset_env)};
    r.env[1] = (struct cgi_env_list){site_env, ARRAY_LEN(site_env)};
    is_str(build(&r, &rc),
           "GATEWAY_INTERFACE=CGI/1.1\n"
           "SERVER_SOFTWARE=wharf/0.1\n"
           "SERVER_NAME=example.org\n"
           "SERVER_ADDR=192.0.2.1\n"
           "SERVER_PORT=443\n"
           "SERVER_PROTOCOL=HTTP/1.1\n"
           "REQUEST_SCHEME=https\n"
           "REQUEST_METHOD=POST\n"
           "REQUEST_URI=/form.php\n"
           "QUERY_STRING=\n"
           "DOCUMENT_URI=/form.php\n"
           "DOCUMENT_ROOT=/srv/www\n"
           "SCRIPT_NAME=/form.php\n"
           "SCRIPT_FILENAME=/chroot/form.php\n"
           "REMOTE_ADDR=198.51.100.7\n"
           "REMOTE_PORT=54321\n"
           "CONTENT_TYPE=application/x-www-form-urlencoded\n"
           "CONTENT_LENGTH=11\n"
           "HTTPS=on\n"
           "REDIRECT_STATUS=200\n"
           "HTTP_HOST=example.org\n"
           "HTTP_ORIGIN=https://example.org\n"
           "PHP_VALUE=a=1\n"
           "APP_ENV=prod\n"
           "EMPTY=\n"
           "X=3\n",
           "POST: every param, in order; env after headers, later NAME wins, reserved skipped");
    is_int(rc, 0, "POST: returns 0");
}

static void test_body_edges(void)
{
    struct cgi_request r;
    const char *out;
    int rc;

    base_request(&r);
    r.method = "PUT";
    r.script_name = "/x.php";
    r.has_body = true;
    r.content_length = 0;
    r.redirect_status = 0;
    r.remote_port = 0;
    out = build(&r, &rc);
    ok(strstr(out, "\nCONTENT_LENGTH=0\n") != NULL, "empty body still sends CONTENT_LENGTH=0");
    ok(strstr(out, "CONTENT_TYPE") == NULL, "no content_type, no CONTENT_TYPE");
    ok(strstr(out, "REDIRECT_STATUS") == NULL, "redirect_status 0 omits REDIRECT_STATUS");
    ok(strstr(out, "HTTPS") == NULL, "https false omits HTTPS");
    ok(strstr(out, "\nREMOTE_PORT=0\n") != NULL, "port 0 is printed");

    r.content_length = UINT64_MAX;
    r.content_type = "text/plain";
    out = build(&r, &rc);
    ok(strstr(out, "\nCONTENT_TYPE=text/plain\nCONTENT_LENGTH=18446744073709551615\n") != NULL,
       "CONTENT_LENGTH of 2^64-1");

    r.has_body = false;
    out = build(&r, &rc);
    ok(strstr(out, "CONTENT_LENGTH") == NULL, "no body, no CONTENT_LENGTH");
    ok(strstr(out, "\nCONTENT_TYPE=text/plain\n") != NULL, "CONTENT_TYPE without a body");

    r.content_type = "text/plain\r\nX: y";
    out = build(&r, &rc);
    ok(strstr(out, "CONTENT_TYPE") == NULL, "CONTENT_TYPE with CR/LF is dropped");

    r.content_type = "";
    out = build(&r, &rc);
    ok(strstr(out, "\nCONTENT_TYPE=\n") != NULL, "empty CONTENT_TYPE is sent as given");
}

static void test_path_info(void)
{
    struct cgi_request r;
    const char *out;
    int rc;

    base_request(&r);
    r.script_name = "/index.php";
    r.path_info = "";
    out = build(&r, &rc);
    ok(strstr(out, "PATH_INFO") == NULL && strstr(out, "PATH_TRANSLATED") == NULL,
       "empty path_info: no PATH_INFO, no PATH_TRANSLATED");
    r.path_info = NULL;
    out = build(&r, &rc);
    ok(strstr(out, "PATH_INFO") == NULL && strstr(out, "PATH_TRANSLATED") == NULL,
       "NULL path_info: no PATH_INFO, no PATH_TRANSLATED");

    r.document_root = "/srv/www/";
    r.path_info = "/";
    out = build(&r, &rc);
    ok(strstr(out, "\nSCRIPT_FILENAME=/srv/www/index.php\nPATH_INFO=/\n"
                   "PATH_TRANSLATED=/srv/www/\n") != NULL,
       "root with a trailing slash: one '/' at the seam");

    r.document_root = "/";
    out = build(&r, &rc);
    ok(strstr(out, "\nSCRIPT_FILENAME=/index.php\nPATH_INFO=/\nPATH_TRANSLATED=/\n") != NULL,
       "root '/'");

    r.document_root = NULL;
    r.script_name = NULL;
    r.path_info = NULL;
    out = build(&r, &rc);
    ok(strstr(out, "\nDOCUMENT_ROOT=\nSCRIPT_NAME=\nSCRIPT_FILENAME=\n") != NULL,
       "NULL strings are empty values");
}

static void test_httpoxy_and_bad_names(void)
{
    struct cgi_request r;
    static const struct cgi_header h[] = {
        {"Proxy", "http://evil:8080"},
        {"proxy", "http://evil:8081"},
        {"PROXY", "http://evil:8082"},
        {"Proxy-Connection", "keep-alive"},
        {"X_Forwarded_For", "1.2.3.4"},
        {"X.Forwarded.For", "1.2.3.4"},
        {"X-Forwarded-For", "5.6.7.8"},
        {"X Foo", "sp"},
        {"X:Foo", "colon"},
        {"X[Foo", "bracket"},
        {"", "empty"},
        {"\xc3\x84rger", "utf8"},
        {"X\tTab", "tab"},
        {"X!#$%&'*+^`|~9", "all tchars"},
        {NULL, "null name"},
        {"X-Null-Value", NULL},
        {"content-type", "text/evil"},
        {"CONTENT-LENGTH", "99"},
        {"X-Inject", "a\r\nX-B: c"},
        {"X-Lf", "a\nb"},
        {"X-Cr", "a\rb"},
        {"X-Ok", ""},
    };
    const char *out;
    int rc;

    base_request(&r);
    r.redirect_status = 0;
    r.headers = h;
    r.n_headers = ARRAY_LEN(h);
    out = build(&r, &rc);
    out = strstr(out, "REMOTE_PORT=54321\n");
    is_str(out ? out + strlen("REMOTE_PORT=54321\n") : NULL,
           "HTTP_PROXY_CONNECTION=keep-alive\n"
           "HTTP_X_FORWARDED_FOR=5.6.7.8\n"
           "HTTP_X!#$%&'*+^`|~9=all tchars\n"
           "HTTP_X_OK=\n",
           "httpoxy, '_', '.', non-token, Content-*, CR/LF values dropped");
}

static void test_joining_and_case(void)
{
    struct cgi_request r;
    static const struct cgi_header h[] = {
        {"x-a", "1"},    {"hOsT", "h"},        {"X-A", "2"},      {"cookie", "a=1"},
        {"X-b", "only"}, {"x-A", "bad\r\n"},   {"COOKIE", "b=2"}, {"X-a", "3"},
        {"Cookie", ""},  {"user-agent", "ua"},
    };
    const char *out;
    int rc;

    base_request(&r);
    r.redirect_status = 0;
    r.headers = h;
    r.n_headers = ARRAY_LEN(h);
    out = build(&r, &rc);
    out = strstr(out, "REMOTE_PORT=54321\n");
    is_str(out ? out + strlen("REMOTE_PORT=54321\n") : NULL,
           "HTTP_X_A=1, 2, 3\n"
           "HTTP_HOST=h\n"
           "HTTP_COOKIE=a=1; b=2; \n"
           "HTTP_X_B=only\n"
           "HTTP_USER_AGENT=ua\n",
           "repeats joined at the first position, any case; a bad repeat is skipped");
}

/* More headers than fit on the stack, names longer than the stack name buffer. */
static void test_many_and_long(void)
{
    enum { N = 300 };
    struct cgi_header h[N];
    char names[N][16], values[N][16], longname[400], longroot[1200], want[1024];
    struct buf exp;
    struct cgi_request r;
    const char *out;
    int rc;

    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], i % 2 ? "x-h%d" : "X-H%d", i % 100);
        snprintf(values[i], sizeof values[i], "v%d", i);
        h[i] = (struct cgi_header){names[i], values[i]};
    }
    base_request(&r);
    r.redirect_status = 0;
    r.headers = h;
    r.n_headers = N;
    buf_init(&exp, 0);
    for (int k = 0; k < 100; k++)
        buf_printf(&exp, "HTTP_X_H%d=v%d, v%d, v%d\n", k, k, k + 100, k + 200);
    out = build(&r, &rc);
    out = strstr(out, "REMOTE_PORT=54321\n");
    is_str(out ? out + strlen("REMOTE_PORT=54321\n") : NULL, exp.data,
           "300 headers, 100 names x 3: joined, in first-appearance order");
    buf_dispose(&exp);

    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    longname[1] = '-';
    h[0] = (struct cgi_header){longname, "long"};
    r.n_headers = 1;
    memset(want, 0, sizeof want);
    memcpy(want, "HTTP_A_", 7);
    memset(want + 7, 'A', sizeof longname - 3);
    strcat(want, "=long\n");
    out = build(&r, &rc);
    out = strstr(out, "REMOTE_PORT=54321\n");
    is_str(out ? out + strlen("REMOTE_PORT=54321\n") : NULL, want, "399-byte header name");

    memset(longroot, 'r', sizeof longroot - 1);
    longroot[0] = '/';
    longroot[sizeof longroot - 1] = '\0';
    r.document_root = longroot;
    r.script_name = "/s.php";
    r.path_info = "/p";
    r.n_headers = 0;
    out = build(&r, &rc);
    snprintf(want, sizeof want, "SCRIPT_FILENAME=%.900s", longroot);
    ok(strstr(out, want) != NULL && strstr(out, "r/s.php\nPATH_INFO=/p\n") != NULL &&
           strstr(out, "r/p\nREMOTE_ADDR") != NULL,
       "1199-byte document root joins on the heap");
}

static void test_cb_failure(void)
{
    struct cgi_request r;
    static const struct cgi_header h[] = {
        {"A", "1"},
        {"B", "1"},
        {"a", "2"},
        {"C", "x"},
    };
    static char *env[] = {"E1=1", "E2=2"};
    struct sink s;
    int total, rc, all_ok = 1;

    base_request(&r);
    r.script_name = "/index.php";
    r.path_info = "/p";
    r.headers = h;
    r.n_headers = ARRAY_LEN(h);
    r.env[1] = (struct cgi_env_list){env, ARRAY_LEN(env)};
    memset(&s, 0, sizeof s);
    buf_init(&s.out, 0);
    is_int(cgi_env_build(&r, collect, &s), 0, "counting run succeeds");
    total = s.calls;
    is_int(total, 19 + 3 + 2, "19 fixed params + 3 header names + 2 env");
    is_int(s.bad_len, 0, "no NUL inside any name or value");
    buf_dispose(&s.out);
    for (int k = 1; k <= total; k++) {
        memset(&s, 0, sizeof s);
        s.fail_at = k;
        buf_init(&s.out, 0);
        rc = cgi_env_build(&r, collect, &s);
        if (rc != -1 || s.calls != k)
            all_ok = 0;
        buf_dispose(&s.out);
    }
    ok(all_ok, "a failing callback at any position stops the build with -1");
}

static void test_reserved(void)
{
    static const struct {
        const char *name;
        bool want;
    } cases[] = {
        {"SCRIPT_FILENAME", true},
        {"PATH_INFO", true},
        {"HTTPS", true},
        {"REDIRECT_STATUS", true},
        {"HTTP_HOST", true},
        {"HTTP_", true},
        {"GATEWAY_INTERFACE", true},
        {"CONTENT_LENGTH", true},
        {"REQUEST_SCHEME", true},
        {"https", false},
        {"HTTP", false},
        {"PHP_VALUE", false},
        {"APP_ENV", false},
        {"SCRIPT_FILENAMEX", false},
        {"", false},
    };
    char name[64];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        snprintf(name, sizeof name, "reserved(%s) = %d", cases[i].name, cases[i].want);
        is_int(cgi_env_is_reserved(cases[i].name, strlen(cases[i].name)), cases[i].want, name);
    }
    is_int(cgi_env_is_reserved("HTTPS=on", 5), 1, "reserved() honours nlen");
}

static void test_split(void)
{
    static const struct {
        const char *path, *split;
        bool match;
        const char *script;
    } cases[] = {
        {"/index.php/a/b", ".php", true, "/index.php"},
        {"/index.php", ".php", true, "/index.php"},
        {"/index.php/", ".php", true, "/index.php"},
        {"/a.php.txt", ".php", false, "/a.php.txt"},
        {"/uploads/a.jpg/x.php", ".php", true, "/uploads/a.jpg/x.php"},
        {"/x.php/y.php/z", ".php", true, "/x.php"},
        {"/.php", ".php", true, "/.php"},
        {"/a/.php/b", ".php", true, "/a/.php"},
        {"/x.php.php/y", ".php", true, "/x.php.php"},
        {"/x.phpx/y.php", ".php", true, "/x.phpx/y.php"},
        {"/X.PHP/a", ".php", false, "/X.PHP/a"},
        {"/x.Php", ".php", false, "/x.Php"},
        {"/", ".php", false, "/"},
        {"", ".php", false, ""},
        {"/php", ".php", false, "/php"},
        {"/dir.php/sub/file.php", ".php", true, "/dir.php"},
        {"/a.php//b", ".php", true, "/a.php"},
        {"/index.php", "", false, "/index.php"},
        {"/index.php", NULL, false, "/index.php"},
        {"/cgi-bin/run.cgi/x", ".cgi", true, "/cgi-bin/run.cgi"},
        {"/a.phtml/b", ".php", false, "/a.phtml/b"},
        {"/app.php5/x", ".php5", true, "/app.php5"},
        {"/a/b.php?x", ".php", false, "/a/b.php?x"},
        {"/a.p", ".php", false, "/a.p"},
        {".php", ".php", true, ".php"},
        {"/index.php/a.php", ".php", true, "/index.php"},
    };
    char name[128];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len = 12345, plen = strlen(cases[i].path);
        bool m = cgi_split_script(cases[i].path, plen, cases[i].split, &len);

        snprintf(name, sizeof name, "split '%s' at '%s': %s", cases[i].path,
                 cases[i].split ? cases[i].split : "(null)", cases[i].script);
        ok(m == cases[i].match && len == strlen(cases[i].script) &&
               memcmp(cases[i].path, cases[i].script, len) == 0,
           name);
    }
    /* path_len is honoured: the match may not look past it */
    size_t len = 0;
    ok(!cgi_split_script("/a.ph/b.php", 4, ".php", &len) && len == 4, "split stops at path_len");
    ok(cgi_split_script("/a.php/b", 6, ".php", &len) && len == 6,
       "split: match ending exactly at path_len");
}

/* auth_basic verified a user: AUTH_TYPE and REMOTE_USER (RFC 3875 4.1.1, 4.1.11) */
static void test_remote_user(void)
{
    struct cgi_request r;
    static char *env[] = {"REMOTE_USER=admin", "AUTH_TYPE=None"};
    int rc;

    base_request(&r);
    r.method = "GET";
    r.request_uri = "/a.php";
    r.script_name = "/a.php";
    r.document_uri = "/a.php";
    ok(!strstr(build(&r, &rc), "REMOTE_USER") && !strstr(build(&r, &rc), "AUTH_TYPE"),
       "no user: neither param");
    r.remote_user = "alice";
    r.env[1] = (struct cgi_env_list){env, 2};
    const char *out = build(&r, &rc);
    ok(strstr(out, "REMOTE_PORT=54321\nAUTH_TYPE=Basic\nREMOTE_USER=alice\n") != NULL,
       "a verified user: AUTH_TYPE=Basic, REMOTE_USER, after REMOTE_PORT");
    ok(!strstr(out, "REMOTE_USER=admin") && !strstr(out, "AUTH_TYPE=None"),
       "fastcgi_env cannot set them");
    r.remote_user = "a\r\nb";
    ok(!strstr(build(&r, &rc), "REMOTE_USER"), "a user with CR/LF is not passed");
}

int main(void)
{
    test_get();
    test_remote_user();
    test_post();
    test_body_edges();
    test_path_info();
    test_httpoxy_and_bad_names();
    test_joining_and_case();
    test_many_and_long();
    test_cb_failure();
    test_reserved();
    test_split();
    return done_testing();
}
