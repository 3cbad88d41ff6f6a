#!/usr/bin/env bash
# A demoted or removed admin keeps no power through what they made. Admin
# A makes an admin key (with a session), another admin key with that key,
# a user key, an admin invitation and a user invitation; GET /v1/api-keys
# shows created_by (A's id, also for the key made with a key) and
# created_by_email. When the owner demotes A to user: both admin keys get
# 401 within a second (polled), the admin invitation cannot be accepted
# (400 invalid_token), while A's user key, the user invitation and the
# owner's own admin key keep working. When the owner removes admin B, B's
# admin key (in the gateway's cache) gets 401 within a second and B's admin
# invitation cannot be accepted; the list still shows who made the key.
. "$(dirname "$0")/lib/auth.sh"
suite_init
# Seats without limit (the free plan's 2 would stop the invitations).
"$SUITE_PYTHON" - "$SUITE_ROOT/deploy/plans.json" "$SUITE_TMP/plans.json" <<'PY'
import json, sys
plans = json.load(open(sys.argv[1]))
for plan in plans["plans"]:
    plan["limits"]["seats"] = -1
    plan["limits"]["api_requests_per_minute"] = -1
json.dump(plans, open(sys.argv[2], "w"))
PY
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

pw=$AUTH_PASSWORD
link="$SWITCHBOARD_PUBLIC_URL/accept-invitation?token="

signup O owner@example.com "$pw" "Olga Owner" "Demote Org" demoteorg
t_status "signup the owner: 201" 201

# An admin joins through an invitation.
invite_admin () {    # PFX EMAIL NAME
    http_as "$O_AT" POST /v1/invitations "$(jobj email="$2" role=admin)"
    [[ $HTTP_STATUS == 201 ]] || { t_diag "invite $2: HTTP $HTTP_STATUS $HTTP_BODY"; return 1; }
    local tok
    tok=$(mail_token "$2" "$link" 15) || return 1
    accept_invite "$1" "$tok" "$3" "$pw"
}
key_of () {          # TOKEN-OR-KEY NAME ROLE [header: bearer|key]
    if [[ ${4:-bearer} == key ]]; then
        http_key "$1" POST /v1/api-keys "$(jobj name="$2" role="$3")"
    else
        http_as "$1" POST /v1/api-keys "$(jobj name="$2" role="$3")"
    fi
    [[ $HTTP_STATUS == 201 ]] || t_diag "key $2: HTTP $HTTP_STATUS $HTTP_BODY"
}
item_of () {         # LIST-JSON ID FIELD
    "$SUITE_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); k=[k for k in d["data"] if k["id"]==sys.argv[2]]; v=k[0].get(sys.argv[3]) if k else "absent"; print("null" if v is None else v)' \
        "$1" "$2" "$3" 2>/dev/null
}

# ---- demotion ----------------------------------------------------------------------
invite_admin A ada@example.com "Ada Admin"
t_status "admin A joins: 201" 201
t_is "  as admin" "$A_ROLE" admin

key_of "$A_AT" "A admin" admin;      ka=$(json_get "$HTTP_BODY" .key);  ka_id=$(json_get "$HTTP_BODY" .id)
t_field "A's admin key: created_by A" .created_by "$A_UID"
key_of "$ka" "A admin via key" admin key; ka2=$(json_get "$HTTP_BODY" .key); ka2_id=$(json_get "$HTTP_BODY" .id)
t_field "the admin key A's key made: created_by A" .created_by "$A_UID"
key_of "$A_AT" "A user" user;        ku=$(json_get "$HTTP_BODY" .key)
key_of "$O_AT" "O admin" admin;      ko=$(json_get "$HTTP_BODY" .key);  ko_id=$(json_get "$HTTP_BODY" .id)

http_as "$A_AT" POST /v1/invitations "$(jobj email=adm-by-a@example.com role=admin)"
t_status "A invites an admin: 201" 201
tok_admin=$(mail_token adm-by-a@example.com "$link" 15)
http_key "$ka" POST /v1/invitations "$(jobj email=adm-by-ka@example.com role=admin)"
t_status "A's admin key invites an admin: 201" 201
tok_admin_k=$(mail_token adm-by-ka@example.com "$link" 15)
http_as "$A_AT" POST /v1/invitations "$(jobj email=usr-by-a@example.com role=user)"
t_status "A invites a user: 201" 201
tok_user=$(mail_token usr-by-a@example.com "$link" 15)

