#!/usr/bin/env bash
# Support requests (POST /v1/support/requests, auth-svc's support.create)
# through a real SMTP sink and the shipped plan catalogue: a user on free
# sends one and gets 202 {id, priority: false}; the support address
# (SWITCHBOARD_SUPPORT_EMAIL) gets a mail naming the request, the
# organization (id and name), the user (id, email, name), the plan and the
# priority, with the message's lines intact; the user gets a confirmation
# naming the request. Put on pro by the operator (pro has priority_support),
# the answer says priority true and so does the mail (its subject too). An
# API key may send one: the mail names the key, and no confirmation goes
# anywhere (the outbox holds none for it). An Idempotency-Key repeat gets
# the same answer and queues no second mail (the outbox counts it once, and
# a later request's mail arrives with none before it). Bad input: 400
# validation_failed naming the field (subject empty, on two lines, too
# long; message empty or too long; both missing); no credential: 401.
# Nothing is queued for a refused request.
. "$(dirname "$0")/lib/auth.sh"
suite_init
unset SWITCHBOARD_PLANS_FILE            # the shipped catalogue: pro has priority_support
export SWITCHBOARD_SUPPORT_EMAIL=helpdesk@support.example
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

support=$SWITCHBOARD_SUPPORT_EMAIL
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

outbox_count () {
    suite_psql -c "SELECT count (*) FROM auth.mail_outbox WHERE $1"
}
# has_line DESC TEXT LINE: TEXT has LINE as one of its lines, exactly.
has_line () {
    if grep -Fxq -- "$3" <<< "$2"; then
        t_pass "$1"
    else
        t_fail "$1" "    no line: $3" "$(sed 's/^/    | /' <<< "$2")"
    fi
}
# has_text DESC TEXT NEEDLE: NEEDLE is a substring of TEXT.
has_text () {
    if [[ $2 == *"$3"* ]]; then
        t_pass "$1"
    else
        t_fail "$1" "    missing: $3" "$(sed 's/^/    | /' <<< "$2")"
    fi
}

signup U una@example.com "$AUTH_PASSWORD" "Una Asker" "Bistro Uno" bistrouno
t_status "signup: 201" 201
http_as "$U_AT" GET /v1/me
t_field "the organization is on free" .plan free

# ---- a user on free ---------------------------------------------------------
message=$'The phone line drops calls.\nSince Monday, at lunch.\n\tThanks!'
http_as "$U_AT" POST /v1/support/requests "$(jobj subject="Calls are dropped" message="$message")"
t_status "a user sends a request: 202" 202
t_field "  priority false on free" .priority false
req1=$(json_get "$HTTP_BODY" .id)
t_like "  an id (UUID)" "$req1" "$uuid_re"

mail=$(mail_wait "$support" 30)
t_ok "the support address gets a mail" test -n "$mail"
body=$(mail_body "$mail")
has_text "  it names the request" "$body" "$req1"
has_line "  the organization: id and name" "$body" "organization: $U_OID (Bistro Uno)"
has_line "  the user: id, name and email" "$body" "from: user $U_UID, Una Asker <una@example.com>"
has_line "  the plan" "$body" "plan: free (active)"
has_line "  no priority" "$body" "priority: false"
has_line "  the subject" "$body" "subject: Calls are dropped"
has_text "  the message with its line breaks and tab" "$body" "$message"
t_is "  its subject header" "$(mail_header "$mail" Subject)" "[support] Calls are dropped"

mail=$(mail_wait una@example.com 30)
t_ok "the user gets a confirmation" test -n "$mail"
body=$(mail_body "$mail")
has_text "  naming the request" "$body" "$req1"
has_text "  and its subject" "$body" '"Calls are dropped"'
t_is "  its subject header" "$(mail_header "$mail" Subject)" "We have your support request"

