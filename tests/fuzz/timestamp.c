/*  timestamp.c — libFuzzer harness: the strict RFC 3339 parser
    (sb/timestamp.h).

    What a stranger controls: every timestamp of the API (an API key's
    expires_at, a call's started_at, a usage event's occurred_at, every
    from and to). Properties checked on every input:

      1. The bytes as text (up to the first NUL; 64 bytes at most): the
         parser accepts exactly what the harness's own reading of the
         contract accepts (s_oracle: RFC 3339's date-time with the limits
         timestamp.h states — real Gregorian dates with leap years, hours
         0–23, minutes 0–59, second 60 only without a non-zero fraction, 1
         to 9 fraction digits, Z or ±HH:MM up to ±15:59, the instant within
         years 1..9999), and to the same microsecond, computed here with a
         different day count (days before the year, then before the month,
         not the 400-year eras of timestamp.c).
      2. Round trip: format → parse is the identity on every accepted
         instant, the text is "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27 characters),
         and formatting again gives the same text.
      3. The first 8 bytes as an instant, clamped into the range: format
         → parse gives it back.

    A property that fails aborts (a crash for libFuzzer, with the input
    saved); so do ASan and UBSan findings.
*/
#include "sb/timestamp.h"
#include "fuzz.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, const char *text)
{
    fprintf (stderr, "timestamp harness: %s ('%s')\n", what, text);
    abort ();
}

//  0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds.
#define S_MIN (INT64_C (-62135596800) * 1000000)
#define S_MAX (INT64_C (253402300800) * 1000000 - 1)

//  The contract of sb_timestamp_parse, read again. True with *usec when s
//  must be accepted.
static bool
s_oracle (const char *s, int64_t *usec)
{
    size_t n = strlen (s);
    int y, mo, d, h, mi, se;
    //  date-fullyear "-" date-month "-" date-mday
    if (n < 20 || !fuzz_digits (s, 4, &y) || s [4] != '-' || !fuzz_digits (s + 5, 2, &mo) || s [7] != '-'
        || !fuzz_digits (s + 8, 2, &d))
        return false;
    //  "T" / "t", partial-time
    if ((s [10] != 'T' && s [10] != 't') || !fuzz_digits (s + 11, 2, &h) || s [13] != ':'
        || !fuzz_digits (s + 14, 2, &mi) || s [16] != ':' || !fuzz_digits (s + 17, 2, &se))
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > fuzz_month_days (y, mo) || h > 23 || mi > 59
        || se > 60)
        return false;
    size_t i = 19;
    int64_t micros = 0;
    bool zero = true;
    if (s [i] == '.') {
        size_t k = 0;
        while (s [i + 1 + k] >= '0' && s [i + 1 + k] <= '9')
            k++;
        if (k < 1 || k > 9)
            return false;
        for (size_t j = 0; j < 6; j++)
            micros = micros * 10 + (j < k ? s [i + 1 + j] - '0' : 0);
        for (size_t j = 0; j < k; j++)
            zero &= s [i + 1 + j] == '0';
        i += 1 + k;
    }
    if (se == 60 && !zero)
        return false;
    int64_t offset = 0;
    if ((s [i] == 'Z' || s [i] == 'z') && i + 1 == n)
        offset = 0;
    else {
        int oh, om;
        if ((s [i] != '+' && s [i] != '-') || i + 6 != n || !fuzz_digits (s + i + 1, 2, &oh)
            || s [i + 3] != ':' || !fuzz_digits (s + i + 4, 2, &om) || oh > 15 || om > 59)
            return false;
        offset = (s [i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    }
    int64_t seconds = fuzz_days (y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    *usec = seconds * 1000000 + micros;
    return *usec >= S_MIN && *usec <= S_MAX;
}

//  format → parse → the same instant; the text has the normalized shape.
static void
s_round_trip (int64_t usec)
{
    char text [SB_TIMESTAMP_SIZE], again [SB_TIMESTAMP_SIZE];
    sb_timestamp_format (usec, text);
    int64_t back = 0, oracle = 0;
    if (strlen (text) != 27 || text [10] != 'T' || text [19] != '.' || text [26] != 'Z')
        s_fail ("the normalized text has the wrong shape", text);
    if (sb_timestamp_parse (text, &back) || back != usec)
        s_fail ("format -> parse is not the identity", text);
    if (!s_oracle (text, &oracle) || oracle != usec)
        s_fail ("the normalized text is not what it says by the contract", text);
    sb_timestamp_format (back, again);
    if (strcmp (text, again))
        s_fail ("formatting twice differs", text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char text [65];
    size_t n = size < 64 ? size : 64;
    memcpy (text, data, n);
    text [n] = 0;
    int64_t usec = -7, expected = 0;
    bool accepted = sb_timestamp_parse (text, &usec) == 0;
    bool valid = s_oracle (text, &expected);
    if (accepted && !valid)
        s_fail ("accepted text the contract refuses", text);
    if (!accepted && valid)
        s_fail ("refused text the contract accepts", text);
    if (!accepted && usec != -7)
        s_fail ("a refusal wrote *usec", text);
    if (accepted) {
        if (usec != expected)
            s_fail ("read as another instant", text);
        s_round_trip (usec);
    }
    if (size >= 8) {
        uint64_t raw = 0;
        for (int i = 0; i < 8; i++)
            raw = raw << 8 | data [i];
        int64_t span = S_MAX - S_MIN + 1;
        s_round_trip (S_MIN + (int64_t) (raw % (uint64_t) span));
    }
    return 0;
}
