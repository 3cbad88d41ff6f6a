/*  main.c — tenant-svc: the tenants' data: businesses, calls, orders, analytics.
    Everything but the operations is the skeleton's (sb/service.h).
*/
#include "tenant.h"

int
main (int argc, char **argv)
{
    return sb_service_main (argc, argv, &tenant_service);
}
