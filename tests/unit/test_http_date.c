#include <stdio.h>
#include <string.h>

#include "http_date.h"
#include "tap.h"

static void check_format(time_t t, const char *want)
{
    char out[HTTP_DATE_LEN + 1];
    char name[96];
    memset(out, 'x', sizeof out);
    http_date_format(t, out);
    snprintf(name, sizeof name, "format %lld", (long long)t);
    is_str(out, want, name);
}

static void check_parse(const char *s, long long want)
{
    time_t t = 12345;
    char name[128];
    snprintf(name, sizeof name, "parse '%s'", s);
    bool okay = http_date_parse(s, &t);
    ok(okay, name);
    is_int(t, want, name);
}

static void check_reject(const char *s)
{
    time_t t = 12345;
    char name[128];
    snprintf(name, sizeof name, "reject '%s'", s);
    ok(!http_date_parse(s, &t), name);
}

int main(void)
{
    check_format(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    check_format(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
    check_format(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
    check_format(1700000000, "Tue, 14 Nov 2023 22:13:20 GMT");
    check_format(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    check_format(2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT");
    check_format(4102444800LL, "Fri, 01 Jan 2100 00:00:00 GMT");
    check_format(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    check_format(-86400, "Wed, 31 Dec 1969 00:00:00 GMT");
    check_format(-2208988800LL, "Mon, 01 Jan 1900 00:00:00 GMT");
    check_format(253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT");
    check_format(253402300800LL, "Fri, 31 Dec 9999 23:59:59 GMT"); /* clamped */
    check_format(-62167219200LL, "Sat, 01 Jan 0000 00:00:00 GMT");
    check_format(-62167219201LL, "Sat, 01 Jan 0000 00:00:00 GMT"); /* clamped */
    {
        char out[HTTP_DATE_LEN + 1];
        http_date_format(784111777, out);
        is_int(strlen(out), HTTP_DATE_LEN, "formatted length is HTTP_DATE_LEN");
    }

    /* the three forms of RFC 9110 5.6.7 */
    check_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111777);
    check_parse("Sunday, 06-Nov-94 08:49:37 GMT", 784111777);
    check_parse("Sun Nov  6 08:49:37 1994", 784111777);
    check_parse("Sun Nov 06 08:49:37 1994", 784111777); /* 2DIGIT is allowed too */
    check_parse("Thu, 01 Jan 1970 00:00:00 GMT", 0);
    check_parse("Wed, 31 Dec 1969 23:59:59 GMT", -1);
    check_parse("Tue, 29 Feb 2000 23:59:59 GMT", 951868799);
    check_parse("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000);
    check_parse("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL);
    check_parse("Tue, 19 Jan 2038 03:14:08 GMT", 2147483648LL);
    check_parse("Thu Jan  1 00:00:00 1970", 0);
    check_parse("Wed Dec 31 23:59:59 1969", -1);
    check_parse("Sat Feb 29 00:00:00 2020", 1582934400);
    check_parse("Thursday, 01-Jan-70 00:00:00 GMT", 0);             /* 70 -> 1970 */
    check_parse("Wednesday, 31-Dec-69 00:00:00 GMT", 3155673600LL); /* 69 -> 2069 */
    check_parse("Saturday, 01-Jan-00 00:00:00 GMT", 946684800);
    check_parse("Friday, 31-Dec-99 23:59:59 GMT", 946684799);
    check_parse("Monday, 13-Nov-23 00:00:00 GMT", 1699833600);
    /* the weekday name is checked for spelling, not against the date */
    check_parse("Mon, 06 Nov 1994 08:49:37 GMT", 784111777);
    /* every month name */
    {
        static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        static const long long first[12] = {1704067200, 1706745600, 1709251200, 1711929600,
                                            1714521600, 1717200000, 1719792000, 1722470400,
                                            1725148800, 1727740800, 1730419200, 1733011200};
        for (int i = 0; i < 12; i++) {
            char s[40];
            snprintf(s, sizeof s, "Mon, 01 %s 2024 00:00:00 GMT", mon[i]);
            check_parse(s, first[i]);
        }
    }
    /* round trip over a spread of times */
    {
        int bad = 0;
        for (long long t = -2208988800LL; t < 4102444800LL; t += 86400LL * 37 + 3671) {
            char out[HTTP_DATE_LEN + 1];
            time_t back;
            http_date_format((time_t)t, out);
            if (!http_date_parse(out, &back) || back != t)
                bad++;
        }
        is_int(bad, 0, "format -> parse round trip 1900..2100");
    }

    /* malformed: each differs from a valid form in one way */
    static const char *const bad[] = {
        "",
        " ",
        "garbage",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06 Nov 1994 08:49:37",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "SUN, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 NOV 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sun 06 Nov 1994 08:49:37 GMT",
        "Sun,  6 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 19944 08:49:37 GMT",
        "Sun, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08.49.37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 32 Jan 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 00:00:00 GMT",
        "Sun, 29 Feb 2023 00:00:00 GMT",
        "Sun, 30 Feb 2024 00:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 23:60:00 GMT",
        "Sun, 06 Nov 1994 23:59:60 GMT",
        "Sun, 06 Nov 1994 99:99:99 GMT",
        "Sun, 0a Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 19a4 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:4a:37 GMT",
        "Sun, -6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov -994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        /* RFC 850 */
        "Sunday, 06-Nov-94 08:49:37 GMT ",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sonday, 06-Nov-94 08:49:37 GMT",
        "sunday, 06-Nov-94 08:49:37 GMT",
        "Sunday 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 6-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sunday, 31-Apr-94 08:49:37 GMT",
        "Sunday, 06-Nov-94 25:49:37 GMT",
        "Sunday, 06-Nov-9x 08:49:37 GMT",
        "Sunday,, 06-Nov-94 08:49:37 GMT",
        ", 06-Nov-94 08:49:37 GMT",
        "Sunday,",
        /* asctime */
        "Sun Nov  6 08:49:37 1994 ",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov   6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov  6 08:49:37  1994",
        "Sun nov  6 08:49:37 1994",
        "sun Nov  6 08:49:37 1994",
        "Sun Nov  0 08:49:37 1994",
        "Sun Nov 00 08:49:37 1994",
        "Sun Nov 31 08:49:37 1994",
        "Sun Nov  x 08:49:37 1994",
        "Sun Nov 6  08:49:37 1994",
        "Sun Nov  6 08:49:61 1994",
        "Sun,Nov  6 08:49:37 1994",
        "Sun Feb 29 00:00:00 2100",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_reject(bad[i]);
    ok(!http_date_parse(NULL, &(time_t){0}), "reject NULL");
    {
        time_t t = 42;
        http_date_parse("Sun, 31 Nov 1994 08:49:37 GMT", &t);
        is_int(t, 42, "a rejected date leaves *out alone");
    }
    return done_testing();
}
