/*  opening_hours.c — libFuzzer harness: a business's opening hours
    (tenant_hours_check, tenant-svc/src/tenant_businesses.c).

    What a stranger controls: the "hours" of POST and PATCH
    /v1/businesses, JSON that the gateway parses (sb_json_parse) and packs
    into msgpack, and any msgpack a peer on the bus puts in the args of
    businesses.create or .update. Every input is used twice: as JSON text
    through sb_json_parse and sb_json_pack_into, and as msgpack bytes
    (validated as a frame would be). Property checked on each object:

      tenant_hours_check accepts exactly the hours the harness's own
      reading of API.md accepts (s_oracle): an object of days mon..sun,
      each named once, each a list of at most 4 intervals; an interval an
      object of exactly the keys "open" and "close", each "HH:MM" (two
      digits, hour 00–23, minute 00–59); open != close, a close earlier
      than its open ending the next day (Sunday's then running into
      Monday); no minute of the week in two intervals. The oracle marks
      minutes in a bitmap of the week, not the interval arithmetic of
      tenant_businesses.c. A refusal always leaves a field error "hours".

    A property that fails aborts (a crash for libFuzzer, with the input
    saved); so do ASan and UBSan findings and leaks.
*/
#include "../../tenant-svc/src/tenant.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, size_t size)
{
    fprintf (stderr, "opening_hours harness: %s (input of %zu bytes)\n", what, size);
    abort ();
}

static bool
s_is (const msgpack_object *obj, const char *text)
{
    size_t n = strlen (text);
    return obj->type == MSGPACK_OBJECT_STR && obj->via.str.size == n
           && memcmp (obj->via.str.ptr, text, n) == 0;
}

//  "HH:MM" → minutes, or -1.
static int
s_time (const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_STR || obj->via.str.size != 5)
        return -1;
    const char *t = obj->via.str.ptr;
    for (int i = 0; i < 5; i++)
        if (i == 2 ? t [i] != ':' : (t [i] < '0' || t [i] > '9'))
            return -1;
    int h = (t [0] - '0') * 10 + (t [1] - '0'), m = (t [3] - '0') * 10 + (t [4] - '0');
    return h <= 23 && m <= 59 ? h * 60 + m : -1;
}

#define S_WEEK (7 * 24 * 60)

static bool
s_oracle (const msgpack_object *hours)
{
    static const char *const days [7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
    if (hours->type != MSGPACK_OBJECT_MAP)
        return false;
    static uint8_t week [S_WEEK];
    memset (week, 0, sizeof (week));
    bool seen [7] = { false };
    for (uint32_t i = 0; i < hours->via.map.size; i++) {
        int day = -1;
        for (int d = 0; d < 7; d++)
            if (s_is (&hours->via.map.ptr [i].key, days [d]))
                day = d;
        if (day < 0 || seen [day])
            return false;
        seen [day] = true;
        const msgpack_object *list = &hours->via.map.ptr [i].val;
        if (list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size > 4)
            return false;
        for (uint32_t k = 0; k < list->via.array.size; k++) {
            const msgpack_object *it = &list->via.array.ptr [k];
            if (it->type != MSGPACK_OBJECT_MAP || it->via.map.size != 2)
                return false;
            int open = -1, close = -1;
            for (int e = 0; e < 2; e++) {
                const msgpack_object_kv *kv = &it->via.map.ptr [e];
                if (s_is (&kv->key, "open") && open == -1)
                    open = s_time (&kv->val);
                else
                if (s_is (&kv->key, "close") && close == -1)
                    close = s_time (&kv->val);
                else
                    return false;
            }
            if (open < 0 || close < 0 || open == close)
                return false;
            int length = close > open ? close - open : 24 * 60 - open + close;
            for (int m = 0; m < length; m++) {
                int minute = (day * 24 * 60 + open + m) % S_WEEK;
                if (week [minute])
                    return false;
                week [minute] = 1;
            }
        }
    }
    return true;
}

static void
s_check (const msgpack_object *hours, size_t size)
{
    sb_fields_t fields;
    memset (&fields, 0, sizeof (fields));
    int rc = tenant_hours_check (hours, &fields);
    bool expect = s_oracle (hours);
    if (rc == 0 && !expect)
        s_fail ("accepted hours that API.md's rules refuse", size);
    if (rc != 0 && expect)
        s_fail ("refused hours that API.md's rules accept", size);
    if (rc == 0 && fields.count)
        s_fail ("accepted with a field error", size);
    if (rc != 0 && !sb_fields_has (&fields, "hours"))
        s_fail ("refused without a field error on hours", size);
}

static void
s_msgpack (const void *bytes, size_t bytes_size, size_t size)
{
    if (sb_mpk_validate (bytes, bytes_size, SB_MPK_MAX_DEPTH - 2, NULL, 0))
        return;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t offset = 0;
    if (msgpack_unpack_next (&u, bytes, bytes_size, &offset) == MSGPACK_UNPACK_SUCCESS)
        s_check (&u.data, size);
    msgpack_unpacked_destroy (&u);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  Seven days of four intervals is under 400 bytes of JSON.
    if (size > 4096)
        return 0;
    char why [160];
    json_t *json = sb_json_parse ((const char *) data, size, why, sizeof (why));
    if (json) {
        msgpack_sbuffer packed;
        msgpack_sbuffer_init (&packed);
        sb_json_pack_into (&packed, json);
        s_msgpack (packed.data, packed.size, size);
        msgpack_sbuffer_destroy (&packed);
        json_decref (json);
    }
    s_msgpack (data, size, size);
    return 0;
}
