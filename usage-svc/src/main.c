/*  main.c — usage-svc: usage events, counters, quotas and reservations.
    Everything but the operations is the skeleton's (sb/service.h).
*/
#include "usage.h"

int
main (int argc, char **argv)
{
    return sb_service_main (argc, argv, &usage_service);
}
