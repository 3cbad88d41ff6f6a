/*  billing_meter.c — usage beyond a plan's calls (overage) reported to
    Stripe meter events, exactly once across crashes and retries.

    A background reporter (an sb_relay: its own thread, database connection
    and bus client) runs a round every SWITCHBOARD_BILLING_METER_INTERVAL_MS
    (default a minute). A round:

    1.  Records. For the current month and the one before (the last calls
        of a month are counted after it ended), the organizations whose
        subscription is on a plan with overage for calls (and a meter
        event name), status active, trialing or past_due, with a Stripe
        customer; usage-svc's usage.counts answers their calls of that
        month, many organizations a call. overage = max (0, used - the
        plan's calls_per_month). One statement then writes, for each
        organization whose overage exceeds the sum of its meter_reports
        rows of that month (what was RECORDED, whether Stripe acknowledged
        it or not), one row with the difference and a fresh identifier
        (sb-<org>-calls-<YYYYMM>-<seq>), and commits — before anything is
        sent. Two reporters deciding at once (two billing-svc processes)
        both want the same seq: the key lets one row in (see migration
        0005).
    2.  Sends every row not yet acknowledged (reported_at NULL), oldest
        first: POST /v1/billing/meter_events with event_name,
        payload[stripe_customer_id], payload[value] (the row's quantity),
        identifier and timestamp (the row's created_at), and the identifier
        as Idempotency-Key. A re-send after a crash, a timeout or a lost
        answer is the same request under the same identifier: Stripe counts
        it once (the key replays the first answer; past the key's life,
        Stripe refuses the identifier as a duplicate). reported_at is set on
        a 2xx and on that refusal (400 resource_already_exists: the event
        is Stripe's already); any other failure leaves the row for the next
        round: no answer, 429 or 5xx stop the round (the relay backs off, 1
        s doubling to the interval); another 4xx (a customer Stripe does
        not know, a timestamp older than Stripe's 35 days) is logged and
        counted on the row (attempts, last_error) and the others are sent.

    So a quantity is never reported twice (it is recorded once, sent under
    one identifier) and never lost (it stays pending until acknowledged).
    What is not exact: a row older than Stripe's 35-day window (Stripe down
    or the key revoked that long) is refused for ever and needs an
    operator; the month is the calendar month in UTC (usage-svc's counter
    period), not the Stripe subscription's period.

    Without SWITCHBOARD_STRIPE_SECRET_KEY the reporter does not start (said
    once in the log). The reporter's catalogue is its own copy, loaded from
    the same file as the skeleton's; its Stripe client is created on its
    thread and belongs to it.
*/
#include "billing_service.h"
#include "billing_stripe.h"
#include "sb/relay.h"

#define S_COUNTS_MS  10000          //  one usage.counts call
#define S_BATCH      500            //  organizations a usage.counts call (the LIMIT below)
#define S_SEND_MAX   100            //  rows sent a round (the LIMIT below; more: again at once)
#define S_STRIPE_MS  10000          //  one meter event, retries included

typedef struct {
    const sb_config_t *config;
    sb_plans_t *plans;
    billing_stripe_t *stripe;       //  created and used on the relay's thread
} s_reporter_t;

static s_reporter_t s_reporter;
static sb_relay_t *s_relay;

//  The first day of the month `back` months before now's (UTC),
//  "YYYY-MM-01".
static void
s_period (int back, char period [16])
{
    int64_t year;
    int month, day;
    sb_timestamp_civil_from_days (sb_now_ms () / 86400000, &year, &month, &day);
    month -= back;
    while (month < 1) {
        month += 12;
        year--;
    }
    //  Years stay in 0..9999 (a clock that says otherwise is clamped), so
    //  the text always fits.
    int y = year < 0 ? 0 : year > 9999 ? 9999 : (int) year;
    snprintf (period, 16, "%04d-%02d-01", y, month % 100);
}

//  Appends an item to a PostgreSQL array literal being built in buf:
//  quoted, so that no value is read as NULL; the callers' values are UUIDs,
//  integers and meter event names (letters, digits, _ - . only), which
//  need no escaping, but a quote or backslash is escaped anyway.
static void
s_array_add (zchunk_t *buf, const char *value)
{
    zchunk_extend (buf, zchunk_size (buf) > 1 ? ",\"" : "\"", zchunk_size (buf) > 1 ? 2 : 1);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            zchunk_extend (buf, "\\", 1);
        zchunk_extend (buf, c, 1);
    }
    zchunk_extend (buf, "\"", 1);
}

