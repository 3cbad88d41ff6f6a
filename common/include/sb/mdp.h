/*  mdp.h — Majordomo Protocol MDP/0.1 (ZeroMQ RFC 7) constants.

    Client ↔ broker: [empty] "MDPC01" service body
    Worker ↔ broker: [empty] "MDPW01" command ...
        READY     service
        REQUEST   client-address, empty, body
        REPLY     client-address, empty, body
        HEARTBEAT
        DISCONNECT
*/
#ifndef SB_MDP_H_INCLUDED
#define SB_MDP_H_INCLUDED

#define SB_MDPC "MDPC01"
#define SB_MDPW "MDPW01"

#define SB_MDPW_READY       "\001"
#define SB_MDPW_REQUEST     "\002"
#define SB_MDPW_REPLY       "\003"
#define SB_MDPW_HEARTBEAT   "\004"
#define SB_MDPW_DISCONNECT  "\005"

#define SB_SERVICE_NAME_MAX 32

#endif
