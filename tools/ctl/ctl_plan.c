/*  ctl_plan.c — `switchboardctl plan set ORG PLAN [--status S] [--reason
    TEXT]` and `plan show ORG`: a plan given by hand (a comped account).

    set is billing-svc's subscriptions.assign, the op behind the operator
    route PUT /v1/sys/subscriptions/{organization_id}: the one way a plan is
    given outside Stripe (billing_sub_save: new entitlements version,
    subscription.changed). An organization without a Stripe subscription so
    set is comped: it counts in `revenue` as such, never as MRR. The reason
    goes to billing-svc's log. show is billing.subscription for ORG.
*/
#include "ctl.h"

static const char s_usage [] =
    "usage: switchboardctl [--json] plan set ORG PLAN [--status S] [--reason TEXT]\n"
    "       switchboardctl [--json] plan show ORG\n\n"
    "set gives organization ORG (its id) plan PLAN by hand, outside Stripe (a\n"
    "comped account, a contract): status active unless --status says trialing,\n"
    "past_due or canceled; the reason is logged by billing-svc.\n"
    "show prints ORG's subscription and entitlements as billing-svc has them.\n";

int
ctl_plan (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    static const char *const with_value [] = { "--status", "--reason", NULL };
    const char *verb = ctl_word (argc, argv, 0, with_value);
    const char *org = ctl_word (argc, argv, 1, with_value);
    const char *plan = ctl_word (argc, argv, 2, with_value);
    bool set = verb && streq (verb, "set") && org && plan && !ctl_word (argc, argv, 3, with_value);
    bool show = verb && streq (verb, "show") && org && !plan;
    if (!set && !show) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    json_t *body = NULL;
    int status;
    if (set) {
        json_t *args = json_pack ("{s:s, s:s}", "organization_id", org, "plan", plan);
        const char *given = ctl_option (argc, argv, "--status");
        const char *reason = ctl_option (argc, argv, "--reason");
        if (given)
            json_object_set_new (args, "status", json_string (given));
        if (reason)
            json_object_set_new (args, "reason", json_string (reason));
        status = ctl_call (ctl, "billing", "subscriptions.assign", NULL, args, &body);
        json_decref (args);
    }
    else
        status = ctl_call (ctl, "billing", "billing.subscription", org, NULL, &body);
    if (!body)
        return ctl_exit_code (status);
    if (ctl->json)
        ctl_print_json (body);
    else
    if (set)
        printf ("%s: plan %s, status %s (entitlements version %lld)\n", org,
                json_string_value (json_object_get (body, "plan")),
                json_string_value (json_object_get (body, "status")),
                (long long) json_integer_value (json_object_get (body, "version")));
    else {
        const char *key;
        json_t *value;
        json_object_foreach (body, key, value) {
            char *text = json_is_string (value) ? NULL : json_dumps (value, JSON_COMPACT
                                                                     | JSON_ENCODE_ANY);
            printf ("%-24s %s\n", key, text ? text : json_string_value (value));
            free (text);
        }
    }
    json_decref (body);
    return CTL_OK;
}