//  Asks usage-svc the calls of period of count organizations (orgs [i] is
//  a UUID). Fills used [i] (-1 for one the answer left out). 0, or -1
//  when usage-svc did not answer well.
static int
s_counts (sb_client_t *client, char (*orgs) [40], size_t count, const char *period,
          int64_t *used)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sb_mpk_pack_str (&pk, "organization_ids");
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++)
        sb_mpk_pack_str (&pk, orgs [i]);
    sb_mpk_pack_kv_str (&pk, "metric", "calls");
    sb_mpk_pack_kv_str (&pk, "period_start", period);
    for (size_t i = 0; i < count; i++)
        used [i] = -1;
    sb_reply_msg_t reply;
    int status = sb_client_request (client, "usage", "usage.counts", NULL, &args, S_COUNTS_MS,
                                    &reply, NULL, 0);
    msgpack_sbuffer_destroy (&args);
    if (!status)
        return sb_error ("meter: usage-svc did not answer usage.counts within %d ms",
                         S_COUNTS_MS);
    const msgpack_object *data = reply.status == 200 && reply.body
                               ? sb_mpk_get (reply.body, "data") : NULL;
    if (!data || data->type != MSGPACK_OBJECT_ARRAY) {
        sb_reply_msg_release (&reply);
        return sb_error ("meter: usage.counts answered %d", reply.status);
    }
    //  The answer is in the order asked; each row says whose it is.
    for (uint32_t r = 0; r < data->via.array.size && r < count; r++) {
        const msgpack_object *row = &data->via.array.ptr [r];
        int64_t value;
        if (sb_mpk_str_eq (sb_mpk_get (row, "organization_id"), orgs [r])
            && sb_mpk_int (sb_mpk_get (row, "used"), &value) == 0 && value >= 0)
            used [r] = value;
    }
    sb_reply_msg_release (&reply);
    return 0;
}

//  Records the overage of count organizations (orgs, plans' ids) in
//  period: one statement, one commit. 0 or -1.
static int
s_record_batch (sb_db_t *db, sb_client_t *client, const sb_plans_t *plans, char (*orgs) [40],
                char (*plan_ids) [32], size_t count, const char *period)
{
    int64_t *used = (int64_t *) sb_calloc (count, sizeof (int64_t));
    if (s_counts (client, orgs, count, period, used)) {
        free (used);
        return -1;
    }
    zchunk_t *org_list = zchunk_new ("{", 1), *overage_list = zchunk_new ("{", 1);
    zchunk_t *event_list = zchunk_new ("{", 1);
    size_t rows = 0;
    for (size_t i = 0; i < count; i++) {
        const sb_plan_t *plan = sb_plans_get (plans, plan_ids [i]);
        if (!plan || used [i] < 0 || plan->calls_per_month < 0
            || used [i] <= plan->calls_per_month)
            continue;
        char overage [24];
        snprintf (overage, sizeof (overage), "%lld",
                  (long long) (used [i] - plan->calls_per_month));
        s_array_add (org_list, orgs [i]);
        s_array_add (overage_list, overage);
        s_array_add (event_list, plan->overage_calls.meter_event_name);
        rows++;
    }
    free (used);
    zchunk_extend (org_list, "}", 2);
    zchunk_extend (overage_list, "}", 2);
    zchunk_extend (event_list, "}", 2);
    int rc = 0;
    if (rows) {
        //  The customer is read again here, with the conditions: a
        //  subscription that changed since the list was read is skipped.
        const char *params [] = {
            (const char *) zchunk_data (org_list), (const char *) zchunk_data (overage_list),
            (const char *) zchunk_data (event_list), period
        };
        if (sb_db_begin (db) || sb_db_all_orgs (db)
            || sb_db_run (db,
                          "INSERT INTO meter_reports (organization_id, metric, period_start, seq, "
                          "  quantity, identifier, event_name, stripe_customer_id) "
                          "SELECT u.org, 'calls', $4::date, r.seq + 1, u.overage - r.recorded, "
                          "       'sb-' || u.org || '-calls-' || to_char ($4::date, 'YYYYMM') "
                          "       || '-' || (r.seq + 1), u.event, s.stripe_customer_id "
                          "  FROM unnest ($1::uuid[], $2::bigint[], $3::text[]) "
                          "       AS u (org, overage, event) "
                          "  JOIN subscriptions AS s ON s.organization_id = u.org "
                          "   AND s.status IN ('active', 'trialing', 'past_due') "
                          "   AND s.stripe_customer_id IS NOT NULL "
                          "  CROSS JOIN LATERAL ("
                          "    SELECT coalesce (sum (m.quantity), 0) AS recorded, "
                          "           coalesce (max (m.seq), 0) AS seq "
                          "      FROM meter_reports AS m "
                          "     WHERE m.organization_id = u.org AND m.metric = 'calls' "
                          "       AND m.period_start = $4::date) AS r "
                          " WHERE u.overage > r.recorded "
                          "ON CONFLICT DO NOTHING",
                          4, params)
            || sb_db_commit (db)) {
            sb_db_rollback (db);
            rc = -1;
        }
    }
    zchunk_destroy (&org_list);
    zchunk_destroy (&overage_list);
    zchunk_destroy (&event_list);
    return rc;
}

