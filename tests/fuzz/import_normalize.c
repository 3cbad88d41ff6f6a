/*  import_normalize.c — libFuzzer harness: the legacy import's normalizers
    (tenant-svc/src/tenant_import.c, declared in tenant.h).

    What a stranger controls: every text column of a legacy database that
    `tenant-svc import-legacy` reads — values typed by whoever used the old
    product, never checked. The first byte picks a normalizer, the rest
    (up to the first NUL, 4096 bytes at most) is the column's text.
    Properties, per each normalizer's contract in tenant_import.c's header:

      phone   OK only for text of digits, spaces, tabs, - . ( ) and one
              leading +; the result is E.164 as the API takes it ('+', a
              non-zero digit, 7 to 15 digits in all: tenant_e164's rule,
              checked here by hand), a +1 number has 11 digits with area
              code and exchange starting 2-9, its digits are the text's
              (or 1 and the text's, when +1 was assumed, only for a NANP
              business); MISSING exactly for blank text; normalizing the
              result again, NANP or not, gives it back (idempotent).
      cents   accepted text is digits (1 to 13), optionally '.' and digits
              whose third and later are zeros; the value is recomputed
              here; "<units>.<cc>" of it reads back to the same cents.
      hours   the JSON written is what the API accepts: it parses, and
              tenant_hours_check (the API's own rule for POST
              /v1/businesses) takes it; every interval opens before it
              closes (the import never spans midnight), at most 4 a day;
              written back in the legacy form ("mon": "09:00-12:00, …" or
              "closed") it normalizes to the same JSON.
      items   the JSON written is a list of 1 to 100 objects of exactly
              name (1-200 code points, no control character), quantity
              (1-10000) and unit_price_cents (0-100000000); the sum is
              Σ quantity × unit_price_cents; an item of legacy JSON gave
              one quantity and one price; fed back as legacy JSON, the
              output normalizes to itself with the same sum (idempotent).
      status  a call's or order's status maps to one of the API's values,
              only from a spelling listed in the header (ignoring case and
              surrounding spaces, judged here), and the value maps to
              itself.

    A property that fails aborts (a crash for libFuzzer, with the input
    saved); so do ASan and UBSan findings and leaks.
*/
#include "../../tenant-svc/src/tenant.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, const char *text)
{
    fprintf (stderr, "import_normalize harness: %s (text '%.200s')\n", what, text);
    abort ();
}

//  ---- phone ----------------------------------------------------------------

//  E.164 as the API takes it: '+', 7 to 15 digits, the first not 0.
static bool
s_e164 (const char *s)
{
    size_t n = strlen (s);
    if (n < 8 || n > 16 || s [0] != '+' || s [1] == '0')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s [i] < '0' || s [i] > '9')
            return false;
    return true;
}

static void
s_phone (const char *text, bool nanp)
{
    char out [17] = "";
    const char *why = NULL;
    tenant_phone_result_t rc = tenant_import_phone (text, nanp, out, &why);
    bool blank = true;
    for (const char *c = text; *c; c++)
        blank &= isspace ((unsigned char) *c) != 0;
    if ((rc == TENANT_PHONE_MISSING) != blank)
        s_fail ("phone: MISSING is not the same as blank", text);
    if (rc == TENANT_PHONE_BAD && !why)
        s_fail ("phone: refused without a reason", text);
    if (rc != TENANT_PHONE_OK)
        return;
    //  The text's digits, and whether it had a '+' before them.
    char digits [4097];
    size_t n = 0;
    bool plus = false;
    for (const char *c = text; *c; c++) {
        if (*c >= '0' && *c <= '9')
            digits [n++] = *c;
        else
        if (*c == '+' && n == 0 && !plus)
            plus = true;
        else
        if (!strchr (" \t-.()", *c))
            s_fail ("phone: accepted a character a phone number has not", text);
    }
    digits [n] = 0;
    if (!s_e164 (out))
        s_fail ("phone: the result is not E.164", text);
    if (!strncmp (out, "+1", 2)
        && (strlen (out) != 12 || out [2] < '2' || out [5] < '2'))
        s_fail ("phone: a +1 result is not a North American number", text);
    if (strcmp (out + 1, digits)) {
        bool assumed = !plus && nanp && out [1] == '1' && !strcmp (out + 2, digits) && n == 10;
        if (!assumed)
            s_fail ("phone: the result's digits are not the text's", text);
    }
    for (int again = 0; again < 2; again++) {
        char twice [17] = "";
        if (tenant_import_phone (out, again, twice, &why) != TENANT_PHONE_OK || strcmp (out, twice))
            s_fail ("phone: normalizing twice differs", text);
    }
}

