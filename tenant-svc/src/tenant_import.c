/*  tenant_import.c — `tenant-svc import-legacy`: moves the database of the
    product as it was before it was multi-tenant (tables businesses, calls,
    orders; no organization; untidy data) into one organization.

    How it runs. The legacy database is read in one REPEATABLE READ, READ
    ONLY transaction (one consistent snapshot), in keyset batches (id >
    last ORDER BY id LIMIT batch): businesses, then calls, then orders.
    Each batch is written in one transaction of the tenant database with
    the organization set for row-level security: the rows it imports, their
    legacy_id_map rows (legacy id → new id) and the report rows of what it
    rejected or imported with a warning (legacy_import_rejects, with the
    legacy row). A legacy row is thus imported and mapped, or neither: a run
    that dies loses the batch in hand and nothing else, and the next run
    skips what is mapped ("skipped" in the summary) and goes on. Rejected
    rows are not mapped, so each run looks at them again. An advisory lock
    keeps two imports into one organization from running at once, and an
    organization holding rows imported from another legacy database is
    refused (the source's fingerprint: its first business's id and creation
    time). SIGINT/SIGTERM finish the batch in hand, then stop.

    Never a silent guess: a required value that no rule below normalizes
    rejects its row; an optional one is left empty and the row imported
    with a warning. Both are printed, row by row, on stdout ("REJECT
    <table> <legacy id>: <reasons>", "WARN ...") and stored. The rules
    follow what the API accepts for the same fields (tenant_businesses.c,
    tenant_calls.c, tenant_orders.c):

    Phone numbers become E.164. Spaces, dashes, dots and parentheses go. A
    leading '+' stays; the number must then be E.164, and a +1 number a
    North American one (10 digits, area code and exchange starting with
    2-9). Without '+', 10 digits (or 11 starting with 1) become +1… only for
    a business in a US or Canadian time zone (lists below); anything else,
    e.g. "555-0142" (no area code), has no country code and is refused.

    Timestamps: the legacy columns are timestamps without time zone, which
    the legacy server filled in its own local time (DEFAULT now()). They
    are read in the source session's TimeZone — the legacy server's setting
    unless PGTZ or the URL says otherwise — which the report names once.

    businesses: name required (1-200 characters); phone required; timezone
    required, a name PostgreSQL knows (never inferred from the phone);
    greeting as is (at most 2000 characters); opening_hours: a JSON object
    whose keys are days ("mon"), day ranges ("mon-fri", also wrapping:
    "fri-mon") or "daily", and whose values are "HH:MM-HH:MM" intervals
    (open before close, at most 4, comma-separated, none overlapping
    another) or "closed", becomes
    {"mon": [{"open": "11:00", "close": "22:00"}], ...} with the days it
    names; anything else ("Mon-Fri 8-5": which 5?) leaves hours empty with
    a warning. created_at kept, updated_at = created_at.

    calls: the business must have been imported ("business N was not
    imported"); caller required: a phone number, or "anonymous" (a withheld
    number, which the API takes too); started required and not in the
    future; duration required, 0-86400 s (a missing duration is not taken
    as 0, not even for a missed call); status, ignoring case and spaces:
    completed/complete/done → completed, missed/no-answer/no_answer →
    missed, voicemail/vm → voicemail, transferred → transferred; NULL,
    "in-progress" (never finished), "failed" (no outcome) and the rest are
    refused. transcript (at most 100000 characters) and summary (5000) as
    they are. created_at is the import's time: the legacy has none.
    Imported calls write no usage events (no usage_outbox rows): historical
    calls must not be billed as this period's usage.

    orders: the business must have been imported. currency: the legacy
    database records none; USD for a business whose phone is +1 and whose
    time zone is a US one, otherwise what the operator names with
    --currency <legacy business id>=<ISO 4217 code>; without it the order
    is refused (a Paris café's totals are not assumed to be dollars).
    customer_name required (1-200 characters); customer_phone optional:
    normalized, else left empty with a warning. items: a JSON array of
    {name, qty|quantity, price|unit_price|unit_price_cents}, or a text list
    "2x Pizza @ 12.50; 1x Soda @ 2.00" (';' or ',' between items), becomes
    [{"name", "quantity", "unit_price_cents"}]: 1-100 items, names of 1-200
    characters, quantities 1-10000, prices in whole cents up to 1000000.00;
    a list without prices ("2x Margherita, 1x Cappuccino") or with other
    fields is refused. total required: dollars to cents exactly (a fraction
    of a cent is refused) and equal to the items' sum, else refused with
    both numbers. status, ignoring case: pending, confirmed, fulfilled,
    cancelled (or canceled); "refunded" (no such state here) and the rest
    are refused. call_id: the imported call; left empty with a warning when
    the legacy call was not imported or belongs to another business.
    created_at kept, updated_at = created_at.

    Exit status: 0 when the import ran to its end (with rejects or not) or
    to --limit; 1 on a failure (connection, SQL) or a signal; 2 on bad usage.
*/
#include "tenant.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>

#define S_NAME          "tenant-svc import-legacy"
#define S_BATCH_DEFAULT 500
#define S_BATCH_MAX     10000
#define S_CURRENCIES    64
#define S_MAX_ITEMS     100
#define S_MAX_PRICE     100000000       //  cents, as the API
#define S_MAX_QUANTITY  10000
#define S_QUOTE_CHARS   40              //  code points of a legacy value quoted in a reason

enum { S_BUSINESSES, S_CALLS, S_ORDERS, S_TABLES };
static const char *const s_tables [S_TABLES] = { "businesses", "calls", "orders" };

//  The reasons for one row, "; " between them.
typedef struct {
    char text [2048];
    size_t len;
} s_notes_t;

typedef struct {
    int64_t legacy_id;
    char code [4];
} s_currency_t;

//  A legacy business as imported (by this run or an earlier one).
typedef struct {
    int64_t legacy_id;
    char id [37];                       //  "" when imported but deleted since
    char currency [4];                  //  "" when unknown
    bool nanp;                          //  in a US or Canadian time zone
    char timezone [64];
} s_business_t;

typedef struct {
    long total, seen, imported, skipped, rejected, warned;
} s_tally_t;

typedef struct {
    //  Options
    const char *source_url;
    char org [37];
    bool dry_run;
    long batch;
    long limit;                         //  0: none
    s_currency_t currencies [S_CURRENCIES];
    size_t currency_count;
    //  Connections and the run
    PGconn *source;
    sb_db_t *db;
    char run_id [24];
    char timezone [64];                 //  the source session's TimeZone
    bool run_started;
    //  Progress
    s_business_t *businesses;
    size_t business_count;
    s_tally_t tally [S_TABLES];
    long handled;                       //  rows imported or rejected by this run
    bool stopped;                       //  --limit reached
    msgpack_sbuffer report;             //  the batch in hand's report lines
    PGresult *call_map;                 //  the batch in hand's imported calls
} s_import_t;

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_interrupted = 1;
}


//  --------------------------------------------------------------------------
//  Text helpers