//  Step 1 for one period: the organizations with overage for calls, by
//  batches of S_BATCH. 0 or -1.
static int
s_record (sb_db_t *db, sb_client_t *client, const sb_plans_t *plans, const char *period)
{
    //  The plans with overage for calls and a meter to report it to.
    zchunk_t *plan_list = zchunk_new ("{", 1);
    for (size_t i = 0; i < sb_plans_size (plans); i++) {
        const sb_plan_t *plan = sb_plans_at (plans, i);
        if (plan->overage_calls.enabled && *plan->overage_calls.meter_event_name)
            s_array_add (plan_list, plan->id);
    }
    zchunk_extend (plan_list, "}", 2);
    const char *params [] = { (const char *) zchunk_data (plan_list), "" };
    char after [40] = "";
    int rc = 0;
    while (rc == 0) {
        params [1] = after;
        //  Keyset pages by organization: a round sees each organization
        //  once however many there are.
        PGresult *result = NULL;
        if (sb_db_begin (db) || sb_db_all_orgs (db)
            || !(result = sb_db_exec (db,
                                      "SELECT organization_id::text, plan FROM subscriptions "
                                      " WHERE plan = ANY ($1::text[]) "
                                      "   AND status IN ('active', 'trialing', 'past_due') "
                                      "   AND stripe_customer_id IS NOT NULL "
                                      "   AND ($2 = '' OR organization_id > $2::uuid) "
                                      " ORDER BY organization_id LIMIT 500",
                                      2, params))
            || sb_db_commit (db)) {
            PQclear (result);
            sb_db_rollback (db);
            rc = -1;
            break;
        }
        size_t count = (size_t) PQntuples (result);
        char (*orgs) [40] = sb_calloc (count ? count : 1, 40);
        char (*plan_ids) [32] = sb_calloc (count ? count : 1, 32);
        for (size_t i = 0; i < count; i++) {
            snprintf (orgs [i], 40, "%s", PQgetvalue (result, (int) i, 0));
            snprintf (plan_ids [i], 32, "%s", PQgetvalue (result, (int) i, 1));
        }
        PQclear (result);
        if (count)
            rc = s_record_batch (db, client, plans, orgs, plan_ids, count, period);
        if (count)
            snprintf (after, sizeof (after), "%s", orgs [count - 1]);
        free (orgs);
        free (plan_ids);
        if (count < S_BATCH)
            break;
    }
    zchunk_destroy (&plan_list);
    return rc;
}

//  Marks the row identifier as sent (delivered: reported_at set) or not
//  (the reason kept). 0 or -1.
static int
s_mark (sb_db_t *db, const char *org, const char *identifier, bool delivered, const char *why)
{
    const char *params [] = { identifier, delivered ? "t" : "f", why };
    if (sb_db_begin (db) || sb_db_set_org (db, org)
        || sb_db_run (db,
                      "UPDATE meter_reports SET attempts = attempts + 1, "
                      "  reported_at = CASE WHEN $2::boolean THEN now () END, "
                      "  last_error = CASE WHEN $2::boolean THEN NULL ELSE $3 END "
                      "WHERE identifier = $1 AND reported_at IS NULL",
                      3, params)
        || sb_db_commit (db)) {
        sb_db_rollback (db);
        return -1;
    }
    return 0;
}