# ---- bad input: 400 naming the field, nothing queued --------------------------
queued=$(outbox_count "kind LIKE 'support%'")
http_as "$U_AT" POST /v1/support/requests "$(jobj subject= message=hello)"
t_error "an empty subject: 400" 400 validation_failed
t_ok "  names subject" json_get "$HTTP_BODY" .error.fields.subject
http_as "$U_AT" POST /v1/support/requests "$(jobj subject=$'two\nlines' message=hello)"
t_error "a subject on two lines: 400" 400 validation_failed
t_ok "  names subject" json_get "$HTTP_BODY" .error.fields.subject
http_as "$U_AT" POST /v1/support/requests "$(jobj subject="$(printf 'x%.0s' {1..201})" message=hello)"
t_error "a subject of 201 characters: 400" 400 validation_failed
t_ok "  names subject" json_get "$HTTP_BODY" .error.fields.subject
http_as "$U_AT" POST /v1/support/requests "$(jobj subject=hello message=)"
t_error "an empty message: 400" 400 validation_failed
t_ok "  names message" json_get "$HTTP_BODY" .error.fields.message
long=$(head -c 10001 /dev/zero | tr '\0' 'm')
http_as "$U_AT" POST /v1/support/requests "$(jobj subject=hello message="$long")"
t_error "a message of 10,001 characters: 400" 400 validation_failed
t_ok "  names message" json_get "$HTTP_BODY" .error.fields.message
http_as "$U_AT" POST /v1/support/requests "$(jobj subject=hello message:=42)"
t_error "a message that is not a string: 400" 400 validation_failed
t_ok "  names message" json_get "$HTTP_BODY" .error.fields.message
http_as "$U_AT" POST /v1/support/requests '{}'
t_error "neither field: 400" 400 validation_failed
t_ok "  names subject" json_get "$HTTP_BODY" .error.fields.subject
t_ok "  and message" json_get "$HTTP_BODY" .error.fields.message
http POST /v1/support/requests "$(jobj subject=hello message=hello)"
t_error "no credential: 401" 401 unauthenticated
t_is "nothing was queued for the refused requests" "$(outbox_count "kind LIKE 'support%'")" "$queued"

# ---- an Idempotency-Key repeat sends nothing twice -----------------------------
body_json=$(jobj subject="Once only" message="Please answer once.")
http_as "$U_AT" POST /v1/support/requests "$body_json" -H "Idempotency-Key: support-1"
t_status "a request with an Idempotency-Key: 202" 202
req2=$(json_get "$HTTP_BODY" .id)
http_as "$U_AT" POST /v1/support/requests "$body_json" -H "Idempotency-Key: support-1"
t_status "  its repeat: 202" 202
t_field "  the same id" .id "$req2"
t_is "  replayed" "$(http_header Idempotent-Replayed)" true
t_is "  one support mail and one confirmation queued" \
     "$(outbox_count "kind = 'support' AND subject = '[support] Once only'"),$(outbox_count "kind LIKE 'support%'")" \
     "1,$((queued + 2))"

# ---- an API key --------------------------------------------------------------
http_as "$U_AT" POST /v1/api-keys "$(jobj name="Kitchen tablet")"
t_status "the admin creates an API key: 201" 201
key=$(json_get "$HTTP_BODY" .key)
key_id=$(json_get "$HTTP_BODY" .id)
confirmations=$(outbox_count "kind = 'support_confirmation'")
http_key "$key" POST /v1/support/requests "$(jobj subject="From the tablet" message="Sent by a key.")"
t_status "an API key sends a request: 202" 202
req3=$(json_get "$HTTP_BODY" .id)
t_is "  no confirmation queued (a key has no mailbox)" \
     "$(outbox_count "kind = 'support_confirmation'")" "$confirmations"

# The next two mails to support: the idempotent request's once, and the key's.
m1=$(mail_wait "$support" 30)
m2=$(mail_wait "$support" 30)
b1=$(mail_body "$m1")
b2=$(mail_body "$m2")
[[ $b1 == *"$req3"* ]] && { body=$b1; other=$b2; } || { body=$b2; other=$b1; }
has_text "the idempotent request's mail arrives" "$other" "$req2"
has_text "and the key's" "$body" "$req3"
has_line "  it names the key" "$body" "from: API key $key_id (Kitchen tablet)"
has_line "  and the organization" "$body" "organization: $U_OID (Bistro Uno)"
t_is "support got three mails in all (no second copy)" "$(mail_count "$support")" 3
mail=$(mail_wait una@example.com 30)
has_text "the user's second confirmation is the idempotent request's" "$(mail_body "$mail")" "$req2"
t_is "  the user got two confirmations in all" "$(mail_count una@example.com)" 2

# ---- a plan with priority_support ------------------------------------------------
http_op PUT "/v1/sys/subscriptions/$U_OID" '{"plan":"pro"}'
t_status "the operator puts the organization on pro: 200" 200
me_is_pro () {
    http_as "$U_AT" GET /v1/me
    [[ $(json_get "$HTTP_BODY" .plan) == pro ]]
}
t_ok "/v1/me says pro" poll_until 10 me_is_pro
http_as "$U_AT" POST /v1/support/requests "$(jobj subject="Urgent" message="Lunch rush.")"
t_status "a request on pro: 202" 202
t_field "  priority true" .priority true
req4=$(json_get "$HTTP_BODY" .id)
mail=$(mail_wait "$support" 30)
body=$(mail_body "$mail")
has_text "the support mail names it" "$body" "$req4"
has_line "  priority" "$body" "priority: true"
has_line "  the plan" "$body" "plan: pro (active)"
t_is "  its subject says priority" "$(mail_header "$mail" Subject)" "[priority] [support] Urgent"
mail=$(mail_wait una@example.com 30)
has_text "the confirmation says priority" "$(mail_body "$mail")" "with priority"

t_done