//  Appends a formatted reason to notes, cutting (on a character boundary)
//  what does not fit.
static void s_note (s_notes_t *notes, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_note (s_notes_t *notes, const char *format, ...)
{
    char line [768];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    const char *sep = notes->len ? "; " : "";
    size_t room = sizeof notes->text - 1 - notes->len;
    size_t want = strlen (sep) + strlen (line);
    char joined [800];
    snprintf (joined, sizeof joined, "%s%s", sep, line);
    size_t take = want < room ? want : room;
    //  Never cut a UTF-8 sequence: back off over continuation bytes
    while (take > 0 && take < want && ((unsigned char) joined [take] >> 6) == 2)
        take--;
    memcpy (notes->text + notes->len, joined, take);
    notes->len += take;
    notes->text [notes->len] = 0;
}

//  Writes value quoted for a reason into buf: 'value', at most
//  S_QUOTE_CHARS characters (then "…"), control characters and invalid
//  UTF-8 as '?'. Returns buf.
static const char *
s_quote (const char *value, char *buf, size_t size)
{
    assert (size >= 8 + S_QUOTE_CHARS * 4);
    (void) size;                    //  only checked by the assert
    size_t n = 0, chars = 0;
    buf [n++] = '\'';
    const unsigned char *p = (const unsigned char *) value;
    size_t left = strlen (value);
    while (*p && chars < S_QUOTE_CHARS) {
        size_t len;
        bool valid = sb_utf8_char (p, left, &len);
        if (!valid || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
            buf [n++] = '?';
            p++;
            left--;
        }
        else {
            memcpy (buf + n, p, len);
            n += len;
            p += len;
            left -= len;
        }
        chars++;
    }
    if (*p) {
        memcpy (buf + n, "\xe2\x80\xa6", 3);
        n += 3;
    }
    buf [n++] = '\'';
    buf [n] = 0;
    return buf;
}

//  Counts the UTF-8 code points of s; -1 when it is not valid UTF-8 or
//  holds a control character (tabs and line ends allowed when text is true).
static long
s_chars (const char *s, bool text)
{
    return sb_utf8_chars (s, strlen (s), text);
}

static bool
s_blank (const char *s)
{
    if (!s)
        return true;
    while (*s && isspace ((unsigned char) *s))
        s++;
    return *s == 0;
}

//  Copies s without surrounding spaces, lower-cased (ASCII), into buf;
//  false when it does not fit.
static bool
s_lower_trim (const char *s, char *buf, size_t size)
{
    while (*s && isspace ((unsigned char) *s))
        s++;
    size_t len = strlen (s);
    while (len && isspace ((unsigned char) s [len - 1]))
        len--;
    if (len >= size)
        return false;
    for (size_t i = 0; i < len; i++)
        buf [i] = (char) tolower ((unsigned char) s [i]);
    buf [len] = 0;
    return true;
}

//  Looks raw up, ignoring case and surrounding spaces, in pairs of
//  {spelling, value}; NULL when it is not there.
static const char *
s_spelling (const char *raw, const char *const (*pairs) [2])
{
    char key [32];
    if (!raw || !s_lower_trim (raw, key, sizeof key))
        return NULL;
    for (size_t i = 0; pairs [i][0]; i++)
        if (streq (key, pairs [i][0]))
            return pairs [i][1];
    return NULL;
}

static const char *const s_call_statuses [][2] = {
    { "completed", "completed" }, { "complete", "completed" }, { "done", "completed" },
    { "missed", "missed" }, { "no-answer", "missed" }, { "no_answer", "missed" },
    { "voicemail", "voicemail" }, { "vm", "voicemail" },
    { "transferred", "transferred" },
    { NULL, NULL }
};

static const char *const s_order_statuses [][2] = {
    { "pending", "pending" }, { "confirmed", "confirmed" }, { "fulfilled", "fulfilled" },
    { "cancelled", "cancelled" }, { "canceled", "cancelled" },
    { NULL, NULL }
};


//  A call's legacy status → the API's, or NULL (see the file header).
const char *
tenant_import_call_status (const char *raw)
{
    return s_spelling (raw, s_call_statuses);
}

//  An order's legacy status → the API's, or NULL.
const char *
tenant_import_order_status (const char *raw)
{
    return s_spelling (raw, s_order_statuses);
}


//  --------------------------------------------------------------------------
//  Time zones. A name ending in '/' is a prefix. Not every zone of the two
//  countries: one missing only means that a business there must have its
//  numbers written with +1 and its orders' currency named.

static const char *const s_us_zones [] = {
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "America/Adak", "America/Boise",
    "America/Detroit", "America/Juneau", "America/Menominee", "America/Metlakatla",
    "America/Nome", "America/Sitka", "America/Yakutat", "Pacific/Honolulu",
    "America/Indiana/", "America/Kentucky/", "America/North_Dakota/", "US/", NULL
};

static const char *const s_canada_zones [] = {
    "America/St_Johns", "America/Halifax", "America/Glace_Bay", "America/Moncton",
    "America/Goose_Bay", "America/Toronto", "America/Montreal", "America/Winnipeg",
    "America/Regina", "America/Swift_Current", "America/Edmonton", "America/Vancouver",
    "America/Whitehorse", "America/Dawson", "America/Dawson_Creek", "America/Fort_Nelson",
    "America/Creston", "America/Iqaluit", "America/Rankin_Inlet", "America/Resolute",
    "America/Cambridge_Bay", "America/Inuvik", "America/Atikokan", "Canada/", NULL
};

static bool
s_zone_in (const char *zone, const char *const *list)
{
    for (size_t i = 0; zone && list [i]; i++) {
        size_t len = strlen (list [i]);
        if (list [i][len - 1] == '/' ? strncmp (zone, list [i], len) == 0 : streq (zone, list [i]))
            return true;
    }
    return false;
}

static bool
s_zone_us (const char *zone)
{
    return s_zone_in (zone, s_us_zones);
}

static bool
s_zone_nanp (const char *zone)
{
    return s_zone_in (zone, s_us_zones) || s_zone_in (zone, s_canada_zones);
}


//  --------------------------------------------------------------------------
//  Normalizers (pure; declared in tenant.h for tests/fuzz/import_normalize.c,
//  tenant_import_test checks them)

//  10 digits of a North American number: area code and exchange start
//  with 2-9.
static bool
s_nanp_digits (const char *ten)
{
    return ten [0] >= '2' && ten [3] >= '2';
}

//  Normalizes a phone number to E.164 into out. nanp: the number belongs
//  to a business in a North American time zone, so 10 digits may take +1.
//  Returns TENANT_PHONE_OK, TENANT_PHONE_MISSING (NULL or blank), or
//  TENANT_PHONE_BAD with *why set to a static phrase.
tenant_phone_result_t
tenant_import_phone (const char *raw, bool nanp, char out [17], const char **why)
{
    if (s_blank (raw))
        return TENANT_PHONE_MISSING;
    char digits [16];
    size_t n = 0;
    bool plus = false;
    for (const char *c = raw; *c; c++) {
        if (strchr (" \t-.()", *c))
            continue;
        if (*c == '+' && !plus && n == 0) {
            plus = true;
            continue;
        }
        if (!isdigit ((unsigned char) *c)) {
            *why = "is not a phone number";
            return TENANT_PHONE_BAD;
        }
        if (n == 15) {
            *why = "has too many digits";
            return TENANT_PHONE_BAD;
        }
        digits [n++] = *c;
    }
    digits [n] = 0;
    if (plus) {
        if (n > 0 && digits [0] == '1' && (n != 11 || !s_nanp_digits (digits + 1))) {
            *why = "is not a valid North American number";
            return TENANT_PHONE_BAD;
        }
        snprintf (out, 17, "+%s", digits);
        if (!tenant_e164 (out)) {
            *why = "is not a valid international number";
            return TENANT_PHONE_BAD;
        }
        return TENANT_PHONE_OK;
    }
    if (n == 10 || (n == 11 && digits [0] == '1')) {
        const char *ten = digits + n - 10;
        if (!nanp) {
            *why = "has no country code (+1 is only assumed for a business in a US or Canadian "
                   "time zone)";
            return TENANT_PHONE_BAD;
        }
        if (!s_nanp_digits (ten)) {
            *why = "is not a valid North American number";
            return TENANT_PHONE_BAD;
        }
        snprintf (out, 17, "+1%s", ten);
        return TENANT_PHONE_OK;
    }
    *why = n < 10 ? "has no country or area code" : "has no country code";
    return TENANT_PHONE_BAD;
}

//  An amount of money as decimal text ("12.50", "70.0", "3") → cents.
//  False for anything else: signs, exponents, a fraction of a cent, more
//  than 10^13 units.
bool
tenant_import_cents (const char *text, int64_t *cents)
{
    const char *p = text;
    int64_t units = 0, fraction = 0;
    int digits = 0, kept = 0;
    for (; isdigit ((unsigned char) *p); p++) {
        if (++digits > 13)
            return false;
        units = units * 10 + (*p - '0');
    }
    if (digits == 0)
        return false;
    if (*p == '.') {
        p++;
        if (!isdigit ((unsigned char) *p))
            return false;
        for (; isdigit ((unsigned char) *p); p++) {
            if (kept < 2) {
                fraction = fraction * 10 + (*p - '0');
                kept++;
            }
            else
            if (*p != '0')
                return false;
        }
    }
    if (*p)
        return false;
    for (; kept < 2; kept++)
        fraction *= 10;
    *cents = units * 100 + fraction;
    return true;
}

//  A JSON price in dollars → cents, when it is a whole number of cents
//  from 0 to S_MAX_PRICE. (jansson reads 12.99 as a double; a double this
//  small is within 10^-6 cent of the decimal it was read from.)
static bool
s_cents_of_json (const json_t *price, int64_t *cents)
{
    if (json_is_integer (price)) {
        json_int_t dollars = json_integer_value (price);
        if (dollars < 0 || dollars > S_MAX_PRICE / 100)
            return false;
        *cents = (int64_t) dollars * 100;
        return true;
    }
    double dollars = json_real_value (price);
    if (!json_is_real (price) || !(dollars >= 0 && dollars <= S_MAX_PRICE / 100.0))
        return false;
    double scaled = dollars * 100;
    long long rounded = (long long) (scaled + 0.5);     //  not negative: rounds
    double off = scaled - (double) rounded;
    if (off > 1e-6 || off < -1e-6)
        return false;
    *cents = rounded;
    return true;
}

static const char *const s_days [7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

//  A day name ("mon", any case) → 0..6, or -1.
static int
s_day (const char *s, size_t len)
{
    for (int d = 0; len == 3 && d < 7; d++)
        if (strncasecmp (s, s_days [d], 3) == 0)
            return d;
    return -1;
}

//  "daily", "mon" or "mon-fri" (wrapping: "fri-mon") → a mask of days, or 0.
static unsigned
s_day_spec (const char *key)
{
    if (strcasecmp (key, "daily") == 0)
        return 0x7f;
    const char *dash = strchr (key, '-');
    if (!dash) {
        int day = s_day (key, strlen (key));
        return day < 0 ? 0 : 1u << day;
    }
    int from = s_day (key, (size_t) (dash - key)), to = s_day (dash + 1, strlen (dash + 1));
    if (from < 0 || to < 0 || from == to)
        return 0;
    unsigned mask = 0;
    for (int d = from;; d = (d + 1) % 7) {
        mask |= 1u << d;
        if (d == to)
            break;
    }
    return mask;
}

//  "9:00" or "09:00" (len bytes) → minutes since midnight, or -1.
static int
s_clock (const char *s, size_t len)
{
    while (len && isspace ((unsigned char) *s)) {
        s++;
        len--;
    }
    while (len && isspace ((unsigned char) s [len - 1]))
        len--;
    if (len < 4 || len > 5 || s [len - 3] != ':')
        return -1;
    int hour = 0;
    for (size_t i = 0; i < len - 3; i++) {
        if (!isdigit ((unsigned char) s [i]))
            return -1;
        hour = hour * 10 + s [i] - '0';
    }
    if (!isdigit ((unsigned char) s [len - 2]) || !isdigit ((unsigned char) s [len - 1]))
        return -1;
    int minute = (s [len - 2] - '0') * 10 + s [len - 1] - '0';
    return hour < 24 && minute < 60 ? hour * 60 + minute : -1;
}

typedef struct {
    int open, close;
} s_interval_t;

//  "11:00-14:00, 17:00-22:00" or "closed" → at most 4 intervals, each
//  opening before it closes, no two sharing a minute. False for anything
//  else.
static bool
s_intervals (const char *text, s_interval_t *list, int *count)
{
    char word [16];
    *count = 0;
    if (s_lower_trim (text, word, sizeof word) && streq (word, "closed"))
        return true;
    const char *p = text;
    while (true) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        const char *dash = memchr (p, '-', len);
        if (!dash || *count == 4)
            return false;
        int open = s_clock (p, (size_t) (dash - p));
        int close = s_clock (dash + 1, len - (size_t) (dash - p) - 1);
        if (open < 0 || close < 0 || open >= close)
            return false;
        //  Two that share a minute would be refused by the API
        //  (tenant_hours_check): "09:00-12:00, 11:00-14:00" is no rule
        for (int i = 0; i < *count; i++)
            if (open < list [i].close && list [i].open < close)
                return false;
        list [*count].open = open;
        list [*count].close = close;
        (*count)++;
        if (!end)
            return true;
        p = end + 1;
    }
}

//  Appends the compact text of value to out and releases value.
static void
s_write_json (msgpack_sbuffer *out, json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    if (!text)
        abort ();                   //  only when out of memory
    msgpack_sbuffer_write (out, text, strlen (text));
    free (text);
    json_decref (value);
}

//  Legacy opening hours (see the file header) → the API's JSON, written
//  into out. False when the text is in no form this understands.
bool
tenant_import_hours (const char *text, msgpack_sbuffer *out)
{
    char why [128];
    json_t *root = sb_json_parse (text, strlen (text), why, sizeof why);
    if (!root)
        return false;
    s_interval_t week [7][4];
    int count [7] = { 0 };
    unsigned named = 0;
    bool ok = json_is_object (root) && json_object_size (root) > 0;
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value) {
        unsigned mask = ok ? s_day_spec (key) : 0;
        s_interval_t list [4];
        int n = 0;
        if (!mask || (mask & named) || !json_is_string (value)
            || !s_intervals (json_string_value (value), list, &n)) {
            ok = false;
            break;
        }
        for (int d = 0; d < 7; d++)
            if (mask & (1u << d)) {
                memcpy (week [d], list, sizeof list);
                count [d] = n;
            }
        named |= mask;
    }
    json_decref (root);
    if (!ok)
        return false;
    json_t *hours = json_object ();
    for (int d = 0; d < 7; d++) {
        if (!(named & (1u << d)))
            continue;
        json_t *intervals = json_array ();
        for (int i = 0; i < count [d]; i++) {
            char open [24], close [24];
            snprintf (open, sizeof open, "%02d:%02d", week [d][i].open / 60, week [d][i].open % 60);
            snprintf (close, sizeof close, "%02d:%02d", week [d][i].close / 60,
                      week [d][i].close % 60);
            json_array_append_new (intervals, json_pack ("{s:s, s:s}", "open", open, "close", close));
        }
        json_object_set_new (hours, s_days [d], intervals);
    }
    s_write_json (out, hours);
    return true;
}

