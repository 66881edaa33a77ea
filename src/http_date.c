/*
 * http_date: the three HTTP-date forms of RFC 9110 5.6.7. Formatting always yields
 * IMF-fixdate; parsing accepts a form only if the whole string matches it byte for byte
 * (names and "GMT" are case-sensitive, fields are range-checked including the day against
 * its month). The weekday name must be a real one but is not checked against the date, as
 * it carries no information. Calendar arithmetic is done here so no locale or TZ is read.
 */
#include "http_date.h"

#include <stdint.h>
#include <string.h>

static const char wkday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const weekday[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
static const char month[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12), after H. Hinnant's
 * public-domain derivation: count in 400-year eras starting at March 1. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the 4-digit years. */
#define MIN_TIME (-62167219200LL)
#define MAX_TIME 253402300799LL

static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

void http_date_format(time_t t, char out[HTTP_DATE_LEN + 1])
{
    int64_t s = (int64_t)t;
    if (s < MIN_TIME)
        s = MIN_TIME;
    if (s > MAX_TIME)
        s = MAX_TIME;
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    unsigned secs = (unsigned)(s - days * 86400);
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int wd = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */

    char *p = put_str(out, wkday[wd]);
    p = put_str(p, ", ");
    p = put_digits(p, (unsigned)d, 2);
    *p++ = ' ';
    p = put_str(p, month[m - 1]);
    *p++ = ' ';
    p = put_digits(p, (unsigned)y, 4);
    *p++ = ' ';
    p = put_digits(p, secs / 3600, 2);
    *p++ = ':';
    p = put_digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, secs % 60, 2);
    p = put_str(p, " GMT");
    *p = '\0';
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int find_month(const char *s)
{
    for (int i = 0; i < 12; i++) {
        if (memcmp(s, month[i], 3) == 0)
            return i + 1;
    }
    return 0;
}

static bool is_wkday(const char *s)
{
    for (int i = 0; i < 7; i++) {
        if (memcmp(s, wkday[i], 3) == 0)
            return true;
    }
    return false;
}

/* "08:49:37" */
static bool parse_time(const char *s, int *h, int *mi, int *sec)
{
    return digits(s, 2, h) && s[2] == ':' && digits(s + 3, 2, mi) && s[5] == ':' &&
           digits(s + 6, 2, sec) && *h <= 23 && *mi <= 59 && *sec <= 59;
}

static bool make_time(int y, int m, int d, int h, int mi, int sec, time_t *out)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return false;
    int64_t v = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
    if ((int64_t)(time_t)v != v)
        return false;
    *out = (time_t)v;
    return true;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf(const char *s, time_t *out)
{
    int d, y, h, mi, sec;
    if (strlen(s) != 29 || !is_wkday(s) || memcmp(s + 3, ", ", 2) != 0 || !digits(s + 5, 2, &d) ||
        s[7] != ' ' || s[11] != ' ' || !digits(s + 12, 4, &y) || s[16] != ' ' ||
        !parse_time(s + 17, &h, &mi, &sec) || memcmp(s + 25, " GMT", 4) != 0)
        return false;
    return make_time(y, find_month(s + 8), d, h, mi, sec, out);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT"
 * note: RFC 9110 wants a two-digit year more than 50 years ahead taken as the past century,
 * which needs a clock; the fixed POSIX pivot (69 -> 2069, 70 -> 1970) agrees until ~2019+50. */
static bool parse_rfc850(const char *s, time_t *out)
{
    const char *comma = strchr(s, ',');
    if (!comma)
        return false;
    size_t name_len = (size_t)(comma - s);
    bool named = false;
    for (int i = 0; i < 7; i++) {
        if (strlen(weekday[i]) == name_len && memcmp(s, weekday[i], name_len) == 0)
            named = true;
    }
    const char *p = comma + 1;
    int d, y, h, mi, sec;
    if (!named || strlen(p) != 23 || p[0] != ' ' || !digits(p + 1, 2, &d) || p[3] != '-' ||
        p[7] != '-' || !digits(p + 8, 2, &y) || p[10] != ' ' ||
        !parse_time(p + 11, &h, &mi, &sec) || memcmp(p + 19, " GMT", 4) != 0)
        return false;
    y += y < 70 ? 2000 : 1900;
    return make_time(y, find_month(p + 4), d, h, mi, sec, out);
}

/* "Sun Nov  6 08:49:37 1994"; the day is 2DIGIT or SP DIGIT */
static bool parse_asctime(const char *s, time_t *out)
{
    int d, y, h, mi, sec;
    if (strlen(s) != 24 || !is_wkday(s) || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' ||
        !parse_time(s + 11, &h, &mi, &sec) || s[19] != ' ' || !digits(s + 20, 4, &y))
        return false;
    if (s[8] == ' ') {
        if (!digits(s + 9, 1, &d))
            return false;
    } else if (!digits(s + 8, 2, &d)) {
        return false;
    }
    return make_time(y, find_month(s + 4), d, h, mi, sec, out);
}

bool http_date_parse(const char *s, time_t *out)
{
    if (!s)
        return false;
    if (parse_imf(s, out) || parse_asctime(s, out))
        return true;
    return parse_rfc850(s, out);
}
