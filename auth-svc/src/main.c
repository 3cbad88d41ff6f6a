/*  main.c — auth-svc: identity and access: organizations, users, sessions, API keys.
    Everything but the operations is the skeleton's (sb/service.h).
*/
#include "auth.h"

int
main (int argc, char **argv)
{
    return sb_service_main (argc, argv, &auth_service);
}