typedef struct {
    const char *name;                   //  borrowed from the parsed text
    size_t name_len;
    int64_t quantity;
    int64_t cents;                      //  -1: no price given
} s_item_t;

//  Items given as a JSON array of objects.
static bool
s_items_json (const json_t *root, s_item_t *items, size_t *count, char *why, size_t why_size)
{
    if (!json_is_array (root) || json_array_size (root) == 0) {
        sb_why (why, why_size, "are not a non-empty list");
        return false;
    }
    if (json_array_size (root) > S_MAX_ITEMS) {
        sb_why (why, why_size, "are more than %d", S_MAX_ITEMS);
        return false;
    }
    for (size_t i = 0; i < json_array_size (root); i++) {
        const json_t *item = json_array_get (root, i);
        s_item_t *out = &items [i];
        out->name = NULL;
        out->quantity = out->cents = -1;
        if (!json_is_object (item)) {
            sb_why (why, why_size, "item %zu is not an object", i + 1);
            return false;
        }
        //  One quantity and one price: a second spelling is refused even
        //  when the first held a negative number (then -1 meant "given")
        bool quantity_given = false, price_given = false;
        const char *key;
        json_t *value;
        json_object_foreach ((json_t *) item, key, value) {
            bool ok = false;
            if (streq (key, "name"))
                ok = !out->name && json_is_string (value);
            if (ok) {
                out->name = json_string_value (value);
                out->name_len = json_string_length (value);
                continue;
            }
            if (streq (key, "qty") || streq (key, "quantity")) {
                ok = !quantity_given && json_is_integer (value);
                if (ok)
                    out->quantity = json_integer_value (value);
                quantity_given = true;
            }
            else
            if (streq (key, "price") || streq (key, "unit_price")) {
                ok = !price_given && s_cents_of_json (value, &out->cents);
                price_given = true;
            }
            else
            if (streq (key, "unit_price_cents")) {
                ok = !price_given && json_is_integer (value);
                if (ok)
                    out->cents = json_integer_value (value);
                price_given = true;
            }
            if (!ok) {
                char q [8 + S_QUOTE_CHARS * 4];
                sb_why (why, why_size, "item %zu has an unexpected or invalid field %s", i + 1,
                        s_quote (key, q, sizeof q));
                return false;
            }
        }
    }
    *count = json_array_size (root);
    return true;
}

//  Items given as text: "2x Pizza @ 12.50; 1x Soda @ 2.00" (or with commas).
//  copy is a writable copy of the text; names point into it.
static bool
s_items_text (char *copy, s_item_t *items, size_t *count, char *why, size_t why_size)
{
    const char *separator = strchr (copy, ';') ? ";" : ",";
    size_t n = 0;
    char *save = NULL;
    for (char *piece = strtok_r (copy, separator, &save); piece;
         piece = strtok_r (NULL, separator, &save)) {
        if (n == S_MAX_ITEMS) {
            sb_why (why, why_size, "are more than %d", S_MAX_ITEMS);
            return false;
        }
        s_item_t *item = &items [n++];
        char *p = piece;
        while (isspace ((unsigned char) *p))
            p++;
        char *end = NULL;
        long quantity = isdigit ((unsigned char) *p) ? strtol (p, &end, 10) : -1;
        if (end)
            for (p = end; isspace ((unsigned char) *p); p++)
                ;
        if (quantity < 0 || (*p != 'x' && *p != 'X') || !isspace ((unsigned char) p [1])) {
            char q [8 + S_QUOTE_CHARS * 4];
            sb_why (why, why_size, "item %zu %s is not \"<quantity>x <name> @ <price>\"", n,
                    s_quote (piece, q, sizeof q));
            return false;
        }
        char *name = p + 1, *at = strrchr (name, '@');
        item->quantity = quantity;
        item->cents = -1;
        if (at) {
            *at = 0;
            char *price = at + 1, *price_end = price + strlen (price);
            while (isspace ((unsigned char) *price))
                price++;
            while (price_end > price && isspace ((unsigned char) price_end [-1]))
                *--price_end = 0;
            if (!tenant_import_cents (price, &item->cents) || item->cents > S_MAX_PRICE) {
                char q [8 + S_QUOTE_CHARS * 4];
                sb_why (why, why_size, "item %zu has price %s, not an amount in whole cents", n,
                        s_quote (price, q, sizeof q));
                return false;
            }
        }
        while (isspace ((unsigned char) *name))
            name++;
        size_t len = strlen (name);
        while (len && isspace ((unsigned char) name [len - 1]))
            len--;
        item->name = name;
        item->name_len = len;
    }
    if (n == 0) {
        sb_why (why, why_size, "are an empty list");
        return false;
    }
    *count = n;
    return true;
}

//  Legacy items (see the file header) → the API's JSON, written into out,
//  and their sum in cents. False with the reason in why.
bool
tenant_import_items (const char *text, msgpack_sbuffer *out, int64_t *sum, char *why,
                     size_t why_size)
{
    s_item_t items [S_MAX_ITEMS];
    size_t count = 0;
    bool ok;
    json_t *root = NULL;
    char *copy = NULL;
    const char *start = text;
    while (isspace ((unsigned char) *start))
        start++;
    if (*start == '[') {
        char parse_why [160];
        root = sb_json_parse (text, strlen (text), parse_why, sizeof parse_why);
        ok = root != NULL;
        if (!ok)
            sb_why (why, why_size, "are not valid JSON (%s)", parse_why);
        else
            ok = s_items_json (root, items, &count, why, why_size);
    }
    else {
        copy = sb_strdup (text);
        ok = s_items_text (copy, items, &count, why, why_size);
    }
    *sum = 0;
    json_t *list = json_array ();
    for (size_t i = 0; ok && i < count; i++) {
        s_item_t *item = &items [i];
        char name [808];
        bool named = item->name && item->name_len < sizeof name;
        if (named) {
            memcpy (name, item->name, item->name_len);
            name [item->name_len] = 0;
        }
        long chars = named ? s_chars (name, false) : -1;
        if (chars < 1 || chars > 200) {
            sb_why (why, why_size, "item %zu has no name of 1-200 characters", i + 1);
            ok = false;
        }
        else
        if (item->quantity < 1 || item->quantity > S_MAX_QUANTITY) {
            sb_why (why, why_size, "item %zu has no quantity from 1 to %d", i + 1, S_MAX_QUANTITY);
            ok = false;
        }
        else
        if (item->cents < 0 || item->cents > S_MAX_PRICE) {
            char q [8 + S_QUOTE_CHARS * 4];
            sb_why (why, why_size, "give no unit price for %s", s_quote (name, q, sizeof q));
            ok = false;
        }
        else {
            //  At most 100 × 10^4 × 10^8 = 10^14: no overflow
            *sum += item->quantity * item->cents;
            json_array_append_new (list, json_pack ("{s:s%, s:I, s:I}", "name", name,
                                                    item->name_len, "quantity",
                                                    (json_int_t) item->quantity,
                                                    "unit_price_cents", (json_int_t) item->cents));
        }
    }
    if (ok)
        s_write_json (out, list);
    else
        json_decref (list);
    if (root)
        json_decref (root);
    free (copy);
    return ok;
}


//  --------------------------------------------------------------------------
//  The legacy database