//  Step 2: sends the pending rows, oldest first, at most S_SEND_MAX.
//  Returns 1 when there may be more, 0 when none is left, -1 when Stripe
//  or the database failed (back off).
static int
s_send (sb_db_t *db, billing_stripe_t *stripe)
{
    PGresult *result = NULL;
    if (sb_db_begin (db) || sb_db_all_orgs (db)
        || !(result = sb_db_exec (db,
                                  "SELECT organization_id::text, identifier, event_name, "
                                  "       stripe_customer_id, quantity, "
                                  "       extract (epoch FROM created_at)::bigint "
                                  "  FROM meter_reports WHERE reported_at IS NULL "
                                  " ORDER BY created_at, identifier LIMIT 100",
                                  0, NULL))
        || sb_db_commit (db)) {
        PQclear (result);
        sb_db_rollback (db);
        return -1;
    }
    int rows = PQntuples (result), rc = rows == S_SEND_MAX ? 1 : 0;
    for (int r = 0; r < rows && rc >= 0; r++) {
        const char *org = PQgetvalue (result, r, 0);
        const char *identifier = PQgetvalue (result, r, 1);
        billing_form_t form = { 0 };
        billing_form_add (&form, "event_name", PQgetvalue (result, r, 2));
        billing_form_add (&form, "payload[stripe_customer_id]", PQgetvalue (result, r, 3));
        billing_form_add (&form, "payload[value]", PQgetvalue (result, r, 4));
        billing_form_add (&form, "identifier", identifier);
        billing_form_add (&form, "timestamp", PQgetvalue (result, r, 5));
        billing_stripe_result_t answer;
        int posted = billing_stripe_post (stripe, "/v1/billing/meter_events", &form, identifier,
                                          sb_mono_ms () + S_STRIPE_MS, &answer);
        billing_form_release (&form);
        //  Stripe refuses an identifier it has seen: the event is counted.
        bool known = answer.http_status == 400
                  && streq (answer.error_code, "resource_already_exists");
        bool delivered = posted == 0 || known;
        char why [160] = "";
        if (!delivered)
            snprintf (why, sizeof (why), "%d %s %s", answer.http_status, answer.error_type,
                      answer.error_code);
        if (delivered)
            sb_info ("meter: reported %s of %s (%s)%s", PQgetvalue (result, r, 4), org,
                     identifier, known ? ", which Stripe already had" : "");
        else
            sb_warn ("meter: Stripe did not take %s: %s: %s", identifier, why, answer.message);
        //  No answer, too many requests, Stripe's own failure: stop the
        //  round and back off. Another refusal concerns this row only.
        bool transient = !delivered
                      && (answer.http_status == 0 || answer.http_status == 429
                          || answer.http_status == 409 || answer.http_status >= 500);
        billing_stripe_result_release (&answer);
        if (s_mark (db, org, identifier, delivered, why) || transient)
            rc = -1;
    }
    PQclear (result);
    return rc;
}

//  The relay's step: one round (record, then send).
static int
s_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    s_reporter_t *self = (s_reporter_t *) arg;
    if (!self->stripe)
        self->stripe = billing_stripe_new (self->config->stripe_api_base,
                                           self->config->stripe_secret_key);
    if (!self->stripe)
        return -1;
    char period [16];
    //  The previous month first: its last calls were counted after the
    //  round that saw it end.
    for (int back = 1; back >= 0; back--) {
        s_period (back, period);
        if (s_record (db, client, self->plans, period))
            return -1;
    }
    return s_send (db, self->stripe);
}

int
billing_meter_start (const sb_config_t *config)
{
    if (!config->stripe_secret_key || !*config->stripe_secret_key) {
        sb_info ("meter: no SWITCHBOARD_STRIPE_SECRET_KEY: overage is not reported to Stripe");
        return 0;
    }
    char why [256];
    s_reporter.config = config;
    s_reporter.plans = sb_plans_load (config->plans_file, why, sizeof (why));
    if (!s_reporter.plans)
        return sb_error ("meter: bad plan catalogue: %s", why);
    sb_relay_spec_t spec = {
        .name = "meter", .schema = "billing", .step = s_step, .arg = &s_reporter,
        .idle_ms = config->billing_meter_interval_ms,
        .backoff_max_ms = config->billing_meter_interval_ms
    };
    s_relay = sb_relay_new (config, &spec);
    return s_relay ? 0 : -1;
}

void
billing_meter_stop (void)
{
    //  The thread ends first: then nothing uses the client any more.
    sb_relay_destroy (&s_relay);
    billing_stripe_destroy (&s_reporter.stripe);
    sb_plans_destroy (&s_reporter.plans);
}
