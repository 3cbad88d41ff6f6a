/*  sb.h — Switchboard's common library, the one header every binary includes.

    libsb is what the gateway and the four services share: logging,
    configuration, error codes, the msgpack envelope and its helpers, JSON
    conversion, PostgreSQL access and migrations, and the Majordomo bus
    (broker, client, worker) with the service skeleton on top of it.
*/
#ifndef SB_H_INCLUDED
#define SB_H_INCLUDED

#include <czmq.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef SB_VERSION
#define SB_VERSION "0.0.0"
#endif

#include "sb/util.h"
#include "sb/timestamp.h"
#include "sb/test.h"
#include "sb/log.h"
#include "sb/err.h"
#include "sb/config.h"
#include "sb/secrets.h"
#include "sb/mpk.h"
#include "sb/envelope.h"
#include "sb/json.h"
#include "sb/db.h"
#include "sb/migrate.h"
#include "sb/mdp.h"
#include "sb/broker.h"
#include "sb/client.h"
#include "sb/worker.h"
#include "sb/events.h"
#include "sb/curve.h"
#include "sb/jwt.h"
#include "sb/mail.h"
#include "sb/service.h"
#include "sb/plans.h"

#endif
