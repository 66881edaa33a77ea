#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "buf.h"
#include "webhook.h"

/* RFC 4231 test case 2 */
#define JEFE_KEY "Jefe"
#define JEFE_DATA "what do ya want for nothing?"
#define JEFE_HEX "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
#define JEFE_HEX_UC "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"
/* RFC 4231 test case 1: key is twenty 0x0b bytes */
#define TC1_KEY "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b"
#define TC1_HEX "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
/* any 40 hex digits: the SHA-1 header is never checked */
#define SHA1_HEX "8d2d8a5e2b0dfb9eb0b1a1f6b7c1d7f0c0a0e0b1"
/* HMAC-SHA256("key", "") */
#define EMPTY_HEX "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"

static enum webhook_verdict hub(const char *sig, const char *body, const char *secret)
{
    struct webhook_headers h = {.hub_signature_256 = sig};

    return webhook_verify(&h, body, strlen(body), secret);
}

static enum webhook_verdict gitea(const char *sig, const char *body, const char *secret)
{
    struct webhook_headers h = {.gitea_signature = sig};

    return webhook_verify(&h, body, strlen(body), secret);
}

static enum webhook_verdict gitlab(const char *token, const char *secret)
{
    struct webhook_headers h = {.gitlab_token = token};

    return webhook_verify(&h, "{}", 2, secret);
}

