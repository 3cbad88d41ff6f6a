/*  main.c — billing-svc: plans, subscriptions, Stripe checkout and webhooks.
    Everything but the operations is the skeleton's (sb/service.h).
*/
#include "billing_service.h"

int
main (int argc, char **argv)
{
    return sb_service_main (argc, argv, &billing_service);
}