//  ---- cents ----------------------------------------------------------------

static void
s_cents (const char *text)
{
    int64_t cents = -1;
    if (!tenant_import_cents (text, &cents))
        return;
    const char *p = text;
    int64_t units = 0, fraction = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        units = units * 10 + (*p++ - '0');
        digits++;
    }
    if (digits < 1 || digits > 13)
        s_fail ("cents: accepted without 1 to 13 digits", text);
    if (*p == '.') {
        p++;
        int k = 0;
        for (; *p >= '0' && *p <= '9'; p++, k++) {
            if (k < 2)
                fraction = fraction * 10 + (*p - '0');
            else
            if (*p != '0')
                s_fail ("cents: accepted a fraction of a cent", text);
        }
        if (k == 0)
            s_fail ("cents: accepted a '.' without digits", text);
        if (k == 1)
            fraction *= 10;
    }
    if (*p)
        s_fail ("cents: accepted something after the number", text);
    if (cents != units * 100 + fraction)
        s_fail ("cents: another value than the text's", text);
    char back [40];
    snprintf (back, sizeof (back), "%lld.%02lld", (long long) (cents / 100),
              (long long) (cents % 100));
    int64_t again = -1;
    if (!tenant_import_cents (back, &again) || again != cents)
        s_fail ("cents: its own text reads back differently", text);
}

//  ---- hours ----------------------------------------------------------------

static void
s_hours (const char *text)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    if (!tenant_import_hours (text, &out)) {
        msgpack_sbuffer_destroy (&out);
        return;
    }
    char why [160];
    json_t *hours = sb_json_parse (out.data, out.size, why, sizeof (why));
    if (!hours || !json_is_object (hours))
        s_fail ("hours: the result is not a JSON object", text);
    //  The API's rule, through the same path as a request's hours.
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    sb_json_pack_into (&packed, hours);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t offset = 0;
    if (msgpack_unpack_next (&u, packed.data, packed.size, &offset) != MSGPACK_UNPACK_SUCCESS)
        s_fail ("hours: cannot unpack the packed result", text);
    sb_fields_t fields;
    memset (&fields, 0, sizeof (fields));
    if (tenant_hours_check (&u.data, &fields))
        s_fail ("hours: the API refuses the imported hours", text);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&packed);
    //  Open before close, and the legacy form of the result.
    json_t *legacy = json_object ();
    const char *day;
    json_t *list;
    json_object_foreach (hours, day, list) {
        if (!json_is_array (list) || json_array_size (list) > 4)
            s_fail ("hours: a day is not a list of at most 4", text);
        char spans [128] = "";
        size_t i;
        json_t *it;
        json_array_foreach (list, i, it) {
            const char *open = json_string_value (json_object_get (it, "open"));
            const char *close = json_string_value (json_object_get (it, "close"));
            if (!open || !close || strlen (open) != 5 || strlen (close) != 5
                || strcmp (open, close) >= 0)
                s_fail ("hours: an interval does not open before it closes", text);
            size_t len = strlen (spans);
            snprintf (spans + len, sizeof (spans) - len, "%s%s-%s", i ? ", " : "", open, close);
        }
        json_object_set_new (legacy, day, json_string (json_array_size (list) ? spans : "closed"));
    }
    char *legacy_text = json_dumps (legacy, JSON_COMPACT);
    msgpack_sbuffer again;
    msgpack_sbuffer_init (&again);
    if (!tenant_import_hours (legacy_text, &again) || again.size != out.size
        || memcmp (again.data, out.data, out.size))
        s_fail ("hours: the result in the legacy form normalizes differently", text);
    msgpack_sbuffer_destroy (&again);
    free (legacy_text);
    json_decref (legacy);
    json_decref (hours);
    msgpack_sbuffer_destroy (&out);
}

//  ---- items ----------------------------------------------------------------

