/*  timestamp.c — strict RFC 3339 parsing and the normalized text form.

    A hand-written parser rather than strptime: strptime takes whatever its
    locale and format allow (spaces, one-digit fields, out-of-range days it
    normalizes away), and none of it reads an offset with a colon portably.
    Here every character position is checked, the calendar is validated
    before any arithmetic, and the arithmetic is the days-from-civil
    algorithm (400-year eras of 146097 days), exact for any year.
*/
#include "sb/sb.h"
#include <time.h>

#define S_DAY_US (INT64_C (86400) * 1000000)
//  0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
#define S_MIN_US (INT64_C (-62135596800) * 1000000)
#define S_MAX_US (INT64_C (253402300800) * 1000000 - 1)

//  Reads width decimal digits; -1 when one is not a digit.
static int
s_digits (const char *s, int width)
{
    int n = 0;
    for (int i = 0; i < width; i++) {
        if (s [i] < '0' || s [i] > '9')
            return -1;
        n = n * 10 + (s [i] - '0');
    }
    return n;
}

int64_t
sb_timestamp_days_from_civil (int64_t year, int month, int day)
{
    //  Years start in March, so that the leap day is the last of its year;
    //  400-year eras repeat exactly (146097 days).
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

void
sb_timestamp_civil_from_days (int64_t days, int64_t *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era
        = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;
    *day = (int) (day_of_year - (153 * shifted_month + 2) / 5 + 1);
    *month = (int) (shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

int
sb_timestamp_month_days (int64_t year, int month)
{
    static const int days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days [month - 1] + (month == 2 && leap);
}

int
sb_timestamp_parse (const char *s, int64_t *usec)
{
    //  YYYY-MM-DDTHH:MM:SS is 19 characters; a fraction of at most 9
    //  digits and an offset make 35 at most. The length bound comes first,
    //  so that no position below is read past the end.
    if (!s)
        return -1;
    size_t len = strnlen (s, 36);
    if (len < 20 || len > 35)
        return -1;
    int year = s_digits (s, 4), month = s_digits (s + 5, 2), day = s_digits (s + 8, 2);
    int hour = s_digits (s + 11, 2), minute = s_digits (s + 14, 2), second = s_digits (s + 17, 2);
    if (s [4] != '-' || s [7] != '-' || (s [10] != 'T' && s [10] != 't') || s [13] != ':'
        || s [16] != ':' || year < 1 || month < 1 || month > 12 || day < 1 || hour < 0
        || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60
        || day > sb_timestamp_month_days (year, month))
        return -1;
    const char *p = s + 19;
    int64_t fraction = 0;
    bool fraction_zero = true;
    if (*p == '.') {
        size_t digits = strspn (p + 1, "0123456789");
        if (digits < 1 || digits > 9)
            return -1;
        for (size_t i = 0; i < digits; i++) {
            if (i < 6)
                fraction = fraction * 10 + (p [1 + i] - '0');
            if (p [1 + i] != '0')
                fraction_zero = false;
        }
        for (size_t i = digits; i < 6; i++)
            fraction *= 10;
        p += 1 + digits;
    }
    //  PostgreSQL takes second 60 (as the next minute's 0) only with no
    //  fraction above zero (60 and 60.000, not 60.5); so does this, and the arithmetic below rolls it over.
    if (second == 60 && !fraction_zero)
        return -1;
    int offset = 0;                 //  seconds east of UTC
    if ((*p == 'Z' || *p == 'z') && p [1] == 0)
        offset = 0;
    else
    if ((*p == '+' || *p == '-') && strlen (p) == 6 && p [3] == ':') {
        int oh = s_digits (p + 1, 2), om = s_digits (p + 4, 2);
        if (oh < 0 || oh > 15 || om < 0 || om > 59)
            return -1;
        offset = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    }
    else
        return -1;
    int64_t seconds = sb_timestamp_days_from_civil (year, month, day) * 86400 + hour * 3600
                      + minute * 60 + second - offset;
    int64_t value = seconds * 1000000 + fraction;
    if (value < S_MIN_US || value > S_MAX_US)
        return -1;
    if (usec)
        *usec = value;
    return 0;
}

void
sb_timestamp_format (int64_t usec, char out [SB_TIMESTAMP_SIZE])
{
    int64_t days = usec / S_DAY_US, rest = usec % S_DAY_US;
    if (rest < 0) {
        days--;
        rest += S_DAY_US;
    }
    int64_t year;
    int month, day;
    sb_timestamp_civil_from_days (days, &year, &month, &day);
    int64_t seconds = rest / 1000000;
    snprintf (out, SB_TIMESTAMP_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", (int) year, month,
              day, (int) (seconds / 3600), (int) (seconds / 60 % 60), (int) (seconds % 60),
              (int) (rest % 1000000));
}

int
sb_timestamp_parse_rfc2822 (const char *s, int64_t *usec)
{
    static const char week [] = "ThuFriSatSunMonTueWed";       //  1970-01-01 was a Thursday
    static const char months [] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    //  "Thu, 03 Dec 2026 10:00:00 +0000": 31 bytes, every field in place.
    if (!s || strlen (s) != 31 || memcmp (s + 3, ", ", 2) || s [7] != ' ' || s [11] != ' '
        || s [16] != ' ' || s [19] != ':' || s [22] != ':' || s [25] != ' '
        || (s [26] != '+' && s [26] != '-'))
        return -1;
    int day = s_digits (s + 5, 2), year = s_digits (s + 12, 4);
    int hour = s_digits (s + 17, 2), minute = s_digits (s + 20, 2), second = s_digits (s + 23, 2);
    int zone_hours = s_digits (s + 27, 2), zone_minutes = s_digits (s + 29, 2);
    int month = 0;
    for (int m = 0; m < 12 && !month; m++)
        if (memcmp (s + 8, months + 3 * m, 3) == 0)
            month = m + 1;
    if (!month || year < 1970 || day < 1 || day > sb_timestamp_month_days (year, month)
        || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59
        || zone_hours < 0 || zone_hours > 23 || zone_minutes < 0 || zone_minutes > 59)
        return -1;
    int64_t days = sb_timestamp_days_from_civil (year, month, day);
    if (memcmp (s, week + 3 * (days % 7), 3))
        return -1;
    int64_t offset = (s [26] == '-' ? -1 : 1) * (zone_hours * 3600 + zone_minutes * 60);
    if (usec)
        *usec = (days * 86400 + hour * 3600 + minute * 60 + second - offset) * 1000000;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Self test. The oracles are independent of the code above: a table of
//  instants computed with GNU date(1), and glibc's timegm/gmtime_r for
//  random fields, which also decides which dates exist.

//  The instant glibc gives for these fields, and whether the date exists
//  (timegm normalizes an impossible day into the next month; gmtime_r of the
//  result then names another date).
static bool
s_oracle (int year, int month, int day, int hour, int minute, int second, int64_t *seconds)
{
    struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                     .tm_hour = hour, .tm_min = minute, .tm_sec = second };
    time_t t = timegm (&tm);
    struct tm back;
    time_t midnight = t - (hour * 3600 + minute * 60 + second);
    gmtime_r (&midnight, &back);
    *seconds = (int64_t) t;
    return back.tm_year == year - 1900 && back.tm_mon == month - 1 && back.tm_mday == day;
}

void
sb_timestamp_test (bool verbose)
{
    (void) verbose;
    //  Accepted, with the instant date -u -d STRING +%s printed (seconds)
    //  and the fraction's microseconds.
    static const struct {
        const char *text;
        int64_t seconds;
        int64_t micros;
    } good [] = {
        { "2026-12-02T10:00:00Z", 1796205600, 0 },
        { "2026-12-02T10:00:00+02:00", 1796198400, 0 },
        { "2026-12-02t10:00:00z", 1796205600, 0 },
        { "2026-12-02T10:00:00.5Z", 1796205600, 500000 },
        { "2024-02-29T23:59:59.123456789-05:30", 1709270999, 123456 },
        { "1970-01-01T00:00:00Z", 0, 0 },
        { "1970-01-01T00:00:00-00:00", 0, 0 },
        { "1969-12-31T23:59:59.999999Z", -1, 999999 },
        { "0001-01-01T00:00:00Z", -62135596800, 0 },
        { "9999-12-31T23:59:59.999999Z", 253402300799, 999999 },
        { "2000-02-29T12:00:00Z", 951825600, 0 },
        { "1900-02-28T23:59:59Z", -2203891201, 0 },
        { "2016-12-31T23:59:60Z", 1483228800, 0 },
        { "2016-12-31T23:59:60.000Z", 1483228800, 0 },
        { "2026-11-25T10:00:00+15:59", 1795543260, 0 },
        { "2100-03-01T00:00:00-15:59", 4107599940, 0 },
    };
    for (size_t i = 0; i < sizeof (good) / sizeof (good [0]); i++) {
        int64_t usec = -7;
        bool ok = sb_timestamp_parse (good [i].text, &usec) == 0
                  && usec == good [i].seconds * 1000000 + good [i].micros;
        if (!ok)
            fprintf (stderr, "timestamp: '%s' not read as %lld.%06lld\n", good [i].text,
                     (long long) good [i].seconds, (long long) good [i].micros);
        SB_CHECK (ok);
    }
    SB_CHECK (sb_timestamp_parse ("2026-12-02T10:00:00Z", NULL) == 0);

    //  Refused: PostgreSQL's words and lenient forms, impossible fields,
    //  and anything around an otherwise good value.
    static const char *bad [] = {
        "tomorrow", "today", "yesterday", "now", "epoch", "infinity", "-infinity",
        "allballs", "", "2026-12-02", "2026-12-02 10:00:00", "2026-12-02 10:00:00Z",
        "2026-12-02T10:00:00", "2026-12-02T10:00Z", "2026-12-02T10:00:00 Z",
        "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-00-10T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-12-00T00:00:00Z", "2026-12-32T00:00:00Z", "2026-12-02T24:00:00Z",
        "2026-12-02T10:60:00Z", "2026-12-02T10:00:61Z", "2026-12-02T10:00:60.5Z",
        "2026-12-02T10:00:60.0000001Z", "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
        "2026-12-02T10:00:00.Z", "2026-12-02T10:00:00.1234567890Z", "2026-12-02T10:00:00,5Z",
        "2026-12-02T10:00:00+5:30", "2026-12-02T10:00:00+0530", "2026-12-02T10:00:00+05",
        "2026-12-02T10:00:00+16:00", "2026-12-02T10:00:00+05:60", "2026-12-02T10:00:00Zjunk",
        " 2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z ", "+2026-12-02T10:00:00Z",
        "12026-12-02T10:00:00Z", "2026-1-02T10:00:00Z", "2026-12-2T10:00:00Z",
        "2026-12-02T1:00:00Z", "2026/12/02T10:00:00Z", "2026-12-02X10:00:00Z",
        "2026-12-02T10:00:00UTC", "2026-12-02T10:00:00+02:00Z", "2026-12-02T10:0a:00Z",
        "2026-12-02T10:00:00.12345678901234567890123456789Z", "J2461011", "1796205600",
        "2026-12-02T10:00:00\xc2\xa0Z", "2026-12-02T10:00:00-0\0000:00",
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        int64_t usec = -7;
        bool refused = sb_timestamp_parse (bad [i], &usec) == -1 && usec == -7;
        if (!refused)
            fprintf (stderr, "timestamp: '%s' not refused\n", bad [i]);
        SB_CHECK (refused);
    }
    SB_CHECK (sb_timestamp_parse (NULL, NULL) == -1);

    //  Random fields, a few out of range, against glibc: accepted exactly
    //  when the date exists and the time is in range, at glibc's instant.
    uint64_t state = 0x5eed1234abcdULL;
    int mismatches = 0;
    for (int i = 0; i < 200000; i++) {
        int year = 1 + (int) (sb_test_rand (&state) % 9999);
        int month = (int) (sb_test_rand (&state) % 14);          //  0 and 13 too
        int day = (int) (sb_test_rand (&state) % 33);            //  0 and 32 too
        int hour = (int) (sb_test_rand (&state) % 25);
        int minute = (int) (sb_test_rand (&state) % 61);
        int second = (int) (sb_test_rand (&state) % 62);
        int digits = (int) (sb_test_rand (&state) % 10);         //  0: no fraction
        int64_t fraction_value = (int64_t) (sb_test_rand (&state) % 1000000000);
        int offset_minutes = (int) (sb_test_rand (&state) % (2 * 959 + 1)) - 959;
        char fraction [16] = "";
        int64_t micros = 0;
        if (digits) {
            char nine [10];
            snprintf (nine, sizeof (nine), "%09lld", (long long) fraction_value);
            nine [digits] = 0;
            snprintf (fraction, sizeof (fraction), ".%s", nine);
            micros = strtoll (nine, NULL, 10);
            for (int d = digits; d < 6; d++)
                micros *= 10;
            for (int d = 6; d < digits; d++)
                micros /= 10;
        }
        char zone [8];
        if (offset_minutes == 0 && i % 2)
            snprintf (zone, sizeof (zone), "Z");
        else
            snprintf (zone, sizeof (zone), "%c%02d:%02d", offset_minutes < 0 ? '-' : '+',
                      abs (offset_minutes) / 60, abs (offset_minutes) % 60);
        char text [64];
        snprintf (text, sizeof (text), "%04d-%02d-%02dT%02d:%02d:%02d%s%s", year, month, day, hour,
                  minute, second, fraction, zone);

        int64_t seconds = 0;
        bool exists = month >= 1 && month <= 12 && day >= 1
                      && s_oracle (year, month, day, 0, 0, 0, &seconds);
        bool fraction_zero = digits == 0 || strspn (fraction + 1, "0") == (size_t) digits;
        bool expected = exists && hour <= 23 && minute <= 59
                        && (second <= 59 || (second == 60 && fraction_zero));
        int64_t want = 0;
        if (expected) {
            s_oracle (year, month, day, hour, minute, second, &seconds);
            want = (seconds - offset_minutes * 60) * 1000000 + micros;
            expected = want >= S_MIN_US && want <= S_MAX_US;
        }
        int64_t got = 0;
        bool accepted = sb_timestamp_parse (text, &got) == 0;
        if (accepted != expected || (accepted && got != want)) {
            if (mismatches++ < 5)
                fprintf (stderr, "timestamp: '%s' %s, glibc says %s %lld\n", text,
                         accepted ? "accepted" : "refused", expected ? "valid" : "invalid",
                         (long long) want);
        }
    }
    SB_CHECK (mismatches == 0);

    //  The normalized text against gmtime_r, and back through the parser.
    mismatches = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t usec = S_MIN_US + (int64_t) (sb_test_rand (&state) % (uint64_t) (S_MAX_US - S_MIN_US + 1));
        if (i == 0)
            usec = S_MIN_US;
        if (i == 1)
            usec = S_MAX_US;
        if (i == 2)
            usec = -1;
        char text [SB_TIMESTAMP_SIZE], want [64];
        sb_timestamp_format (usec, text);
        int64_t micros = ((usec % 1000000) + 1000000) % 1000000;
        time_t t = (time_t) ((usec - micros) / 1000000);
        struct tm tm;
        gmtime_r (&t, &tm);
        snprintf (want, sizeof (want), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  (long long) micros);
        int64_t back = 0;
        if (!streq (text, want) || sb_timestamp_parse (text, &back) || back != usec) {
            if (mismatches++ < 5)
                fprintf (stderr, "timestamp: %lld formatted '%s', gmtime_r '%s'\n",
                         (long long) usec, text, want);
        }
    }
    SB_CHECK (mismatches == 0);

    //  The calendar both ways against timegm, over leap years, centuries
    //  and before 1970.
    bool calendar = true;
    for (int64_t d = -719162; d < 2932897 && calendar; d += 13) {
        int64_t year;
        int month, day;
        sb_timestamp_civil_from_days (d, &year, &month, &day);
        int64_t seconds;
        calendar = s_oracle ((int) year, month, day, 0, 0, 0, &seconds) && seconds == d * 86400
                   && sb_timestamp_days_from_civil (year, month, day) == d
                   && day <= sb_timestamp_month_days (year, month);
    }
    SB_CHECK (calendar);

    //  RFC 2822 as Twilio writes it, and nothing looser (instants from
    //  date -u -d).
    int64_t at = 0;
    SB_CHECK (sb_timestamp_parse_rfc2822 ("Thu, 03 Dec 2026 10:00:00 +0000", &at) == 0
              && at == INT64_C (1796292000) * 1000000);
    SB_CHECK (sb_timestamp_parse_rfc2822 ("Thu, 03 Dec 2026 11:00:00 +0100", &at) == 0
              && at == INT64_C (1796292000) * 1000000);
    SB_CHECK (sb_timestamp_parse_rfc2822 ("Sun, 29 Feb 2032 23:59:59 -0230", &at) == 0
              && at == INT64_C (1961720999) * 1000000);
    const char *loose [] = {
        "Thursday, 03 Dec 2026 10:00:00 +0000", "Thu,  3 Dec 2026 10:00:00 +0000",
        "Thu, 3 Dec 2026 10:00:00 +0000", "Fri, 03 Dec 2026 10:00:00 +0000",    //  a Thursday
        "Thu, 03 dec 2026 10:00:00 +0000", "Thu, 03 Dec 2026 10:00 +0000",
        "Thu, 03 Dec 2026 10:00:00 GMT", "Thu, 03 Dec 2026 24:00:00 +0000",
        "Thu, 03 Dec 2026 10:00:60 +0000", "Thu, 03 Dec 2026 10:00:00 +2400",
        "Thu, 03 Dec 2026 10:00:00 +0060", "Mon, 30 Feb 2026 10:00:00 +0000",
        "Wed, 01 Jan 1969 10:00:00 +0000", "Thu, 03 Dec 2026 10:00:00 +000",
        "2026-12-03T10:00:00Z", "Thu, 03 Dec 2026 10:00:00 +0000 junk", NULL
    };
    for (size_t i = 0; loose [i]; i++)
        SB_CHECK (sb_timestamp_parse_rfc2822 (loose [i], &at) == -1);
    SB_CHECK (sb_timestamp_parse_rfc2822 (NULL, NULL) == -1);
}