static PGresult *
s_source_query (s_import_t *self, const char *sql, int nparams, const char *const *params)
{
    PGresult *result = PQexecParams (self->source, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus (result);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
        return result;
    const char *message = PQresultErrorMessage (result);
    if (!message || !*message)
        message = PQerrorMessage (self->source);
    char why [256];
    snprintf (why, sizeof why, "%s", message);
    why [strcspn (why, "\n")] = 0;
    fprintf (stderr, S_NAME ": cannot read the legacy database: %s\n", why);
    PQclear (result);
    return NULL;
}

//  Connects to the legacy database, opens the snapshot every batch reads,
//  and learns its time zone, its sizes and its fingerprint.
static int
s_source_open (s_import_t *self, char *fingerprint, size_t size)
{
    //  connect_timeout before dbname so that the URL may override it; the
    //  encoding after, so that we always read UTF-8
    const char *keywords [] = { "connect_timeout", "dbname", "client_encoding",
                                "fallback_application_name", NULL };
    const char *values [] = { "10", self->source_url, "UTF8", S_NAME, NULL };
    self->source = PQconnectdbParams (keywords, values, 1);
    if (PQstatus (self->source) != CONNECTION_OK) {
        char why [256];
        snprintf (why, sizeof why, "%s", PQerrorMessage (self->source));
        why [strcspn (why, "\n")] = 0;
        fprintf (stderr, S_NAME ": cannot connect to the legacy database: %s\n", why);
        return -1;
    }
    PGresult *result = s_source_query (self, "SET datestyle = 'ISO, YMD'", 0, NULL);
    if (!result)
        return -1;
    PQclear (result);
    result = s_source_query (self, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (!result)
        return -1;
    PQclear (result);
    result = s_source_query (self,
                             "SELECT current_setting ('TimeZone'),"
                             " (SELECT count (*) FROM businesses), (SELECT count (*) FROM calls),"
                             " (SELECT count (*) FROM orders)",
                             0, NULL);
    if (!result)
        return -1;
    snprintf (self->timezone, sizeof self->timezone, "%s", PQgetvalue (result, 0, 0));
    for (int table = 0; table < S_TABLES; table++)
        self->tally [table].total = atol (PQgetvalue (result, 0, 1 + table));
    PQclear (result);
    result = s_source_query (self,
                             "SELECT id::text, coalesce (created_at::text, 'at an unknown time')"
                             " FROM businesses ORDER BY id LIMIT 1",
                             0, NULL);
    if (!result)
        return -1;
    if (PQntuples (result) == 1)
        snprintf (fingerprint, size, "first business %s created %s", PQgetvalue (result, 0, 0),
                  PQgetvalue (result, 0, 1));
    else
        snprintf (fingerprint, size, "no businesses");
    PQclear (result);
    return 0;
}

//  The batches. $1: the last id of the previous batch, $2: the batch size.
//  Column 0 is the legacy id, the last column the legacy row as JSON.
static const char *const s_select [S_TABLES] = {
    "SELECT id, name, phone, timezone, greeting, opening_hours, created_at::timestamptz::text,"
    " row_to_json (b)::text FROM businesses b WHERE id > $1::bigint ORDER BY id LIMIT $2::int",

    "SELECT id, business_id, caller, started::timestamptz::text,"
    " started::timestamptz > now () + interval '5 minutes', duration, status, transcript, summary,"
    " row_to_json (c)::text FROM calls c WHERE id > $1::bigint ORDER BY id LIMIT $2::int",

    "SELECT o.id, o.business_id, o.call_id, c.business_id, o.customer_name, o.customer_phone,"
    " o.items, o.total::text, o.status, o.created_at::timestamptz::text, row_to_json (o)::text"
    " FROM orders o LEFT JOIN calls c ON c.id = o.call_id"
    " WHERE o.id > $1::bigint ORDER BY o.id LIMIT $2::int"
};


//  --------------------------------------------------------------------------
//  The tenant database. In a dry run everything happens in one transaction
//  that is rolled back at the end, so begin and commit are per batch only
//  for real.

static int
s_begin (s_import_t *self)
{
    if (sb_db_in_transaction (self->db))
        return 0;
    if (sb_db_begin (self->db))
        return -1;
    return sb_db_set_org (self->db, self->org);
}

static int
s_commit (s_import_t *self)
{
    return self->dry_run ? 0 : sb_db_commit (self->db);
}

static char *
s_counts_json (s_import_t *self)
{
    json_t *counts = json_object ();
    for (int table = 0; table < S_TABLES; table++) {
        const s_tally_t *t = &self->tally [table];
        json_object_set_new (counts, s_tables [table],
                             json_pack ("{s:I, s:I, s:I, s:I}", "imported",
                                        (json_int_t) t->imported, "skipped",
                                        (json_int_t) t->skipped, "rejected",
                                        (json_int_t) t->rejected, "warnings",
                                        (json_int_t) t->warned));
    }
    char *json = json_dumps (counts, JSON_COMPACT);
    json_decref (counts);
    if (!json)
        abort ();                   //  only when out of memory
    return json;
}

static int
s_save_counts (s_import_t *self, const char *status)
{
    char *counts = s_counts_json (self);
    const char *params [] = { self->org, self->run_id, counts, status };
    int rc = sb_db_run (self->db,
                        "UPDATE legacy_import_runs SET counts = $3::jsonb,"
                        " status = coalesce ($4, status),"
                        " finished_at = CASE WHEN $4 IS NULL THEN NULL ELSE clock_timestamp () END"
                        " WHERE organization_id = $1 AND id = $2::bigint",
                        4, params);
    free (counts);
    return rc;
}

//  Records the run, after refusing an organization that holds rows from
//  another legacy database.
static int
s_run_start (s_import_t *self, const char *fingerprint)
{
    if (s_begin (self))
        return -1;
    //  We hold the organization's import lock: a run still "running" died.
    const char *org [] = { self->org };
    if (sb_db_run (self->db,
                   "UPDATE legacy_import_runs SET status = 'interrupted',"
                   " finished_at = clock_timestamp ()"
                   " WHERE organization_id = $1 AND status = 'running'",
                   1, org))
        goto failed;
    const char *params [] = { self->org, fingerprint, self->timezone };
    PGresult *other = sb_db_exec (self->db,
                                  "SELECT r.source_fingerprint FROM legacy_import_runs r"
                                  " WHERE r.organization_id = $1 AND r.source_fingerprint <> $2"
                                  " AND EXISTS (SELECT 1 FROM legacy_id_map m"
                                  "   WHERE m.organization_id = r.organization_id"
                                  "   AND m.run_id = r.id) LIMIT 1",
                                  2, params);
    if (!other)
        goto failed;
    if (PQntuples (other)) {
        fprintf (stderr,
                 S_NAME ": organization %s already holds rows imported from another legacy "
                        "database (%s; this one: %s); refusing to mix them\n",
                 self->org, PQgetvalue (other, 0, 0), fingerprint);
        PQclear (other);
        goto failed;
    }
    PQclear (other);
    PGresult *run = sb_db_exec (self->db,
                                "INSERT INTO legacy_import_runs (organization_id,"
                                " source_fingerprint, source_timezone) VALUES ($1, $2, $3)"
                                " RETURNING id",
                                3, params);
    if (!run)
        goto failed;
    snprintf (self->run_id, sizeof self->run_id, "%s", PQgetvalue (run, 0, 0));
    PQclear (run);
    if (s_commit (self))
        goto failed;
    self->run_started = true;
    return 0;
failed:
    sb_db_rollback (self->db);
    return -1;
}

//  The businesses imported so far (by any run), with what their calls and
//  orders need: new id, North American or not, currency.
static int
s_load_businesses (s_import_t *self)
{
    if (s_begin (self))
        return -1;
    const char *params [] = { self->org };
    PGresult *result = sb_db_exec (self->db,
                                   "SELECT m.legacy_id, b.id, b.phone_number, b.timezone"
                                   " FROM legacy_id_map m LEFT JOIN businesses b"
                                   "   ON b.organization_id = m.organization_id AND b.id = m.new_id"
                                   " WHERE m.organization_id = $1 AND m.legacy_table = 'businesses'"
                                   " ORDER BY m.legacy_id",
                                   1, params);
    if (!result || s_commit (self)) {
        PQclear (result);
        sb_db_rollback (self->db);
        return -1;
    }
    free (self->businesses);
    self->business_count = (size_t) PQntuples (result);
    self->businesses = sb_calloc (self->business_count + 1, sizeof (s_business_t));
    for (size_t i = 0; i < self->business_count; i++) {
        s_business_t *business = &self->businesses [i];
        int row = (int) i;
        business->legacy_id = strtoll (PQgetvalue (result, row, 0), NULL, 10);
        if (PQgetisnull (result, row, 1))
            continue;                   //  deleted since it was imported
        snprintf (business->id, sizeof business->id, "%s", PQgetvalue (result, row, 1));
        snprintf (business->timezone, sizeof business->timezone, "%s",
                  PQgetvalue (result, row, 3));
        business->nanp = s_zone_nanp (business->timezone);
        if (strncmp (PQgetvalue (result, row, 2), "+1", 2) == 0 && s_zone_us (business->timezone))
            strcpy (business->currency, "USD");
        for (size_t c = 0; c < self->currency_count; c++)
            if (self->currencies [c].legacy_id == business->legacy_id)
                strcpy (business->currency, self->currencies [c].code);
    }
    PQclear (result);
    return 0;
}

//  The imported business a call or order names, or NULL with the reason
//  noted.
static const s_business_t *
s_business_of (s_import_t *self, const char *legacy_id, s_notes_t *rejects)
{
    if (!legacy_id) {
        s_note (rejects, "has no business");
        return NULL;
    }
    int64_t wanted = strtoll (legacy_id, NULL, 10);
    size_t low = 0, high = self->business_count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (self->businesses [mid].legacy_id < wanted)
            low = mid + 1;
        else
            high = mid;
    }
    if (low == self->business_count || self->businesses [low].legacy_id != wanted) {
        s_note (rejects, "business %s was not imported", legacy_id);
        return NULL;
    }
    if (!self->businesses [low].id [0]) {
        s_note (rejects, "business %s was imported but has been deleted since", legacy_id);
        return NULL;
    }
    return &self->businesses [low];
}

//  The imported calls among the calls that a batch of orders names.
static int
s_load_call_map (s_import_t *self, const PGresult *rows)
{
    msgpack_sbuffer ids;
    msgpack_sbuffer_init (&ids);
    msgpack_sbuffer_write (&ids, "{", 1);
    for (int row = 0; row < PQntuples (rows); row++) {
        if (PQgetisnull (rows, row, 2))
            continue;
        if (ids.size > 1)
            msgpack_sbuffer_write (&ids, ",", 1);
        const char *id = PQgetvalue (rows, row, 2);
        msgpack_sbuffer_write (&ids, id, strlen (id));
    }
    msgpack_sbuffer_write (&ids, "}", 2);      //  with the NUL
    const char *params [] = { self->org, ids.data };
    self->call_map = sb_db_exec (self->db,
                                 "SELECT m.legacy_id, m.new_id FROM legacy_id_map m"
                                 " JOIN calls c ON c.organization_id = m.organization_id"
                                 "   AND c.id = m.new_id"
                                 " WHERE m.organization_id = $1 AND m.legacy_table = 'calls'"
                                 " AND m.legacy_id = ANY ($2::bigint [])"
                                 " ORDER BY m.legacy_id",
                                 2, params);
    msgpack_sbuffer_destroy (&ids);
    return self->call_map ? 0 : -1;
}

//  The new id of an imported legacy call, or NULL.
static const char *
s_call_of (s_import_t *self, const char *legacy_id)
{
    int64_t wanted = strtoll (legacy_id, NULL, 10);
    int low = 0, high = PQntuples (self->call_map);
    while (low < high) {
        int mid = (low + high) / 2;
        int64_t id = strtoll (PQgetvalue (self->call_map, mid, 0), NULL, 10);
        if (id == wanted)
            return PQgetvalue (self->call_map, mid, 1);
        if (id < wanted)
            low = mid + 1;
        else
            high = mid;
    }
    return NULL;
}

//  Inserts one row (and its mapping) behind a savepoint: a value the
//  database refuses although we checked it (a constraint added since)
//  rejects that row, not the batch. 0, 1 when refused (noted), -1 on failure.
static int
s_insert (s_import_t *self, const char *sql, int nparams, const char *const *params,
          s_notes_t *rejects)
{
    if (sb_db_run (self->db, "SAVEPOINT legacy_row", 0, NULL))
        return -1;
    if (sb_db_run (self->db, sql, nparams, params) == 0)
        return sb_db_run (self->db, "RELEASE SAVEPOINT legacy_row", 0, NULL);
    const char *state = sb_db_sqlstate (self->db);
    if (strncmp (state, "22", 2) && strncmp (state, "23", 2))
        return -1;
    char why [256];
    snprintf (why, sizeof why, "%s", PQerrorMessage (sb_db_conn (self->db)));
    why [strcspn (why, "\n")] = 0;
    s_note (rejects, "the database refused it [%s]: %s", state, why);
    return sb_db_run (self->db, "ROLLBACK TO SAVEPOINT legacy_row", 0, NULL) ? -1 : 1;
}

//  Counts a row's outcome, stores its report row and queues its report
//  line. A rejected row's warnings are not reported.
static int
s_outcome (s_import_t *self, int table, const char *legacy_id, const char *row_json,
           const s_notes_t *rejects, const s_notes_t *warnings)
{
    s_tally_t *tally = &self->tally [table];
    bool rejected = rejects->len > 0;
    const s_notes_t *notes = rejected ? rejects : warnings;
    if (rejected)
        tally->rejected++;
    else
        tally->imported++;
    if (!notes->len)
        return 0;
    if (!rejected)
        tally->warned++;
    const char *params [] = { self->org, self->run_id, s_tables [table], legacy_id,
                              rejected ? "reject" : "warning", notes->text, row_json };
    if (sb_db_run (self->db,
                   "INSERT INTO legacy_import_rejects (organization_id, run_id, legacy_table,"
                   " legacy_id, kind, reason, row)"
                   " VALUES ($1, $2::bigint, $3, $4::bigint, $5, $6, $7::jsonb)",
                   7, params))
        return -1;
    const char *tag = rejected ? "REJECT " : "WARN ";
    msgpack_sbuffer_write (&self->report, tag, strlen (tag));
    msgpack_sbuffer_write (&self->report, s_tables [table], strlen (s_tables [table]));
    msgpack_sbuffer_write (&self->report, " ", 1);
    msgpack_sbuffer_write (&self->report, legacy_id, strlen (legacy_id));
    msgpack_sbuffer_write (&self->report, ": ", 2);
    msgpack_sbuffer_write (&self->report, notes->text, notes->len);
    msgpack_sbuffer_write (&self->report, "\n", 1);
    return 0;
}

static const char *
s_value (const PGresult *rows, int row, int column)
{
    return PQgetisnull (rows, row, column) ? NULL : PQgetvalue (rows, row, column);
}

#define S_QUOTED(value) s_quote ((value), q, sizeof q)


//  --------------------------------------------------------------------------
//  One legacy row each: normalize, then insert or reject. 0 or -1.

static int
s_business (s_import_t *self, const PGresult *rows, int row)
{
    const char *legacy_id = PQgetvalue (rows, row, 0);
    const char *name = s_value (rows, row, 1), *phone = s_value (rows, row, 2);
    const char *zone = s_value (rows, row, 3), *greeting = s_value (rows, row, 4);
    const char *hours_text = s_value (rows, row, 5), *created = s_value (rows, row, 6);
    s_notes_t rejects = { .len = 0 }, warnings = { .len = 0 };
    char q [8 + S_QUOTE_CHARS * 4];

    long chars = name ? s_chars (name, false) : 0;
    if (s_blank (name))
        s_note (&rejects, "name is missing");
    else
    if (chars < 0)
        s_note (&rejects, "name %s holds control characters", S_QUOTED (name));
    else
    if (chars > 200)
        s_note (&rejects, "name is longer than 200 characters");

    bool zone_known = false;
    if (s_blank (zone))
        s_note (&rejects, "timezone is missing");
    else {
        if (tenant_timezone_known (self->db, zone, &zone_known))
            return -1;
        if (!zone_known)
            s_note (&rejects, "timezone %s is not a time zone name PostgreSQL knows",
                    S_QUOTED (zone));
    }
    char e164 [17];
    const char *why = "";
    tenant_phone_result_t phoned
        = tenant_import_phone (phone, zone_known && s_zone_nanp (zone), e164, &why);
    if (phoned == TENANT_PHONE_MISSING)
        s_note (&rejects, "phone number is missing");
    else
    if (phoned == TENANT_PHONE_BAD)
        s_note (&rejects, "phone number %s %s", S_QUOTED (phone), why);
    if (greeting) {
        chars = s_chars (greeting, true);
        if (chars < 0)
            s_note (&rejects, "greeting holds control characters");
        else
        if (chars > 2000)
            s_note (&rejects, "greeting is longer than 2000 characters");
    }
    msgpack_sbuffer hours;
    msgpack_sbuffer_init (&hours);
    if (!s_blank (hours_text)) {
        if (tenant_import_hours (hours_text, &hours))
            msgpack_sbuffer_write (&hours, "", 1);
        else
            s_note (&warnings, "opening hours %s are in no form the import understands; "
                               "hours left empty", S_QUOTED (hours_text));
    }
    if (!created)
        s_note (&warnings, "created_at is missing; the import's time is used");

    int rc = 0;
    if (!rejects.len) {
        char id [37];
        sb_uuid_v4 (id);
        const char *params [] = { self->org, id, name, e164, zone, greeting,
                                  hours.size ? hours.data : NULL, created, legacy_id,
                                  self->run_id };
        rc = s_insert (self,
                       "WITH b AS (INSERT INTO businesses (organization_id, id, name, phone_number,"
                       "   timezone, greeting, hours, created_at, updated_at)"
                       "  VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb,"
                       "   coalesce ($8::timestamptz, clock_timestamp ()),"
                       "   coalesce ($8::timestamptz, clock_timestamp ()))"
                       "  RETURNING organization_id, id)"
                       " INSERT INTO legacy_id_map (organization_id, legacy_table, legacy_id,"
                       "  new_id, run_id)"
                       " SELECT organization_id, 'businesses', $9::bigint, id, $10::bigint FROM b",
                       10, params, &rejects);
    }
    msgpack_sbuffer_destroy (&hours);
    if (rc < 0)
        return -1;
    return s_outcome (self, S_BUSINESSES, legacy_id, s_value (rows, row, 7), &rejects, &warnings);
}

static int
s_call (s_import_t *self, const PGresult *rows, int row)
{
    const char *legacy_id = PQgetvalue (rows, row, 0);
    const char *caller = s_value (rows, row, 2), *started = s_value (rows, row, 3);
    const char *future = s_value (rows, row, 4), *duration = s_value (rows, row, 5);
    const char *status_text = s_value (rows, row, 6), *transcript = s_value (rows, row, 7);
    const char *summary = s_value (rows, row, 8);
    s_notes_t rejects = { .len = 0 }, warnings = { .len = 0 };
    char q [8 + S_QUOTE_CHARS * 4];

    const s_business_t *business = s_business_of (self, s_value (rows, row, 1), &rejects);
    char e164 [17];
    const char *why = "";
    char word [16];
    if (caller && s_lower_trim (caller, word, sizeof word) && streq (word, "anonymous"))
        strcpy (e164, "anonymous");
    else {
        tenant_phone_result_t phoned
            = tenant_import_phone (caller, business && business->nanp, e164, &why);
        if (phoned == TENANT_PHONE_MISSING)
            s_note (&rejects, "caller number is missing");
        else
        if (phoned == TENANT_PHONE_BAD)
            s_note (&rejects, "caller number %s %s", S_QUOTED (caller), why);
    }
    if (!started)
        s_note (&rejects, "start time is missing");
    else
    if (future && streq (future, "t"))
        s_note (&rejects, "start time %s is in the future", started);
    char *end = NULL;
    long seconds = duration ? strtol (duration, &end, 10) : -1;
    if (!duration)
        s_note (&rejects, "duration is missing");
    else
    if (*end || seconds < 0 || seconds > 86400)
        s_note (&rejects, "duration %s is not 0-86400 seconds", duration);
    const char *status = tenant_import_call_status (status_text);
    if (s_blank (status_text))
        s_note (&rejects, "status is missing");
    else
    if (!status)
        s_note (&rejects,
                "status %s has no equivalent (completed, missed, voicemail, transferred)",
                S_QUOTED (status_text));
    long chars = transcript ? s_chars (transcript, true) : 0;
    if (chars < 0 || chars > 100000)
        s_note (&rejects, "transcript %s",
                chars < 0 ? "holds control characters" : "is longer than 100000 characters");
    chars = summary ? s_chars (summary, true) : 0;
    if (chars < 0 || chars > 5000)
        s_note (&rejects, "summary %s",
                chars < 0 ? "holds control characters" : "is longer than 5000 characters");

    if (!rejects.len) {
        char id [37];
        sb_uuid_v4 (id);
        const char *params [] = { self->org, id, business->id, e164, started, duration, status,
                                  transcript, summary, legacy_id, self->run_id };
        //  No usage_outbox rows: see the file header
        if (s_insert (self,
                      "WITH c AS (INSERT INTO calls (organization_id, id, business_id,"
                      "   caller_number, started_at, duration_seconds, status, transcript, summary)"
                      "  VALUES ($1, $2, $3, $4, $5::timestamptz, $6::integer, $7, $8, $9)"
                      "  RETURNING organization_id, id)"
                      " INSERT INTO legacy_id_map (organization_id, legacy_table, legacy_id,"
                      "  new_id, run_id)"
                      " SELECT organization_id, 'calls', $10::bigint, id, $11::bigint FROM c",
                      11, params, &rejects) < 0)
            return -1;
    }
    return s_outcome (self, S_CALLS, legacy_id, s_value (rows, row, 9), &rejects, &warnings);
}

static int
s_order (s_import_t *self, const PGresult *rows, int row)
{
    const char *legacy_id = PQgetvalue (rows, row, 0);
    const char *business_legacy = s_value (rows, row, 1), *call_legacy = s_value (rows, row, 2);
    const char *call_business = s_value (rows, row, 3), *customer = s_value (rows, row, 4);
    const char *phone = s_value (rows, row, 5), *items_text = s_value (rows, row, 6);
    const char *total_text = s_value (rows, row, 7), *status_text = s_value (rows, row, 8);
    const char *created = s_value (rows, row, 9);
    s_notes_t rejects = { .len = 0 }, warnings = { .len = 0 };
    char q [8 + S_QUOTE_CHARS * 4];

    const s_business_t *business = s_business_of (self, business_legacy, &rejects);
    if (business && !business->currency [0])
        s_note (&rejects,
                "no currency: the legacy database records none and business %s (%s) is not in "
                "the United States; name it with --currency %s=<ISO 4217 code>",
                business_legacy, business->timezone, business_legacy);
    long chars = customer ? s_chars (customer, false) : 0;
    if (s_blank (customer))
        s_note (&rejects, "customer name is missing");
    else
    if (chars < 0)
        s_note (&rejects, "customer name %s holds control characters", S_QUOTED (customer));
    else
    if (chars > 200)
        s_note (&rejects, "customer name is longer than 200 characters");
    char e164 [17];
    const char *why = "";
    tenant_phone_result_t phoned
        = tenant_import_phone (phone, business && business->nanp, e164, &why);
    if (phoned == TENANT_PHONE_BAD)
        s_note (&warnings, "customer phone %s %s; left empty", S_QUOTED (phone), why);

    msgpack_sbuffer items;
    msgpack_sbuffer_init (&items);
    int64_t sum = 0, total = 0;
    bool items_ok = false;
    if (s_blank (items_text))
        s_note (&rejects, "items are missing");
    else {
        char items_why [400];
        items_ok = tenant_import_items (items_text, &items, &sum, items_why, sizeof items_why);
        if (items_ok)
            msgpack_sbuffer_write (&items, "", 1);
        else
            s_note (&rejects, "items %s %s", S_QUOTED (items_text), items_why);
    }
    if (!total_text)
        s_note (&rejects, "total is missing");
    else
    if (!tenant_import_cents (total_text, &total))
        s_note (&rejects, "total %s is not an amount in whole cents", S_QUOTED (total_text));
    else
    if (items_ok && total != sum)
        s_note (&rejects, "total %lld.%02lld disagrees with the items, which add up to %lld.%02lld",
                (long long) (total / 100), (long long) (total % 100), (long long) (sum / 100),
                (long long) (sum % 100));
    const char *status = tenant_import_order_status (status_text);
    if (s_blank (status_text))
        s_note (&rejects, "status is missing");
    else
    if (!status)
        s_note (&rejects,
                "status %s has no equivalent (pending, confirmed, fulfilled, cancelled)",
                S_QUOTED (status_text));
    const char *call = NULL;
    if (call_legacy) {
        call = s_call_of (self, call_legacy);
        if (!call)
            s_note (&warnings, "call %s was not imported; call_id left empty", call_legacy);
        else
        if (!call_business || !business_legacy || !streq (call_business, business_legacy)) {
            s_note (&warnings, "call %s belongs to business %s, not %s; call_id left empty",
                    call_legacy, call_business ? call_business : "none",
                    business_legacy ? business_legacy : "none");
            call = NULL;
        }
    }
    if (!created)
        s_note (&warnings, "created_at is missing; the import's time is used");

    int rc = 0;
    if (!rejects.len) {
        char id [37], cents [24];
        sb_uuid_v4 (id);
        snprintf (cents, sizeof cents, "%lld", (long long) total);
        const char *params [] = { self->org, id, business->id, call, customer,
                                  phoned == TENANT_PHONE_OK ? e164 : NULL, items.data, cents,
                                  business->currency, status, created, legacy_id, self->run_id };
        rc = s_insert (self,
                       "WITH o AS (INSERT INTO orders (organization_id, id, business_id, call_id,"
                       "   customer_name, customer_phone, items, total_cents, currency, status,"
                       "   created_at, updated_at)"
                       "  VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::bigint, $9, $10,"
                       "   coalesce ($11::timestamptz, clock_timestamp ()),"
                       "   coalesce ($11::timestamptz, clock_timestamp ()))"
                       "  RETURNING organization_id, id)"
                       " INSERT INTO legacy_id_map (organization_id, legacy_table, legacy_id,"
                       "  new_id, run_id)"
                       " SELECT organization_id, 'orders', $12::bigint, id, $13::bigint FROM o",
                       13, params, &rejects);
    }
    msgpack_sbuffer_destroy (&items);
    if (rc < 0)
        return -1;
    return s_outcome (self, S_ORDERS, legacy_id, s_value (rows, row, 10), &rejects, &warnings);
}


//  --------------------------------------------------------------------------
//  Batches and tables

//  One batch of legacy rows in one transaction. *after: the last legacy id
//  dealt with. 0 or -1 (then the batch left no trace, tallies included).
static int
s_batch (s_import_t *self, int table, const PGresult *rows, int64_t *after)
{
    s_tally_t saved [S_TABLES];
    memcpy (saved, self->tally, sizeof saved);
    long handled = self->handled;
    s_tally_t *tally = &self->tally [table];
    int n = PQntuples (rows);
    if (s_begin (self))
        goto failed;
    //  Which of these rows earlier runs imported
    const char *params [] = { self->org, s_tables [table], PQgetvalue (rows, 0, 0),
                              PQgetvalue (rows, n - 1, 0) };
    PGresult *mapped = sb_db_exec (self->db,
                                   "SELECT legacy_id FROM legacy_id_map"
                                   " WHERE organization_id = $1 AND legacy_table = $2"
                                   " AND legacy_id BETWEEN $3::bigint AND $4::bigint"
                                   " ORDER BY legacy_id",
                                   4, params);
    if (!mapped)
        goto failed;
    if (table == S_ORDERS && s_load_call_map (self, rows)) {
        PQclear (mapped);
        goto failed;
    }
    int rc = 0, m = 0, mapped_count = PQntuples (mapped);
    for (int row = 0; row < n && rc == 0; row++) {
        int64_t id = strtoll (PQgetvalue (rows, row, 0), NULL, 10);
        while (m < mapped_count && strtoll (PQgetvalue (mapped, m, 0), NULL, 10) < id)
            m++;
        if (m < mapped_count && strtoll (PQgetvalue (mapped, m, 0), NULL, 10) == id) {
            tally->seen++;
            tally->skipped++;
            *after = id;
            continue;
        }
        if (self->limit && self->handled >= self->limit) {
            self->stopped = true;
            break;
        }
        tally->seen++;
        rc = table == S_BUSINESSES ? s_business (self, rows, row)
           : table == S_CALLS      ? s_call (self, rows, row)
                                   : s_order (self, rows, row);
        self->handled++;
        *after = id;
    }
    PQclear (mapped);
    PQclear (self->call_map);
    self->call_map = NULL;
    if (rc || s_save_counts (self, NULL) || s_commit (self))
        goto failed;
    if (self->report.size)
        fwrite (self->report.data, 1, self->report.size, stdout);
    fflush (stdout);
    self->report.size = 0;
    return 0;
failed:
    sb_db_rollback (self->db);
    memcpy (self->tally, saved, sizeof saved);
    self->handled = handled;
    self->report.size = 0;
    return -1;
}

static int
s_table (s_import_t *self, int table)
{
    s_tally_t *tally = &self->tally [table];
    int64_t after = INT64_MIN;
    char batch [24];
    //  The batch size is ours, but it travels as a parameter like any value
    snprintf (batch, sizeof batch, "%ld", self->batch);
    while (!self->stopped && !s_interrupted) {
        char last [24];
        snprintf (last, sizeof last, "%lld", (long long) after);
        const char *params [] = { last, batch };
        PGresult *rows = s_source_query (self, s_select [table], 2, params);
        if (!rows)
            return -1;
        int n = PQntuples (rows);
        int rc = n ? s_batch (self, table, rows, &after) : 0;
        PQclear (rows);
        if (rc)
            return -1;
        if (n)
            fprintf (stderr, "%s: %ld/%ld\n", s_tables [table], tally->seen, tally->total);
        if (n < self->batch)
            break;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  The command

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: tenant-svc import-legacy --source URL --organization UUID [--currency ID=CODE]...\n"
        "                                [--dry-run] [--batch-size N] [--limit N]\n"
        "\n"
        "Moves a database of the single-tenant product (tables businesses, calls,\n"
        "orders) into one organization, normalizing what can be and reporting, row\n"
        "by row, what cannot (REJECT, not imported) or was imported with something\n"
        "left out (WARN). Safe to run again: rows imported earlier are skipped, so\n"
        "an interrupted import resumes where it stopped. The tenant database is\n"
        "SWITCHBOARD_TENANT_DATABASE_URL (or SWITCHBOARD_DATABASE_URL).\n"
        "\n"
        "  --source URL         the legacy PostgreSQL database (only read)\n"
        "  --organization UUID  the organization receiving the rows; it is not checked\n"
        "                       against auth-svc: make sure it exists\n"
        "  --currency ID=CODE   the ISO 4217 currency of legacy business ID's orders,\n"
        "                       needed for a business outside the United States\n"
        "                       (repeatable)\n"
        "  --dry-run            do everything in a transaction that is rolled back\n"
        "  --batch-size N       rows per transaction, 1-%d (default %d)\n"
        "  --limit N            stop after N rows imported or rejected (run again to go on)\n"
        "\n"
        "Prints progress on stderr; the report and a summary (imported, skipped as\n"
        "imported earlier, rejected, per table) on stdout. Exit status: 0 when the\n"
        "import ran to its end or to --limit, 1 on a failure, 2 on bad usage.\n",
        S_BATCH_MAX, S_BATCH_DEFAULT);
}

static int s_bad_usage (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  Says what is wrong with the command line; returns exit status 2.
static int
s_bad_usage (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, S_NAME ": ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n(try tenant-svc import-legacy --help)\n");
    va_end (args);
    return 2;
}

//  A decimal number from min to max, or -1.
static long
s_number (const char *text, long min, long max)
{
    char *end = NULL;
    errno = 0;
    long value = isdigit ((unsigned char) text [0]) ? strtol (text, &end, 10) : -1;
    return end && !*end && !errno && value >= min && value <= max ? value : -1;
}

//  Reads the options: -1 to go on, else the exit status (0 after --help).
static int
s_parse (s_import_t *self, int argc, char **argv)
{
    const char *org = NULL;
    for (int i = 1; i < argc; i++) {
        const char *option = argv [i];
        if (streq (option, "--help") || streq (option, "-h")) {
            s_usage (stdout);
            return 0;
        }
        if (streq (option, "--dry-run")) {
            self->dry_run = true;
            continue;
        }
        bool takes_value = streq (option, "--source") || streq (option, "--organization")
                           || streq (option, "--currency") || streq (option, "--batch-size")
                           || streq (option, "--limit");
        if (!takes_value)
            return s_bad_usage ("unknown argument '%s'", option);
        if (i + 1 == argc)
            return s_bad_usage ("%s needs a value", option);
        const char *value = argv [++i];
        if (streq (option, "--source")) {
            if (self->source_url)
                return s_bad_usage ("%s given twice", option);
            self->source_url = value;
        }
        else
        if (streq (option, "--organization")) {
            if (org)
                return s_bad_usage ("%s given twice", option);
            if (!sb_is_uuid (value))
                return s_bad_usage ("the organization '%s' is not a UUID", value);
            org = value;
        }
        else
        if (streq (option, "--batch-size")) {
            self->batch = s_number (value, 1, S_BATCH_MAX);
            if (self->batch < 0)
                return s_bad_usage ("--batch-size '%s' is not a number from 1 to 10000", value);
        }
        else
        if (streq (option, "--limit")) {
            self->limit = s_number (value, 1, LONG_MAX);
            if (self->limit < 0)
                return s_bad_usage ("--limit '%s' is not a positive number", value);
        }
        else {
            const char *equals = strchr (value, '=');
            char id [24];
            bool ok = equals && equals > value && (size_t) (equals - value) < sizeof id
                      && strlen (equals + 1) == 3
                      && strspn (equals + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3;
            if (ok) {
                memcpy (id, value, (size_t) (equals - value));
                id [equals - value] = 0;
                ok = s_number (id, 0, LONG_MAX) >= 0;
            }
            if (!ok)
                return s_bad_usage ("--currency '%s' is not <legacy business id>=<ISO 4217 code>",
                                    value);
            if (self->currency_count == S_CURRENCIES)
                return s_bad_usage ("%s given too many times", option);
            s_currency_t *currency = &self->currencies [self->currency_count++];
            currency->legacy_id = s_number (id, 0, LONG_MAX);
            memcpy (currency->code, equals + 1, 4);
        }
    }
    if (!self->source_url || !org)
        return s_bad_usage ("%s", "--source and --organization are required");
    for (size_t i = 0; i < 36; i++)
        self->org [i] = (char) tolower ((unsigned char) org [i]);
    self->org [36] = 0;
    return -1;
}

static void
s_summary (s_import_t *self)
{
    printf ("summary:\n");
    for (int table = 0; table < S_TABLES; table++)
        printf ("  %s: imported %ld, skipped %ld, rejected %ld\n", s_tables [table],
                self->tally [table].imported, self->tally [table].skipped,
                self->tally [table].rejected);
    fflush (stdout);
}

static int
s_import (s_import_t *self, const sb_config_t *config)
{
    char fingerprint [160];
    if (s_source_open (self, fingerprint, sizeof fingerprint))
        return 1;
    self->db = sb_db_new (config->service_database_url, "tenant");
    if (sb_db_connect (self->db, 10000)
        || sb_migrate (self->db, "tenant", tenant_migrations, tenant_migration_count) < 0) {
        fprintf (stderr, S_NAME ": cannot reach or migrate the tenant database (see the log)\n");
        return 1;
    }
    char lock_key [64];
    snprintf (lock_key, sizeof lock_key, "tenant.legacy_import:%s", self->org);
    const char *lock_params [] = { lock_key };
    PGresult *lock = sb_db_exec (self->db, "SELECT pg_try_advisory_lock (hashtextextended ($1, 0))",
                                 1, lock_params);
    bool locked = lock && streq (PQgetvalue (lock, 0, 0), "t");
    PQclear (lock);
    if (!locked) {
        fprintf (stderr, S_NAME ": another import into organization %s is running\n", self->org);
        return 1;
    }
    fprintf (stderr, "importing database %s (%s) into organization %s%s\n",
             PQdb (self->source), fingerprint, self->org,
             self->dry_run ? " (dry run: nothing will be kept)" : "");
    printf ("WARN source: legacy timestamps carry no time zone; read in the source's TimeZone "
            "'%s'\n", self->timezone);
    if (s_run_start (self, fingerprint))
        return 1;

    struct sigaction action, old_int, old_term;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, &old_int);
    sigaction (SIGTERM, &action, &old_term);
    int rc = 0;
    for (int table = 0; table < S_TABLES && rc == 0 && !self->stopped && !s_interrupted; table++) {
        if (table == S_CALLS && s_load_businesses (self))
            rc = 1;
        else
        if (s_table (self, table))
            rc = 1;
    }
    sigaction (SIGINT, &old_int, NULL);
    sigaction (SIGTERM, &old_term, NULL);

    const char *status = rc              ? "failed"
                       : s_interrupted   ? "interrupted"
                       : self->stopped   ? "partial"
                                         : "completed";
    if (self->dry_run)
        sb_db_rollback (self->db);
    else
    if (s_begin (self) || s_save_counts (self, status) || s_commit (self)) {
        sb_db_rollback (self->db);
        rc = 1;
    }
    if (rc)
        fprintf (stderr, S_NAME ": the import failed; what was committed stays, run again to "
                         "go on\n");
    else
    if (s_interrupted) {
        fprintf (stderr, S_NAME ": interrupted; run again to go on\n");
        rc = 1;
    }
    else
    if (self->stopped)
        fprintf (stderr, "stopped after %ld rows (--limit); run again to go on\n", self->handled);
    return rc;
}

//  Runs `tenant-svc import-legacy ...` (see s_usage and the file header).
//  Returns the exit status, or -1 when argv [0] is another command.
int
tenant_import_command (int argc, char **argv, const sb_config_t *config)
{
    assert (argc >= 1);
    if (!streq (argv [0], "import-legacy"))
        return -1;
    s_import_t self;
    memset (&self, 0, sizeof self);
    self.batch = S_BATCH_DEFAULT;
    int rc = s_parse (&self, argc, argv);
    if (rc >= 0)
        return rc;
    if (!config->service_database_url) {
        fprintf (stderr, S_NAME ": no database: set SWITCHBOARD_TENANT_DATABASE_URL or "
                                "SWITCHBOARD_DATABASE_URL\n");
        return 2;
    }
    s_interrupted = 0;
    int64_t started = sb_mono_ms ();
    msgpack_sbuffer_init (&self.report);
    rc = s_import (&self, config);
    if (self.run_started || self.tally [S_BUSINESSES].seen)
        s_summary (&self);
    fprintf (stderr, "%s in %.2f s%s\n", rc ? "stopped" : "done",
             (double) (sb_mono_ms () - started) / 1000.0,
             self.dry_run ? " (dry run: rolled back)" : "");
    if (self.db)
        sb_db_rollback (self.db);
    msgpack_sbuffer_destroy (&self.report);
    free (self.businesses);
    sb_db_destroy (&self.db);
    if (self.source)
        PQfinish (self.source);
    return rc;
}


//  --------------------------------------------------------------------------
//  Selftest of the normalizers

static bool
s_phone_is (const char *raw, bool nanp, const char *expected)
{
    char out [17];
    const char *why = NULL;
    tenant_phone_result_t result = tenant_import_phone (raw, nanp, out, &why);
    if (!expected)
        return result == TENANT_PHONE_BAD && why;
    return result == TENANT_PHONE_OK && streq (out, expected);
}

static bool
s_hours_is (const char *text, const char *expected)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    bool ok = tenant_import_hours (text, &out);
    msgpack_sbuffer_write (&out, "", 1);
    bool same = expected ? ok && streq (out.data, expected) : !ok;
    msgpack_sbuffer_destroy (&out);
    return same;
}

