/*  ctl_revenue.c — `switchboardctl revenue [--month YYYY-MM]`: MRR by plan
    and in total, organizations per plan and status, and the month's new,
    churned and past-due subscriptions, from billing-svc's sys.revenue
    (billing-svc/src/billing_revenue.c defines each figure), completed with
    auth-svc's sys.orgs.count: an organization that never left free has no
    subscription row in billing-svc, so the organizations auth-svc knows
    beyond billing's rows are added to the free plan and to status active
    (`without_subscription`), and the month's sign-ups are shown. Either
    service not answering fails the command (exit 3): a partial count would
    look exact. The table shows dollars (cents / 100, two decimals); --json
    prints the merged answer (cents).
*/
#include "ctl.h"

static const char s_usage [] =
    "usage: switchboardctl [--json] revenue [--month YYYY-MM]\n\n"
    "Monthly recurring revenue (MRR) by plan and in total, organizations per\n"
    "plan and status, and the month's new, churned and past-due subscriptions\n"
    "(default month: this one, UTC). MRR counts the plans billed by Stripe\n"
    "that are active or past due; past due is shown again as MRR at risk;\n"
    "comped plans (given by hand), trials and canceled ones add nothing.\n";

static int64_t
s_int (const json_t *object, const char *key)
{
    return (int64_t) json_integer_value (json_object_get (object, key));
}

static void
s_money (char *out, size_t size, int64_t cents)
{
    long long whole = llabs ((long long) cents);
    snprintf (out, size, "%s%lld.%02lld", cents < 0 ? "-" : "", whole / 100, whole % 100);
}

//  Adds the organizations auth-svc knows beyond billing's rows to free (the
//  catalogue's first plan without a price) and to active.
static void
s_merge_organizations (json_t *body, const json_t *orgs)
{
    int64_t known = s_int (orgs, "organizations");
    int64_t rows = s_int (body, "organizations");
    int64_t without = known > rows ? known - rows : 0;
    size_t index;
    json_t *plan;
    json_array_foreach (json_object_get (body, "by_plan"), index, plan) {
        if (s_int (plan, "price_cents") == 0) {
            json_object_set_new (plan, "organizations",
                                 json_integer (s_int (plan, "organizations") + without));
            break;
        }
    }
    json_t *by_status = json_object_get (body, "by_status");
    if (json_is_object (by_status))
        json_object_set_new (by_status, "active",
                             json_integer (s_int (by_status, "active") + without));
    json_object_set_new (body, "organizations", json_integer (rows + without));
    json_object_set_new (body, "without_subscription", json_integer (without));
    json_object_set_new (body, "signed_up", json_integer (s_int (orgs, "signed_up")));
    json_object_set_new (body, "suspended", json_integer (s_int (orgs, "suspended")));
}

int
ctl_revenue (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    static const char *const with_value [] = { "--month", NULL };
    if (ctl_word (argc, argv, 0, with_value)) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    json_t *args = json_object ();
    const char *month = ctl_option (argc, argv, "--month");
    if (month)
        json_object_set_new (args, "month", json_string (month));
    json_t *body = NULL, *orgs = NULL;
    int status = ctl_call (ctl, "billing", "sys.revenue", NULL, args, &body);
    if (body)
        status = ctl_call (ctl, "auth", "sys.orgs.count", NULL, args, &orgs);
    json_decref (args);
    if (!body || !orgs) {
        json_decref (body);
        return ctl_exit_code (status);
    }
    s_merge_organizations (body, orgs);
    json_decref (orgs);
    if (ctl->json)
        ctl_print_json (body);
    else {
        char money [32];
        const char *currency = json_string_value (json_object_get (body, "currency"));
        printf ("Revenue of %s (%s)\n\n", json_string_value (json_object_get (body, "month")),
                currency ? currency : "usd");
        printf ("%-14s %10s %13s %8s %8s %12s\n", "PLAN", "PRICE", "ORGANIZATIONS", "PAYING",
                "COMPED", "MRR");
        size_t index;
        json_t *plan;
        json_array_foreach (json_object_get (body, "by_plan"), index, plan) {
            char price [32];
            s_money (price, sizeof (price), s_int (plan, "price_cents"));
            s_money (money, sizeof (money), s_int (plan, "mrr_cents"));
            printf ("%-14s %10s %13lld %8lld %8lld %12s\n",
                    json_string_value (json_object_get (plan, "plan")), price,
                    (long long) s_int (plan, "organizations"), (long long) s_int (plan, "paying"),
                    (long long) s_int (plan, "comped"), money);
        }
        s_money (money, sizeof (money), s_int (body, "mrr_cents"));
        printf ("%-14s %10s %13lld %8lld %8lld %12s\n\n", "total", "",
                (long long) s_int (body, "organizations"), (long long) s_int (body, "paying"),
                (long long) s_int (body, "comped"), money);
        s_money (money, sizeof (money), s_int (body, "at_risk_cents"));
        printf ("MRR at risk (past due): %s\n", money);
        json_t *by_status = json_object_get (body, "by_status");
        printf ("Organizations by status: trialing %lld, active %lld, past_due %lld, canceled %lld\n",
                (long long) s_int (by_status, "trialing"), (long long) s_int (by_status, "active"),
                (long long) s_int (by_status, "past_due"),
                (long long) s_int (by_status, "canceled"));
        printf ("This month: new %lld, churned %lld, entered past due %lld, new subscriptions %lld\n",
                (long long) s_int (body, "new"), (long long) s_int (body, "churned"),
                (long long) s_int (body, "entered_past_due"),
                (long long) s_int (body, "new_subscriptions"));
        printf ("Organizations: %lld signed up this month, %lld never subscribed (on free), "
                "%lld suspended\n",
                (long long) s_int (body, "signed_up"),
                (long long) s_int (body, "without_subscription"),
                (long long) s_int (body, "suspended"));
    }
    json_decref (body);
    return CTL_OK;
}
