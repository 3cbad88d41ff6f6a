/*  timestamp.h — the one parser of the timestamps the API takes, and their
    one text form.

    Every timestamp a client sends (an API key's expires_at, a call's
    started_at, a usage event's occurred_at, every from and to) is RFC 3339
    and nothing else: PostgreSQL's lenient input (`tomorrow`, `epoch`,
    `infinity`, a date alone, a space for the T) never reaches the database.
    What reaches it is the normalized form, in UTC with microseconds, the
    same text SB_SQL_TS gives back, so a value always round-trips.
*/
#ifndef SB_TIMESTAMP_H_INCLUDED
#define SB_TIMESTAMP_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

//  Size of the normalized text "YYYY-MM-DDTHH:MM:SS.ffffffZ" plus NUL.
#define SB_TIMESTAMP_SIZE 28

//  Parses an RFC 3339 date-time, YYYY-MM-DD(T|t)HH:MM:SS[.fraction](Z|z|±HH:MM),
//  into microseconds since the Unix epoch (usec may be NULL). Ranges: a real
//  Gregorian date (leap years included), hour 0–23, minute 0–59, second
//  0–59, or 60 with no fraction or an all-zero one (60.000), which
//  PostgreSQL reads as the next minute and so does this; 1 to 9 fraction digits, truncated to microseconds; an
//  offset up to ±15:59 (PostgreSQL's bound; -00:00 is UTC). The instant must
//  lie from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z, so that its
//  normalized form keeps a four-digit year. Returns 0, or -1 when s (which
//  may be NULL) is anything else; *usec is then untouched.
int sb_timestamp_parse (const char *s, int64_t *usec);

//  Parses an RFC 2822 date-time exactly as Twilio writes its Timestamp,
//  "Thu, 03 Dec 2026 10:00:00 +0000" (day name, two-digit day, month name,
//  four-digit year from 1970, seconds 0–59, a numeric zone up to ±23:59)
//  and nothing looser: the day name must be the date's. Returns 0 with
//  *usec (may be NULL), or -1 leaving it untouched.
int sb_timestamp_parse_rfc2822 (const char *s, int64_t *usec);

//  Writes usec (microseconds since the Unix epoch, within the range above)
//  as "YYYY-MM-DDTHH:MM:SS.ffffffZ" into out.
void sb_timestamp_format (int64_t usec, char out [SB_TIMESTAMP_SIZE]);

//  Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t sb_timestamp_days_from_civil (int64_t year, int month, int day);
void sb_timestamp_civil_from_days (int64_t days, int64_t *year, int *month, int *day);

//  Days in a month (1–12) of a year, leap years included.
int sb_timestamp_month_days (int64_t year, int month);

//  Self test.
void sb_timestamp_test (bool verbose);

#endif