http_as "$O_AT" GET /v1/api-keys
t_status "GET /v1/api-keys: 200" 200
list=$HTTP_BODY
t_is "  A's admin key: created_by" "$(item_of "$list" "$ka_id" created_by)" "$A_UID"
t_is "  A's admin key: created_by_email" "$(item_of "$list" "$ka_id" created_by_email)" ada@example.com
t_is "  the key made with a key: created_by A" "$(item_of "$list" "$ka2_id" created_by)" "$A_UID"
t_is "  O's key: created_by O" "$(item_of "$list" "$ko_id" created_by)" "$O_UID"
t_is "  O's key: created_by_email" "$(item_of "$list" "$ko_id" created_by_email)" owner@example.com

for k in "$ka" "$ka2" "$ku"; do
    http_key "$k" GET /v1/me
    [[ $HTTP_STATUS == 200 ]] || t_diag "a key of A before the demotion: HTTP $HTTP_STATUS"
done
http_key "$ka" GET /v1/api-keys
t_status "A's admin key on an admin route before the demotion: 200" 200

http_as "$O_AT" PATCH "/v1/users/$A_UID" "$(jobj role=user)"
t_status "the owner demotes A: 200" 200
t_within "A's admin key gets 401 within 1 s" 1 401 GET /v1/me "" -H "X-API-Key: $ka"
t_within "the admin key made with it gets 401 within 1 s" 1 401 GET /v1/me "" -H "X-API-Key: $ka2"
http_key "$ku" GET /v1/me
t_status "A's user key still works" 200
http_key "$ko" GET /v1/api-keys
t_status "the owner's admin key still works" 200
http_as "$O_AT" GET /v1/api-keys
t_like "  A's admin key is listed revoked" "$(item_of "$HTTP_BODY" "$ka_id" revoked_at)" '^[0-9]{4}-'
t_is "  the owner's is not" "$(item_of "$HTTP_BODY" "$ko_id" revoked_at)" null

accept_invite X "$tok_admin" "Xavier" "$pw"
t_error "A's admin invitation cannot be accepted: 400 invalid_token" 400 invalid_token
accept_invite X "$tok_admin_k" "Xenia" "$pw"
t_error "the admin invitation A's key sent cannot be accepted" 400 invalid_token
accept_invite Y "$tok_user" "Yuri" "$pw"
t_status "A's user invitation still can: 201" 201
t_is "  as user" "$Y_ROLE" user

# ---- removal ------------------------------------------------------------------------
invite_admin B bob@example.com "Bob Admin"
t_status "admin B joins: 201" 201
key_of "$B_AT" "B admin" admin;      kb=$(json_get "$HTTP_BODY" .key);  kb_id=$(json_get "$HTTP_BODY" .id)
http_as "$B_AT" POST /v1/invitations "$(jobj email=adm-by-b@example.com role=admin)"
t_status "B invites an admin: 201" 201
tok_b=$(mail_token adm-by-b@example.com "$link" 15)
http_key "$kb" GET /v1/api-keys
t_status "B's admin key works (and is cached at the gateway)" 200

http_as "$O_AT" DELETE "/v1/users/$B_UID"
t_status "the owner removes B: 204" 204
t_within "B's admin key gets 401 within 1 s" 1 401 GET /v1/me "" -H "X-API-Key: $kb"
accept_invite Z "$tok_b" "Zoe" "$pw"
t_error "B's admin invitation cannot be accepted: 400 invalid_token" 400 invalid_token
http_as "$O_AT" GET /v1/api-keys
t_is "the list still shows who made B's key" "$(item_of "$HTTP_BODY" "$kb_id" created_by)" "$B_UID"
t_like "  revoked" "$(item_of "$HTTP_BODY" "$kb_id" revoked_at)" '^[0-9]{4}-'
http_key "$ko" GET /v1/me
t_status "the owner's admin key still works" 200

t_done