static bool
s_items_is (const char *text, const char *expected, int64_t expected_sum)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    int64_t sum = -1;
    char why [256] = "";
    bool ok = tenant_import_items (text, &out, &sum, why, sizeof why);
    msgpack_sbuffer_write (&out, "", 1);
    bool same = expected ? ok && streq (out.data, expected) && sum == expected_sum
                         : !ok && *why;
    msgpack_sbuffer_destroy (&out);
    return same;
}

//  (To be declared in tenant.h and run by `tenant-svc --selftest`.)
void tenant_import_test (bool verbose);

void
tenant_import_test (bool verbose)
{
    (void) verbose;
    SB_CHECK (s_phone_is ("+14155550101", false, "+14155550101"));
    SB_CHECK (s_phone_is ("(415) 555-0199", true, "+14155550199"));
    SB_CHECK (s_phone_is ("1-415-555-0199", true, "+14155550199"));
    SB_CHECK (s_phone_is ("(415) 555-0199", false, NULL));
    SB_CHECK (s_phone_is ("+33 1 44 55 66 77", false, "+33144556677"));
    SB_CHECK (s_phone_is ("+81-3-5555-0123", false, "+81355550123"));
    SB_CHECK (s_phone_is ("+1 (650) 555-0177", false, "+16505550177"));
    SB_CHECK (s_phone_is ("415.555.0101", true, "+14155550101"));
    SB_CHECK (s_phone_is ("555-0142", true, NULL));
    SB_CHECK (s_phone_is ("anonymous", true, NULL));
    SB_CHECK (s_phone_is ("+1 115 555 0101", true, NULL));
    SB_CHECK (s_phone_is ("+1415555010", true, NULL));
    SB_CHECK (s_phone_is ("+0 415 555 0101", true, NULL));
    SB_CHECK (s_phone_is ("+", true, NULL));
    SB_CHECK (s_phone_is ("4+155550101", true, NULL));
    SB_CHECK (s_phone_is ("+1234567890123456", true, NULL));
    char out [17];
    const char *why = NULL;
    SB_CHECK (tenant_import_phone (NULL, true, out, &why) == TENANT_PHONE_MISSING);
    SB_CHECK (tenant_import_phone ("  ", true, out, &why) == TENANT_PHONE_MISSING);

    int64_t cents = 0;
    SB_CHECK (tenant_import_cents ("67.35", &cents) && cents == 6735);
    SB_CHECK (tenant_import_cents ("70.0", &cents) && cents == 7000);
    SB_CHECK (tenant_import_cents ("12", &cents) && cents == 1200);
    SB_CHECK (tenant_import_cents ("1.500", &cents) && cents == 150);
    SB_CHECK (tenant_import_cents ("0.05", &cents) && cents == 5);
    SB_CHECK (!tenant_import_cents ("1.505", &cents));
    SB_CHECK (!tenant_import_cents ("-3.00", &cents));
    SB_CHECK (!tenant_import_cents ("1e3", &cents));
    SB_CHECK (!tenant_import_cents ("12.", &cents));
    SB_CHECK (!tenant_import_cents (".5", &cents));
    SB_CHECK (!tenant_import_cents ("", &cents));
    SB_CHECK (!tenant_import_cents ("12345678901234", &cents));

    SB_CHECK (s_hours_is ("{\"mon-fri\": \"11:00-22:00\", \"sat-sun\": \"12:00-23:00\"}",
                          "{\"mon\":[{\"open\":\"11:00\",\"close\":\"22:00\"}],"
                          "\"tue\":[{\"open\":\"11:00\",\"close\":\"22:00\"}],"
                          "\"wed\":[{\"open\":\"11:00\",\"close\":\"22:00\"}],"
                          "\"thu\":[{\"open\":\"11:00\",\"close\":\"22:00\"}],"
                          "\"fri\":[{\"open\":\"11:00\",\"close\":\"22:00\"}],"
                          "\"sat\":[{\"open\":\"12:00\",\"close\":\"23:00\"}],"
                          "\"sun\":[{\"open\":\"12:00\",\"close\":\"23:00\"}]}"));
    SB_CHECK (s_hours_is ("{\"tue-sun\": \"17:00-23:00\"}",
                          "{\"tue\":[{\"open\":\"17:00\",\"close\":\"23:00\"}],"
                          "\"wed\":[{\"open\":\"17:00\",\"close\":\"23:00\"}],"
                          "\"thu\":[{\"open\":\"17:00\",\"close\":\"23:00\"}],"
                          "\"fri\":[{\"open\":\"17:00\",\"close\":\"23:00\"}],"
                          "\"sat\":[{\"open\":\"17:00\",\"close\":\"23:00\"}],"
                          "\"sun\":[{\"open\":\"17:00\",\"close\":\"23:00\"}]}"));
    SB_CHECK (s_hours_is ("{\"Fri-Mon\": \"9:00-12:00, 13:00-17:30\", \"wed\": \"closed\"}",
                          "{\"mon\":[{\"open\":\"09:00\",\"close\":\"12:00\"},"
                          "{\"open\":\"13:00\",\"close\":\"17:30\"}],\"wed\":[],"
                          "\"fri\":[{\"open\":\"09:00\",\"close\":\"12:00\"},"
                          "{\"open\":\"13:00\",\"close\":\"17:30\"}],"
                          "\"sat\":[{\"open\":\"09:00\",\"close\":\"12:00\"},"
                          "{\"open\":\"13:00\",\"close\":\"17:30\"}],"
                          "\"sun\":[{\"open\":\"09:00\",\"close\":\"12:00\"},"
                          "{\"open\":\"13:00\",\"close\":\"17:30\"}]}"));
    SB_CHECK (s_hours_is ("{\"daily\": \"07:00-19:00\"}",
                          "{\"mon\":[{\"open\":\"07:00\",\"close\":\"19:00\"}],"
                          "\"tue\":[{\"open\":\"07:00\",\"close\":\"19:00\"}],"
                          "\"wed\":[{\"open\":\"07:00\",\"close\":\"19:00\"}],"
                          "\"thu\":[{\"open\":\"07:00\",\"close\":\"19:00\"}],"
                          "\"fri\":[{\"open\":\"07:00\",\"close\":\"19:00\"}],"
                          "\"sat\":[{\"open\":\"07:00\",\"close\":\"19:00\"}],"
                          "\"sun\":[{\"open\":\"07:00\",\"close\":\"19:00\"}]}"));
    SB_CHECK (s_hours_is ("Mon-Fri 8-5", NULL));
    SB_CHECK (s_hours_is ("{\"mon-fri\": \"8-5\"}", NULL));
    SB_CHECK (s_hours_is ("{\"daily\": \"19:00-07:00\"}", NULL));
    SB_CHECK (s_hours_is ("{\"mon-fri\": \"09:00-17:00\", \"fri\": \"10:00-12:00\"}", NULL));
    SB_CHECK (s_hours_is ("{\"weekdays\": \"09:00-17:00\"}", NULL));
    SB_CHECK (s_hours_is ("{\"mon\": \"09:00-24:00\"}", NULL));
    SB_CHECK (s_hours_is ("{}", NULL));
    SB_CHECK (s_hours_is ("[]", NULL));
    //  Overlapping intervals, which the API refuses (found by
    //  tests/fuzz/import_normalize.c); touching ones are two intervals
    SB_CHECK (s_hours_is ("{\"mon\": \"09:00-12:00, 11:00-14:00\"}", NULL));
    SB_CHECK (s_hours_is ("{\"mon\": \"11:00-14:00, 09:00-20:00\"}", NULL));
    SB_CHECK (s_hours_is ("{\"mon\": \"09:00-12:00, 12:00-14:00\"}",
                          "{\"mon\":[{\"open\":\"09:00\",\"close\":\"12:00\"},"
                          "{\"open\":\"12:00\",\"close\":\"14:00\"}]}"));

    SB_CHECK (s_items_is ("[{\"name\": \"Margherita\", \"qty\": 3, \"price\": 12.99}, "
                          "{\"name\": \"Salmon nigiri\", \"qty\": 3, \"price\": 6.5}]",
                          "[{\"name\":\"Margherita\",\"quantity\":3,\"unit_price_cents\":1299},"
                          "{\"name\":\"Salmon nigiri\",\"quantity\":3,\"unit_price_cents\":650}]",
                          5847));
    SB_CHECK (s_items_is ("[{\"name\": \"Haircut\", \"quantity\": 2, \"unit_price\": 35}]",
                          "[{\"name\":\"Haircut\",\"quantity\":2,\"unit_price_cents\":3500}]",
                          7000));
    SB_CHECK (s_items_is ("2x Pizza @ 12.50; 1x Soda @ 2.00",
                          "[{\"name\":\"Pizza\",\"quantity\":2,\"unit_price_cents\":1250},"
                          "{\"name\":\"Soda\",\"quantity\":1,\"unit_price_cents\":200}]",
                          2700));
    SB_CHECK (s_items_is ("1x Café crème @ 3", 
                          "[{\"name\":\"Café crème\",\"quantity\":1,\"unit_price_cents\":300}]",
                          300));
    SB_CHECK (s_items_is ("2x Margherita, 1x Cappuccino", NULL, 0));
    SB_CHECK (s_items_is ("Margherita @ 12.99", NULL, 0));
    SB_CHECK (s_items_is ("2x Pizza @ 12,50", NULL, 0));
    SB_CHECK (s_items_is ("2x Pizza @ 12.505", NULL, 0));
    SB_CHECK (s_items_is ("0x Pizza @ 12.50", NULL, 0));
    SB_CHECK (s_items_is ("[]", NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"Pizza\", \"qty\": 1, \"price\": 12.345}]", NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"Pizza\", \"qty\": 1.5, \"price\": 12}]", NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"Pizza\", \"qty\": 1, \"price\": 12, \"note\": 1}]",
                          NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"Pizza\", \"qty\": 1}]", NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"\", \"qty\": 1, \"price\": 1}]", NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"Pizza\", \"qty\": 1, \"price\": -1}]", NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"Pizza\",", NULL, 0));
    //  Two quantities or two prices, the first one negative: refused, not
    //  taken from the second (found by tests/fuzz/import_normalize.c)
    SB_CHECK (s_items_is ("[{\"name\": \"Soda\", \"qty\": -5, \"quantity\": 1, \"price\": 2}]",
                          NULL, 0));
    SB_CHECK (s_items_is ("[{\"name\": \"Soda\", \"qty\": 1, \"unit_price_cents\": -1,"
                          " \"price\": 2.5}]", NULL, 0));

    SB_CHECK (streq (s_spelling ("MISSED", s_call_statuses), "missed"));
    SB_CHECK (streq (s_spelling (" Completed ", s_call_statuses), "completed"));
    SB_CHECK (streq (s_spelling ("no-answer", s_call_statuses), "missed"));
    SB_CHECK (!s_spelling ("in-progress", s_call_statuses));
    SB_CHECK (!s_spelling ("failed", s_call_statuses));
    SB_CHECK (!s_spelling (NULL, s_call_statuses));
    SB_CHECK (streq (s_spelling ("Fulfilled", s_order_statuses), "fulfilled"));
    SB_CHECK (streq (s_spelling ("canceled", s_order_statuses), "cancelled"));
    SB_CHECK (!s_spelling ("refunded", s_order_statuses));

    SB_CHECK (s_zone_us ("America/Los_Angeles") && s_zone_us ("America/Indiana/Knox"));
    SB_CHECK (!s_zone_us ("America/Toronto") && s_zone_nanp ("America/Toronto"));
    SB_CHECK (!s_zone_nanp ("America/Mexico_City") && !s_zone_nanp ("Europe/Paris"));

    char q [8 + S_QUOTE_CHARS * 4];
    SB_CHECK (streq (s_quote ("a\nb", q, sizeof q), "'a?b'"));
    //  45 characters in, 40 out, then an ellipsis
    const char *long_text = "ééééééééééééééééééééééééééééééééééééééééééééé";
    const char *cut = "'éééééééééééééééééééééééééééééééééééééééé\xe2\x80\xa6'";
    SB_CHECK (streq (s_quote (long_text, q, sizeof q), cut));
    s_notes_t notes = { .len = 0 };
    for (int i = 0; i < 100; i++)
        s_note (&notes, "%s", "ééééééééééééééééééééééééééééééé");
    SB_CHECK (s_chars (notes.text, false) > 0 && notes.len < sizeof notes.text);
}