static void test_hub_signature(void)
{
    char sig[80];

    is_int(hub("sha256=" JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_OK, "rfc4231 tc2 via hub header");
    is_int(hub("sha256=" JEFE_HEX_UC, JEFE_DATA, JEFE_KEY), WEBHOOK_OK, "uppercase hex");
    is_int(hub("sha256=5BDCc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", JEFE_DATA,
               JEFE_KEY),
           WEBHOOK_OK, "mixed-case hex");
    is_int(hub("sha256=" TC1_HEX, "Hi There", TC1_KEY), WEBHOOK_OK, "rfc4231 tc1");
    {
        struct webhook_headers h = {.hub_signature_256 = "sha256=" EMPTY_HEX};

        is_int(webhook_verify(&h, NULL, 0, "key"), WEBHOOK_OK, "empty body as NULL, 0");
        is_int(webhook_verify(&h, "", 0, "key"), WEBHOOK_OK, "empty body as \"\", 0");
        is_int(webhook_verify(&h, "x", 1, "key"), WEBHOOK_WRONG_SIGNATURE, "1-byte body");
    }
    {
        /* the body is bytes, not a string: an embedded NUL is signed like any other byte */
        struct webhook_headers h = {.hub_signature_256 = "sha256=" JEFE_HEX};

        is_int(webhook_verify(&h, JEFE_DATA "\0", sizeof(JEFE_DATA), JEFE_KEY),
               WEBHOOK_WRONG_SIGNATURE, "trailing NUL byte is part of the body");
        is_int(webhook_verify(&h, JEFE_DATA, sizeof(JEFE_DATA) - 2, JEFE_KEY),
               WEBHOOK_WRONG_SIGNATURE, "len one short");
    }

    /* flip each position in turn: every digit matters, the last one as much as the first */
    for (int pos = 0; pos < 64; pos += 21) {
        snprintf(sig, sizeof(sig), "sha256=%s", JEFE_HEX);
        sig[7 + pos] = sig[7 + pos] == '0' ? '1' : '0';
        is_int(hub(sig, JEFE_DATA, JEFE_KEY), WEBHOOK_WRONG_SIGNATURE, "one flipped hex digit");
    }
    snprintf(sig, sizeof(sig), "sha256=%s", JEFE_HEX);
    sig[7 + 63] = '2';
    is_int(hub(sig, JEFE_DATA, JEFE_KEY), WEBHOOK_WRONG_SIGNATURE, "last hex digit flipped");
    is_int(hub("sha256=" JEFE_HEX, "what do ya want for nothing!", JEFE_KEY),
           WEBHOOK_WRONG_SIGNATURE, "wrong body");
    is_int(hub("sha256=" JEFE_HEX, JEFE_DATA, "Jeff"), WEBHOOK_WRONG_SIGNATURE, "wrong secret");
    is_int(hub("sha256=" JEFE_HEX, JEFE_DATA, "Jefe "), WEBHOOK_WRONG_SIGNATURE,
           "secret with trailing space");
    is_int(hub("sha256=" JEFE_HEX, JEFE_DATA, ""), WEBHOOK_WRONG_SIGNATURE, "empty secret");
    is_int(hub("sha256=" JEFE_HEX, JEFE_DATA, NULL), WEBHOOK_WRONG_SIGNATURE, "NULL secret");
    is_int(hub("sha256=" EMPTY_HEX, "", ""), WEBHOOK_WRONG_SIGNATURE, "empty secret, empty body");

    /* malformed */
    is_int(hub("sha1=" JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "sha1= prefix");
    is_int(hub("SHA256=" JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE,
           "upper-case prefix");
    is_int(hub(JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "no prefix");
    is_int(hub("sha256:" JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "colon not =");
    is_int(hub("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384", JEFE_DATA,
               JEFE_KEY),
           WEBHOOK_BAD_SIGNATURE, "63 hex digits");
    is_int(hub("sha256=" JEFE_HEX "0", JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE,
           "65 hex digits");
    is_int(hub("sha256=" JEFE_HEX JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE,
           "128 hex digits");
    is_int(hub("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384g", JEFE_DATA,
               JEFE_KEY),
           WEBHOOK_BAD_SIGNATURE, "non-hex digit");
    is_int(hub("sha256= 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384", JEFE_DATA,
               JEFE_KEY),
           WEBHOOK_BAD_SIGNATURE, "space after =");
    is_int(hub("sha256=" JEFE_HEX " ", JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE,
           "trailing space");
    is_int(hub(" sha256=" JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "leading space");
    is_int(hub("sha256=", JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "prefix only");
    is_int(hub("", JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "empty header");
    is_int(hub("sha256=0x5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec38", JEFE_DATA,
               JEFE_KEY),
           WEBHOOK_BAD_SIGNATURE, "0x inside");
    is_int(hub("sha1=" JEFE_HEX, JEFE_DATA, ""), WEBHOOK_BAD_SIGNATURE,
           "malformed wins over empty secret");
}

static void test_absent(void)
{
    struct webhook_headers none = {0};
    struct webhook_headers sha1 = {.hub_signature = "sha1=" SHA1_HEX};

    is_int(webhook_verify(&none, JEFE_DATA, strlen(JEFE_DATA), JEFE_KEY), WEBHOOK_NO_SIGNATURE,
           "no header");
    is_int(webhook_verify(NULL, JEFE_DATA, strlen(JEFE_DATA), JEFE_KEY), WEBHOOK_NO_SIGNATURE,
           "NULL headers");
    is_int(webhook_verify(&sha1, JEFE_DATA, strlen(JEFE_DATA), JEFE_KEY), WEBHOOK_NO_SIGNATURE,
           "SHA-1 header only");
    is_int(webhook_verify(&none, JEFE_DATA, strlen(JEFE_DATA), ""), WEBHOOK_NO_SIGNATURE,
           "no header, empty secret");
}

static void test_gitea(void)
{
    is_int(gitea(JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_OK, "gitea bare hex");
    is_int(gitea(JEFE_HEX_UC, JEFE_DATA, JEFE_KEY), WEBHOOK_OK, "gitea uppercase hex");
    is_int(gitea(TC1_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_WRONG_SIGNATURE, "gitea wrong digest");
    is_int(gitea(JEFE_HEX, JEFE_DATA, "other"), WEBHOOK_WRONG_SIGNATURE, "gitea wrong secret");
    is_int(gitea(JEFE_HEX, JEFE_DATA, ""), WEBHOOK_WRONG_SIGNATURE, "gitea empty secret");
    is_int(gitea("sha256=" JEFE_HEX, JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE,
           "gitea with sha256= prefix");
    is_int(gitea(JEFE_HEX "a", JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "gitea 65 digits");
    is_int(gitea("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384", JEFE_DATA,
                 JEFE_KEY),
           WEBHOOK_BAD_SIGNATURE, "gitea 63 digits");
    is_int(gitea("zbdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", JEFE_DATA,
                 JEFE_KEY),
           WEBHOOK_BAD_SIGNATURE, "gitea non-hex");
    is_int(gitea("", JEFE_DATA, JEFE_KEY), WEBHOOK_BAD_SIGNATURE, "gitea empty");
}

static void test_gitlab(void)
{
    is_int(gitlab("s3cret-token", "s3cret-token"), WEBHOOK_OK, "gitlab token equal");
    is_int(gitlab("s3cret-tokeN", "s3cret-token"), WEBHOOK_WRONG_SIGNATURE,
           "gitlab token differs in last byte");
    is_int(gitlab("s3cret", "s3cret-token"), WEBHOOK_WRONG_SIGNATURE, "gitlab token a prefix");
    is_int(gitlab("s3cret-token-and-more", "s3cret-token"), WEBHOOK_WRONG_SIGNATURE,
           "gitlab token longer");
    is_int(gitlab("", "s3cret-token"), WEBHOOK_WRONG_SIGNATURE, "gitlab empty token");
    is_int(gitlab("", ""), WEBHOOK_WRONG_SIGNATURE, "gitlab empty token, empty secret");
    is_int(gitlab("x", ""), WEBHOOK_WRONG_SIGNATURE, "gitlab empty secret");
    is_int(gitlab("x", NULL), WEBHOOK_WRONG_SIGNATURE, "gitlab NULL secret");
    {
        /* the token is judged, not the body: any body passes with the right token */
        struct webhook_headers h = {.gitlab_token = "tok"};

        is_int(webhook_verify(&h, NULL, 0, "tok"), WEBHOOK_OK, "gitlab token, empty body");
    }
}

static void test_precedence(void)
{
    struct webhook_headers h;
    size_t n = strlen(JEFE_DATA);

    h = (struct webhook_headers){.hub_signature_256 = "sha256=" JEFE_HEX,
                                 .gitea_signature = TC1_HEX};
    is_int(webhook_verify(&h, JEFE_DATA, n, JEFE_KEY), WEBHOOK_OK, "valid 256 beats wrong gitea");
    h = (struct webhook_headers){.hub_signature_256 = "sha256=" TC1_HEX,
                                 .gitea_signature = JEFE_HEX};
    is_int(webhook_verify(&h, JEFE_DATA, n, JEFE_KEY), WEBHOOK_WRONG_SIGNATURE,
           "wrong 256 not rescued by valid gitea");
    h = (struct webhook_headers){.hub_signature_256 = "sha1=" JEFE_HEX,
                                 .gitea_signature = JEFE_HEX};
    is_int(webhook_verify(&h, JEFE_DATA, n, JEFE_KEY), WEBHOOK_BAD_SIGNATURE,
           "malformed 256 not rescued by valid gitea");
    h = (struct webhook_headers){.gitea_signature = TC1_HEX, .gitlab_token = JEFE_KEY};
    is_int(webhook_verify(&h, JEFE_DATA, n, JEFE_KEY), WEBHOOK_WRONG_SIGNATURE,
           "wrong gitea not rescued by valid gitlab token");
    h = (struct webhook_headers){.hub_signature_256 = "sha256=" TC1_HEX, .gitlab_token = JEFE_KEY};
    is_int(webhook_verify(&h, JEFE_DATA, n, JEFE_KEY), WEBHOOK_WRONG_SIGNATURE,
           "wrong 256 not rescued by valid gitlab token");
    h = (struct webhook_headers){.gitlab_token = JEFE_KEY, .hub_signature = "sha1=" SHA1_HEX};
    is_int(webhook_verify(&h, JEFE_DATA, n, JEFE_KEY), WEBHOOK_OK, "gitlab token beside sha1");
    h = (struct webhook_headers){.hub_signature_256 = "sha256=" JEFE_HEX,
                                 .hub_signature = "garbage"};
    is_int(webhook_verify(&h, JEFE_DATA, n, JEFE_KEY), WEBHOOK_OK, "sha1 header ignored");
}

static void test_verdict_text(void)
{
    is_str(webhook_verdict_text(WEBHOOK_OK), "ok", "text ok");
    is_str(webhook_verdict_text(WEBHOOK_NO_SIGNATURE), "no signature", "text none");
    is_str(webhook_verdict_text(WEBHOOK_BAD_SIGNATURE), "malformed signature", "text bad");
    is_str(webhook_verdict_text(WEBHOOK_WRONG_SIGNATURE), "wrong signature", "text wrong");
    is_str(webhook_verdict_text((enum webhook_verdict)42), "unknown verdict", "text unknown");
}

/* ---- ref extraction ---- */

static const char github_push[] =
    "{\n"
    "  \"before\": \"6113728f27ae82c7b1a177c8d03f9e96e0adf246\",\n"
    "  \"after\": \"0000000000000000000000000000000000000000\",\n"
    "  \"repository\": {\n"
    "    \"id\": 186853002,\n"
    "    \"name\": \"site\",\n"
    "    \"full_name\": \"octo/site\",\n"
    "    \"private\": false,\n"
    "    \"owner\": { \"login\": \"octo\", \"id\": 21031067, \"site_admin\": false },\n"
    "    \"description\": null,\n"
    "    \"ref\": \"refs/heads/nested-decoy\",\n"
    "    \"size\": 0, \"stargazers_count\": 0, \"score\": -1.5e+3,\n"
    "    \"topics\": [],\n"
    "    \"default_branch\": \"main\"\n"
    "  },\n"
    "  \"pusher\": { \"name\": \"octo\", \"email\": \"o@example.com\" },\n"
    "  \"commits\": [\n"
    "    { \"id\": \"0d1a26e6\", \"message\": \"say \\\"ref\\\": \\\"no\\\"\\n\",\n"
    "      \"ref\": \"refs/heads/in-array\", \"added\": [\"a.txt\"], \"removed\": [],\n"
    "      \"distinct\": true, \"ratio\": 0.25 }\n"
    "  ],\n"
    "  \"head_commit\": null,\n"
    "  \"created\": false, \"deleted\": true, \"forced\": false,\n"
    "  \"base_ref\": null,\n"
    "  \"compare\": \"https://github.com/octo/site/compare/6113728f27ae...000000000000\",\n"
    "  \"ref\": \"refs/heads/main\"\n"
    "}\n";

static const char gitea_push[] =
    "{\"ref\":\"refs/heads/develop\",\"before\":\"28e1879d029cb852e4844d9c718537df08844e03\","
    "\"after\":\"bffeb74224043ba2feb48d137756c8a9331c449a\","
    "\"compare_url\":\"http://localhost:3000/gitea/webhooks/compare/28e1879...bffeb74\","
    "\"commits\":[{\"id\":\"bffeb74224043ba2feb48d137756c8a9331c449a\","
    "\"message\":\"Webhooks Yay!\",\"url\":\"http://localhost:3000/gitea/webhooks/commit/bffeb74\","
    "\"author\":{\"name\":\"Gitea\",\"email\":\"someone@gitea.io\",\"username\":\"gitea\"},"
    "\"timestamp\":\"2017-03-13T13:52:11-04:00\"}],"
    "\"repository\":{\"id\":140,\"owner\":{\"id\":1,\"login\":\"gitea\",\"full_name\":\"Gitea\"},"
    "\"name\":\"webhooks\",\"fork\":false,\"stars_count\":0,\"default_branch\":\"master\"},"
    "\"pusher\":{\"id\":1,\"login\":\"gitea\"},\"sender\":{\"id\":1,\"login\":\"gitea\"}}";

static const char gitlab_push[] =
    "{\r\n"
    "\t\"object_kind\": \"push\",\r\n"
    "\t\"event_name\": \"push\",\r\n"
    "\t\"before\": \"95790bf891e76fee5e1747ab589903a6a1f80f22\",\r\n"
    "\t\"after\": \"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\",\r\n"
    "\t\"ref_protected\": true,\r\n"
    "\t\"refs\": \"decoy\",\r\n"
    "\t\"re\": \"decoy\",\r\n"
    "\t\"ref\": \"refs/heads/master\",\r\n"
    "\t\"checkout_sha\": \"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\",\r\n"
    "\t\"user_id\": 4,\r\n"
    "\t\"project\": {\"id\": 15, \"name\": \"Diaspora\", \"avatar_url\": null,\r\n"
    "\t\t\"default_branch\": \"master\", \"visibility_level\": 0},\r\n"
    "\t\"commits\": [{\"id\": \"b6568db1\",\r\n"
    "\t\t\"message\": \"Update Catalan translation to e38cb41.\\n\\n"
    "See https://gitlab.com/gitlab-org/gitlab for more information\",\r\n"
    "\t\t\"author\": {\"name\": \"Jordi Mallach\"}, \"added\": [\"CHANGELOG\"]}],\r\n"
    "\t\"total_commits_count\": 4,\r\n"
    "\t\"repository\": {\"name\": \"Diaspora\", \"visibility_level\": 0}\r\n"
    "}";

static int ref_json(const char *json, char *out, size_t cap)
{
    return webhook_push_ref("application/json", json, strlen(json), out, cap);
}

#define REF_OK(json, want, name)                                                                   \
    do {                                                                                           \
        char out_[256] = "junk";                                                                   \
        is_int(ref_json(json, out_, sizeof(out_)), 0, name);                                       \
        is_str(out_, want, name " (value)");                                                       \
    } while (0)

#define REF_FAIL(json, name)                                                                       \
    do {                                                                                           \
        char out_[256] = "junk";                                                                   \
        is_int(ref_json(json, out_, sizeof(out_)), -1, name);                                      \
        is_str(out_, "", name " (out emptied)");                                                   \
    } while (0)

static void test_ref_payloads(void)
{
    char out[256];
    size_t n = strlen(github_push);
    int bad = 0;

    REF_OK(github_push, "refs/heads/main", "github push: top-level ref after nested ones");
    REF_OK(gitea_push, "refs/heads/develop", "gitea push");
    REF_OK(gitlab_push, "refs/heads/master", "gitlab push (CRLF, tabs, ref_* keys)");
    is_int(webhook_push_ref(NULL, github_push, n, out, sizeof(out)), 0, "NULL content type = JSON");
    is_str(out, "refs/heads/main", "NULL content type value");
    is_int(webhook_push_ref("text/plain", gitea_push, strlen(gitea_push), out, sizeof(out)), 0,
           "other content type = JSON");
    is_str(out, "refs/heads/develop", "other content type value");

    /* every prefix short of the closing brace is truncated, hence malformed (the last byte is
     * a newline, so dropping only it still leaves a complete document) */
    for (size_t i = 0; i < n - 1; i++) {
        strcpy(out, "junk");
        if (webhook_push_ref("application/json", github_push, i, out, sizeof(out)) != -1 ||
            out[0] != '\0')
            bad++;
    }
    is_int(bad, 0, "every truncation of the github payload fails");
    bad = 0;
    for (size_t i = 0; i < strlen(gitea_push); i++)
        if (webhook_push_ref(NULL, gitea_push, i, out, sizeof(out)) != -1)
            bad++;
    is_int(bad, 0, "every truncation of the gitea payload fails (ref comes first)");
}

static void test_ref_strings(void)
{
    REF_OK("{\"ref\":\"refs\\/heads\\/a\\\\b\"}", "refs/heads/a\\b", "escaped slash, backslash");
    REF_OK("{\"ref\":\"refs/heads/caf\\u00e9\"}", "refs/heads/caf\xc3\xa9", "\\u00e9 to UTF-8");
    REF_OK("{\"ref\":\"refs/heads/\\u20ac\"}", "refs/heads/\xe2\x82\xac", "3-byte \\u");
    REF_OK("{\"ref\":\"refs/heads/\\ud83d\\ude80\"}", "refs/heads/\xf0\x9f\x9a\x80",
           "surrogate pair");
    REF_OK("{\"ref\":\"refs/heads/caf\xc3\xa9\"}", "refs/heads/caf\xc3\xa9", "raw UTF-8");
    REF_OK("{\"ref\":\"\\\"q\\\"\\b\\f\\n\\r\\t\"}", "\"q\"\b\f\n\r\t", "all short escapes");
    REF_OK("{\"r\\u0065f\":\"refs/heads/k\"}", "refs/heads/k", "escaped key");
    REF_OK("{\"a\":\"x\\\"ref\\\":\\\"bad\",\"ref\":\"refs/heads/ok\"}", "refs/heads/ok",
           "ref inside an escaped string");
    REF_OK("{\"a\":\"\\\\\",\"ref\":\"refs/heads/ok\"}", "refs/heads/ok", "string ending in \\\\");
    REF_OK("{\"ref\":\"\"}", "", "empty ref string");

    REF_FAIL("{\"ref\":\"refs/heads/\\ud83d\"}", "lone high surrogate");
    REF_FAIL("{\"ref\":\"refs/heads/\\ud83dx\"}", "high surrogate then text");
    REF_FAIL("{\"ref\":\"refs/heads/\\ude80\"}", "lone low surrogate");
    REF_FAIL("{\"ref\":\"refs/heads/\\ud83d\\u0041\"}", "high surrogate then non-low");
    REF_FAIL("{\"ref\":\"a\\u0000b\"}", "\\u0000 in ref");
    REF_FAIL("{\"ref\":\"a\\u00g0\"}", "bad \\u hex");
    REF_FAIL("{\"ref\":\"a\\u00\"}", "short \\u");
    REF_FAIL("{\"ref\":\"a\\x41\"}", "unknown escape");
    REF_FAIL("{\"ref\":\"a\\'\"}", "\\' escape");
    REF_FAIL("{\"ref\":\"a\nb\"}", "raw newline in string");
    REF_FAIL("{\"ref\":\"a\tb\"}", "raw tab in string");
    REF_FAIL("{\"x\":\"a\x01\",\"ref\":\"r\"}", "raw control byte in skipped string");
    REF_FAIL("{\"x\":\"a\\q\",\"ref\":\"r\"}", "bad escape in skipped string");
    REF_FAIL("{\"ref\":\"abc\\\"}", "escaped closing quote");

    {
        /* an embedded raw NUL is a control byte: malformed, not silently truncating */
        static const char nul[] = "{\"ref\":\"a\0b\"}";
        char out[16];

        is_int(webhook_push_ref(NULL, nul, sizeof(nul) - 1, out, sizeof(out)), -1, "raw NUL");
    }
}

static void test_ref_whitespace_and_values(void)
{
    REF_OK(" \n\t{ \"ref\" :\r\n \"refs/heads/main\" } \n", "refs/heads/main", "whitespace");
    REF_OK("{\"a\":-1.5e+3,\"b\":0,\"c\":-0.0E-2,\"d\":12e5,\"ref\":\"r\"}", "r", "numbers");
    REF_OK("{\"a\":true,\"b\":false,\"c\":null,\"d\":[],\"e\":{},\"f\":[[],{}],\"ref\":\"r\"}", "r",
           "literals and empty containers");
    REF_OK("{\"a\":[1,\"x\",{\"ref\":\"no\"},[{\"ref\":[\"no\"]}]],\"ref\":\"r\",\"z\":{}}", "r",
           "nested refs ignored, keys after ref");

    REF_FAIL("", "empty body");
    REF_FAIL("   ", "whitespace only");
    REF_FAIL("{}", "empty object");
    REF_FAIL("{\"before\":\"x\"}", "missing ref");
    REF_FAIL("{\"a\":{\"ref\":\"refs/heads/main\"}}", "only a nested ref");
    REF_FAIL("[{\"ref\":\"refs/heads/main\"}]", "top level is an array");
    REF_FAIL("\"ref\"", "top level is a string");
    REF_FAIL("{\"ref\":null}", "ref is null");
    REF_FAIL("{\"ref\":[\"refs/heads/main\"]}", "ref is an array");
    REF_FAIL("{\"ref\":1}", "ref is a number");
    REF_FAIL("{\"ref\":\"a\",\"ref\":\"b\"}", "duplicate top-level ref");
    REF_FAIL("{\"ref\":\"a\",}", "trailing comma in object");
    REF_FAIL("{\"a\":[1,],\"ref\":\"r\"}", "trailing comma in array");
    REF_FAIL("{\"ref\":\"a\"} x", "trailing garbage");
    REF_FAIL("{\"ref\":\"a\"}{}", "two documents");
    REF_FAIL("{\"ref\" \"a\"}", "missing colon");
    REF_FAIL("{ref:\"a\"}", "unquoted key");
    REF_FAIL("{'ref':'a'}", "single quotes");
    REF_FAIL("{\"ref\":\"a\" \"b\":1}", "missing comma");
    REF_FAIL("{\"a\":01,\"ref\":\"r\"}", "leading zero");
    REF_FAIL("{\"a\":1.,\"ref\":\"r\"}", "bare decimal point");
    REF_FAIL("{\"a\":.5,\"ref\":\"r\"}", "no integer part");
    REF_FAIL("{\"a\":1e,\"ref\":\"r\"}", "empty exponent");
    REF_FAIL("{\"a\":-,\"ref\":\"r\"}", "lone minus");
    REF_FAIL("{\"a\":+1,\"ref\":\"r\"}", "plus sign");
    REF_FAIL("{\"a\":tru,\"ref\":\"r\"}", "bad literal");
    REF_FAIL("{\"a\":True,\"ref\":\"r\"}", "capitalised literal");
    REF_FAIL("{\"a\":[1 2],\"ref\":\"r\"}", "array missing comma");
    REF_FAIL("{\"a\":[1},\"ref\":\"r\"}", "mismatched brackets");
    REF_FAIL("{\"a\":{\"b\"},\"ref\":\"r\"}", "member without value");
    REF_FAIL("{\"a\":{1:2},\"ref\":\"r\"}", "non-string key in nested object");
}

static void test_ref_depth(void)
{
    char json[512], out[16];
    int n;

    /* the top-level object is level 1; 63 more levels are allowed, 64 are not */
    n = snprintf(json, sizeof(json), "{\"a\":%.*s1%.*s,\"ref\":\"r\"}", 63,
                 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 63,
                 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    is_int(webhook_push_ref(NULL, json, (size_t)n, out, sizeof(out)), 0, "64 levels deep");
    n = snprintf(json, sizeof(json), "{\"a\":%.*s1%.*s,\"ref\":\"r\"}", 64,
                 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 64,
                 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    is_int(webhook_push_ref(NULL, json, (size_t)n, out, sizeof(out)), -1, "65 levels deep");

    {
        /* a hostile body of nothing but openers must fail fast, not overflow the stack */
        size_t big = 100000;
        char *deep = malloc(big + 8);

        memcpy(deep, "{\"a\":", 5);
        memset(deep + 5, '[', big);
        is_int(webhook_push_ref(NULL, deep, big + 5, out, sizeof(out)), -1, "100000 openers");
        free(deep);
    }
}

static void test_ref_capacity(void)
{
    static const char j[] = "{\"ref\":\"refs/heads/main\"}"; /* ref is 15 bytes */
    char out[32];

    strcpy(out, "junk");
    is_int(webhook_push_ref(NULL, j, sizeof(j) - 1, out, 16), 0, "fits exactly with NUL");
    is_str(out, "refs/heads/main", "fits exactly value");
    strcpy(out, "junk");
    is_int(webhook_push_ref(NULL, j, sizeof(j) - 1, out, 15), -1, "one byte short");
    is_str(out, "", "one byte short empties out");
    is_int(webhook_push_ref(NULL, j, sizeof(j) - 1, out, 1), -1, "cap 1");
    is_str(out, "", "cap 1 empties out");
    is_int(webhook_push_ref(NULL, j, sizeof(j) - 1, out, 0), -1, "cap 0");
    is_int(webhook_push_ref(NULL, j, sizeof(j) - 1, NULL, 16), -1, "NULL out");
    is_int(webhook_push_ref(NULL, NULL, 0, out, sizeof(out)), -1, "NULL body");
    is_str(out, "", "NULL body empties out");
    /* escapes count after decoding: 6 escaped bytes decode to 2 */
    strcpy(out, "junk");
    is_int(webhook_push_ref(NULL, "{\"ref\":\"\\u00e9\"}", 16, out, 3), 0, "decoded length counts");
    is_str(out, "\xc3\xa9", "decoded length value");
}

static int ref_form(const char *ct, const char *body, char *out, size_t cap)
{
    return webhook_push_ref(ct, body, strlen(body), out, cap);
}

static void test_ref_form(void)
{
    static const char form_ct[] = "application/x-www-form-urlencoded";
    static const char payload[] =
        "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%2C%22head_commit%22%3A%7B%22message%22"
        "%3A%22fix+the+%5C%22thing%5C%22%22%2C%22ref%22%3A%22x%22%7D%7D";
    char out[64];

    is_int(ref_form(form_ct, payload, out, sizeof(out)), 0, "form payload");
    is_str(out, "refs/heads/main", "form payload value");
    is_int(ref_form("Application/X-WWW-Form-URLEncoded; charset=utf-8", payload, out, sizeof(out)),
           0, "form type case-blind with parameters");
    is_str(out, "refs/heads/main", "form type with parameters value");
    is_int(ref_form(" application/x-www-form-urlencoded ;charset=UTF-8", payload, out, sizeof(out)),
           0, "form type with spaces");
    is_int(ref_form(form_ct, "a=1&b&payload={\"ref\":\"refs/heads/x+y\"}&c=%41", out, sizeof(out)),
           0, "payload among other fields, unescaped braces");
    is_str(out, "refs/heads/x y", "+ decodes to space");
    is_int(ref_form(form_ct, "p%61yload=%7B%22ref%22%3A%22r%22%7D", out, sizeof(out)), 0,
           "escaped field name");
    is_str(out, "r", "escaped field name value");

    strcpy(out, "junk");
    is_int(ref_form(form_ct, "a=1&b=2", out, sizeof(out)), -1, "form without payload");
    is_str(out, "", "form without payload empties out");
    is_int(ref_form(form_ct, "", out, sizeof(out)), -1, "empty form");
    is_int(ref_form(form_ct, "payload", out, sizeof(out)), -1, "payload without =");
    is_int(ref_form(form_ct, "payload=", out, sizeof(out)), -1, "empty payload");
    is_int(ref_form(form_ct, "payload=%7B%22ref%22%3A%22r%22%7D&payload=%7B%22ref%22%3A%22r%22%7D",
                    out, sizeof(out)),
           -1, "duplicate payload");
    is_int(ref_form(form_ct, "payload=%7B%22ref%22%3A%22r%22%7", out, sizeof(out)), -1,
           "truncated % escape");
    is_int(ref_form(form_ct, "payload=%7B%22ref%22%3A%22r%22%G0", out, sizeof(out)), -1,
           "bad % escape");
    is_int(ref_form(form_ct, "payload=%7B%22ref%22%3A%22r%22", out, sizeof(out)), -1,
           "truncated JSON inside payload");
    is_int(ref_form(form_ct, "payloadx=%7B%22ref%22%3A%22r%22%7D", out, sizeof(out)), -1,
           "similar field name");
    is_int(ref_form(form_ct, "{\"ref\":\"refs/heads/main\"}", out, sizeof(out)), -1,
           "JSON body under form type");
    is_int(ref_form("application/json", payload, out, sizeof(out)), -1,
           "form body under JSON type");
    is_int(ref_form("application/x-www-form-urlencodedx", payload, out, sizeof(out)), -1,
           "form type with a suffix is not form");
    is_int(ref_form(form_ct, "payload=%7B%22ref%22%3A%22abc%22%7D", out, 3), -1, "form too long");
}

static void test_branch(void)
{
    ok(webhook_ref_is_branch("refs/heads/main", "main"), "main");
    ok(webhook_ref_is_branch("refs/heads/feature/x", "feature/x"), "branch with slash");
    ok(!webhook_ref_is_branch("refs/heads/main", "mai"), "branch prefix");
    ok(!webhook_ref_is_branch("refs/heads/mainx", "main"), "ref longer");
    ok(!webhook_ref_is_branch("refs/tags/main", "main"), "tag of same name");
    ok(!webhook_ref_is_branch("main", "main"), "short ref");
    ok(!webhook_ref_is_branch("refs/heads/", ""), "empty branch");
    ok(!webhook_ref_is_branch("refs/heads/Main", "main"), "case matters");
    ok(!webhook_ref_is_branch("refs/remotes/origin/main", "main"), "remote ref");
    ok(!webhook_ref_is_branch(NULL, "main"), "NULL ref");
    ok(!webhook_ref_is_branch("refs/heads/main", NULL), "NULL branch");
}

static void test_events(void)
{
    ok(webhook_is_ping("ping", NULL, NULL), "github ping");
    ok(webhook_is_ping("PING", NULL, NULL), "github ping case-blind");
    ok(webhook_is_ping(NULL, "ping", NULL), "gitea ping");
    ok(!webhook_is_ping("push", NULL, NULL), "github push is not ping");
    ok(!webhook_is_ping(NULL, NULL, NULL), "absent is not ping");
    ok(!webhook_is_ping(NULL, NULL, "Push Hook"), "gitlab push is not ping");
    ok(!webhook_is_ping(NULL, NULL, "ping"), "gitlab has no ping");
    ok(!webhook_is_ping("pings", NULL, NULL), "ping prefix");

    ok(webhook_is_push(NULL, NULL, NULL), "absent is push");
    ok(webhook_is_push("push", NULL, NULL), "github push");
    ok(webhook_is_push("push", "push", NULL), "gitea (sends both headers)");
    ok(webhook_is_push(NULL, NULL, "Push Hook"), "gitlab push");
    ok(webhook_is_push(NULL, NULL, "push hook"), "gitlab push case-blind");
    ok(!webhook_is_push("ping", NULL, NULL), "ping is not push");
    ok(!webhook_is_push("issues", NULL, NULL), "issues is not push");
    ok(!webhook_is_push("push", "create", NULL), "disagreeing headers");
    ok(!webhook_is_push(NULL, NULL, "Tag Push Hook"), "gitlab tag push");
    ok(!webhook_is_push("", NULL, NULL), "empty event");
}

static void test_sign(void)
{
    char sig[WEBHOOK_SIGNATURE_LEN + 1];

    is_int(webhook_sign(JEFE_KEY, JEFE_DATA, strlen(JEFE_DATA), sig), 0, "sign: ok");
    is_str(sig, "sha256=" JEFE_HEX, "sign: rfc4231 tc2, lower-case hex after sha256=");
    struct webhook_headers h = {.hub_signature_256 = sig};
    is_int(webhook_verify(&h, JEFE_DATA, strlen(JEFE_DATA), JEFE_KEY), WEBHOOK_OK,
           "sign: what we send, our own check accepts");
    is_int(webhook_sign(NULL, "x", 1, sig), -1, "sign: no secret refused");
    is_str(sig, "", "sign: out emptied on failure");
    is_int(webhook_sign("", "x", 1, sig), -1, "sign: empty secret refused");
    is_int(webhook_sign("key", NULL, 0, sig), 0, "sign: an empty body");
    is_str(sig, "sha256=" EMPTY_HEX, "sign: HMAC of the empty body");
}

/* peer_check: the body as wharf sends it, at a given now */
static enum webhook_peer_verdict peer(const char *body, int64_t now, char *ref, size_t cap)
{
    return webhook_peer_check(body, strlen(body), now, ref, cap);
}

static void test_peer(void)
{
    const int64_t now = 1765000000;
    char ref[64];
    struct buf b;

    buf_init(&b, 0);
    webhook_peer_body("refs/heads/main", "pod-\"a\"", now, &b);
    is_str(b.data,
           "{\"event\":\"peer\",\"ref\":\"refs/heads/main\",\"from\":\"pod-\\\"a\\\"\","
           "\"sent\":1765000000}",
           "peer body: exact bytes, from escaped");
    is_int(webhook_peer_check(b.data, b.len, now, ref, sizeof ref), WEBHOOK_PEER_OK,
           "peer: what we send, checked at once: ok");
    is_str(ref, "refs/heads/main", "peer: the ref is read");
    is_int(webhook_peer_check(b.data, b.len, now + WEBHOOK_PEER_MAX_AGE_S, ref, sizeof ref),
           WEBHOOK_PEER_OK, "peer: exactly WEBHOOK_PEER_MAX_AGE_S old: ok");
    is_int(webhook_peer_check(b.data, b.len, now + WEBHOOK_PEER_MAX_AGE_S + 1, ref, sizeof ref),
           WEBHOOK_PEER_STALE, "peer: one second older: stale (a replay is refused)");
    is_int(webhook_peer_check(b.data, b.len, now + 86400 * 365, ref, sizeof ref),
           WEBHOOK_PEER_STALE, "peer: a year later: stale");
    is_int(webhook_peer_check(b.data, b.len, now - WEBHOOK_PEER_MAX_AHEAD_S, ref, sizeof ref),
           WEBHOOK_PEER_OK, "peer: dated WEBHOOK_PEER_MAX_AHEAD_S ahead (skew): ok");
    is_int(webhook_peer_check(b.data, b.len, now - WEBHOOK_PEER_MAX_AHEAD_S - 1, ref, sizeof ref),
           WEBHOOK_PEER_AHEAD, "peer: further ahead: refused");
    buf_dispose(&b);

    /* what the body must be */
    is_int(peer("{\"ref\":\"refs/heads/main\",\"from\":\"x\"}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: the old undated body is refused");
    is_str(ref, "", "peer: ref emptied when malformed");
    is_int(peer("{\"event\":\"deploy\",\"ref\":\"r\",\"sent\":1765000000}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: another event (a git_notify body) is refused");
    is_int(peer("{\"time\":\"2025-12-06T05:46:40Z\",\"event\":\"deploy\",\"commit\":\"abc\"}", now,
                ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: a deploy event's shape is refused");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\"}", now, ref, sizeof ref), WEBHOOK_PEER_MALFORMED,
           "peer: no sent");
    is_int(peer("{\"event\":\"peer\",\"sent\":1765000000}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: no ref");
    is_int(peer("{\"ref\":\"r\",\"sent\":1765000000}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: no event");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":\"1765000000\"}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: sent as a string");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":1765000000.5}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: sent with a fraction");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":1.765e9}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: sent with an exponent");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":-1}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: a negative sent");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":01765000000}", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: a leading zero");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":9999999999999999999}", now, ref,
                sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: 19 digits (would overflow)");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":1,\"sent\":1765000000}", now, ref,
                sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: a repeated sent (the later would be fresh)");
    is_int(peer("{\"event\":\"peer\",\"event\":\"peer\",\"ref\":\"r\",\"sent\":1765000000}", now,
                ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: a repeated event");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":1765000000", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: truncated");
    is_int(peer("{\"event\":\"peer\",\"ref\":\"r\",\"sent\":1765000000} x", now, ref, sizeof ref),
           WEBHOOK_PEER_MALFORMED, "peer: trailing bytes");
    is_int(peer("{\"x\":{\"sent\":1765000000},\"event\":\"peer\",\"ref\":\"r\",\"sent\":1}", now,
                ref, sizeof ref),
           WEBHOOK_PEER_STALE, "peer: a nested sent is not the top-level one");
    is_int(peer(" { \"sent\" : 1765000000 , \"ref\" : \"r\" , \"event\" : \"peer\" } ", now, ref,
                sizeof ref),
           WEBHOOK_PEER_OK, "peer: any order, whitespace");
    is_int(
        peer("{\"event\":\"peer\",\"ref\":\"refs/heads/a-long-branch-name\",\"sent\":1765000000}",
             now, ref, 8),
        WEBHOOK_PEER_MALFORMED, "peer: a ref longer than cap");
    is_int(webhook_peer_check(NULL, 0, now, ref, sizeof ref), WEBHOOK_PEER_MALFORMED,
           "peer: no body");
    is_str(webhook_peer_verdict_text(WEBHOOK_PEER_STALE), "stale peer notification",
           "peer: verdict text");
}

int main(void)
{
    test_peer();
    test_sign();
    test_hub_signature();
    test_absent();
    test_gitea();
    test_gitlab();
    test_precedence();
    test_verdict_text();
    test_ref_payloads();
    test_ref_strings();
    test_ref_whitespace_and_values();
    test_ref_depth();
    test_ref_capacity();
    test_ref_form();
    test_branch();
    test_events();
    return done_testing();
}