static void
s_items (const char *text)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    int64_t sum = -1;
    char why [256] = "";
    if (!tenant_import_items (text, &out, &sum, why, sizeof (why))) {
        if (!*why)
            s_fail ("items: refused without a reason", text);
        msgpack_sbuffer_destroy (&out);
        return;
    }
    char reason [160];
    json_t *items = sb_json_parse (out.data, out.size, reason, sizeof (reason));
    if (!items || !json_is_array (items) || json_array_size (items) < 1
        || json_array_size (items) > 100)
        s_fail ("items: the result is not a list of 1 to 100", text);
    int64_t total = 0;
    size_t i;
    json_t *item;
    json_array_foreach (items, i, item) {
        json_t *name = json_object_get (item, "name");
        json_t *quantity = json_object_get (item, "quantity");
        json_t *cents = json_object_get (item, "unit_price_cents");
        if (json_object_size (item) != 3 || !json_is_string (name) || !json_is_integer (quantity)
            || !json_is_integer (cents))
            s_fail ("items: an item is not {name, quantity, unit_price_cents}", text);
        long chars = sb_utf8_chars (json_string_value (name), json_string_length (name), false);
        if (chars < 1 || chars > 200)
            s_fail ("items: a name is not 1-200 characters without control characters", text);
        json_int_t q = json_integer_value (quantity), c = json_integer_value (cents);
        if (q < 1 || q > 10000 || c < 0 || c > 100000000)
            s_fail ("items: a quantity or a price out of range", text);
        total += q * c;
    }
    if (total != sum)
        s_fail ("items: the sum is not the items' sum", text);
    //  From legacy JSON: each item gave one quantity and one price.
    json_t *legacy = sb_json_parse (text, strlen (text), reason, sizeof (reason));
    json_array_foreach (legacy, i, item) {
        int quantities = !!json_object_get (item, "qty") + !!json_object_get (item, "quantity");
        int prices = !!json_object_get (item, "price") + !!json_object_get (item, "unit_price")
                     + !!json_object_get (item, "unit_price_cents");
        if (quantities != 1 || prices != 1)
            s_fail ("items: an item with two quantities or two prices", text);
    }
    json_decref (legacy);
    //  Idempotent: the output is legacy JSON too.
    char *first = sb_strndup (out.data, out.size);
    msgpack_sbuffer again;
    msgpack_sbuffer_init (&again);
    int64_t sum_again = -1;
    if (!tenant_import_items (first, &again, &sum_again, why, sizeof (why)) || sum_again != sum
        || again.size != out.size || memcmp (again.data, out.data, out.size))
        s_fail ("items: normalizing twice differs", text);
    msgpack_sbuffer_destroy (&again);
    free (first);
    json_decref (items);
    msgpack_sbuffer_destroy (&out);
}

//  ---- statuses -------------------------------------------------------------

static void
s_status (const char *text, bool call)
{
    static const char *const calls [][2] = {
        { "completed", "completed" }, { "complete", "completed" }, { "done", "completed" },
        { "missed", "missed" }, { "no-answer", "missed" }, { "no_answer", "missed" },
        { "voicemail", "voicemail" }, { "vm", "voicemail" }, { "transferred", "transferred" },
        { NULL, NULL } };
    static const char *const orders [][2] = {
        { "pending", "pending" }, { "confirmed", "confirmed" }, { "fulfilled", "fulfilled" },
        { "cancelled", "cancelled" }, { "canceled", "cancelled" }, { NULL, NULL } };
    const char *got = call ? tenant_import_call_status (text) : tenant_import_order_status (text);
    //  The expected value: the text without surrounding spaces, any case.
    const char *start = text;
    while (isspace ((unsigned char) *start))
        start++;
    size_t len = strlen (start);
    while (len && isspace ((unsigned char) start [len - 1]))
        len--;
    const char *expect = NULL;
    const char *const (*table) [2] = call ? calls : orders;
    for (size_t i = 0; table [i][0]; i++)
        if (strlen (table [i][0]) == len && !strncasecmp (start, table [i][0], len))
            expect = table [i][1];
    if ((got == NULL) != (expect == NULL) || (got && strcmp (got, expect)))
        s_fail ("status: not the listed spelling's value", text);
    if (got) {
        const char *again = call ? tenant_import_call_status (got)
                                 : tenant_import_order_status (got);
        if (!again || strcmp (again, got))
            s_fail ("status: the value does not map to itself", text);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4097)
        return 0;
    char *text = (char *) malloc (size);
    memcpy (text, data + 1, size - 1);
    text [size - 1] = 0;
    switch (data [0] % 7) {
    case 0: s_phone (text, false); break;
    case 1: s_phone (text, true); break;
    case 2: s_cents (text); break;
    case 3: s_hours (text); break;
    case 4: s_items (text); break;
    case 5: s_status (text, true); break;
    default: s_status (text, false); break;
    }
    free (text);
    return 0;
}
