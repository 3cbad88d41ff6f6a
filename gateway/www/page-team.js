// gateway/www/page-team.js — the Team page (/app/team, admins only):
//
//   Members      GET /v1/users: name, email, role, "you" on the current
//                user; a role changed with a select and its Save button
//                (PATCH /v1/users/{id} {role}); removing a member (DELETE
//                /v1/users/{id}) through a confirmation dialog, never
//                yourself. Demoting yourself asks first (you are logged
//                out: a role change ends the user's sessions); 409
//                last_admin is explained (an organization keeps an admin).
//   Invite       POST /v1/invitations {email, role}: the plan's seats
//                (GET /v1/billing/subscription: members and pending
//                invitations count) shown; 402 plan_limit_reached as an
//                upgrade prompt linking /app/billing; 409 email_taken and
//                409 conflict (already invited) explained; field errors
//                next to their fields.
//   Pending      GET /v1/invitations: email, role, sent, expires; revoke
//                (DELETE /v1/invitations/{id}) through a dialog.
//
// States: loading, empty (no pending invitation), errors in words with a
// retry, and "only admins" for a user who reaches the page by a link (the
// nav hides it; a 403 forbidden from the API says the same). Answers that
// arrive after the user moved on draw nothing. Times (sent, expires) are
// in the browser's time zone, which the page names: invitations belong to
// no business (ui.js when, localZone).

import { api, ApiError, currentMe, logOut } from './api.js';
import { adminsOnly, confirmDialog, el, explain, formError, localZone, navigate, shell,
         when } from './ui.js';

// ---- the page -------------------------------------------------------------

const ROLES = [['user', 'User'], ['admin', 'Admin']];
const NAMES = { email: 'Email', role: 'Role' };
const TITLE = 'Team';
const WHAT = 'manage the team';

let uid = 0;

function roleSelect(id, value, label) {
    return el('select', { id, name: 'role', 'aria-label': label || null },
              ROLES.map(([key, text]) => el('option', { value: key, selected: key === value },
                                            text)));
}

function failed(error, retry) {
    shell(TITLE, el('p', { class: 'form-error', role: 'alert' }, explain(error)),
          el('button', { type: 'button', onclick: retry }, 'Try again'));
}

function seatsText(sub, users, invitations) {
    const limit = sub && sub.limits ? sub.limits.seats : undefined;
    const used = users + invitations;
    const pending = invitations ? ` (${invitations} pending)` : '';
    if (limit === undefined || limit === null || limit < 0)
        return `${used} seats used${pending} · unlimited on the ${sub ? sub.plan : ''} plan`;
    return `${used} of ${limit} seats used${pending} on the ${sub.plan} plan. ` +
           'Members and pending invitations each take a seat.';
}

function upgradePrompt(error) {
    const limit = error && error.limit !== undefined ? `All ${error.limit} seats` : 'All seats';
    return [`${limit} of your plan are taken (members and pending invitations). `,
            el('a', { href: '/app/billing', 'data-link': true }, 'Upgrade your plan'),
            ' to invite more people, or free a seat by revoking an invitation or removing ' +
            'a member.'];
}

const LAST_ADMIN = 'An organization needs at least one admin: make someone else an admin ' +
                   'first.';

// Loads and draws the page; notice: a line to show on top (after an
// action).
async function load(notice) {
    const me = currentMe();
    if (me && me.role !== 'admin')
        return adminsOnly(TITLE, WHAT);
    const at = location.pathname;
    shell(TITLE, el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    let users, invitations, sub;
    try {
        [users, invitations, sub] = await Promise.all([
            api('GET', '/v1/users'), api('GET', '/v1/invitations'),
            api('GET', '/v1/billing/subscription').catch(() => null)]);
    } catch (error) {
        if (location.pathname !== at || (error instanceof ApiError && error.status === 401))
            return;
        if (error instanceof ApiError && error.status === 403)
            return adminsOnly(TITLE, WHAT);
        return failed(error, () => load());
    }
    if (location.pathname !== at)
        return;             // the user moved on while the page was loading
    draw(me, users.data || [], invitations.data || [], sub, notice);
}

function draw(me, users, invitations, sub, notice) {
    const myId = me && me.user ? me.user.id : null;
    const removeDialog = confirmDialog({
        title: 'Remove this member?', yes: 'Yes, remove',
        text: (u) => `${u.name} (${u.email}) loses access at once. Admin API keys they made ` +
                     'and admin invitations they sent are revoked.',
        action: async (u) => {
            await api('DELETE', `/v1/users/${u.id}`);
            load(`${u.name} was removed from the team.`);
        }
    });
    const demoteDialog = confirmDialog({
        title: 'Stop being an admin?', yes: 'Yes, make me a user',
        text: () => 'You will no longer manage the team, API keys, billing or settings, and ' +
                    'you will be logged out: log in again to continue as a user.',
        action: async (u) => {
            try {
                await api('PATCH', `/v1/users/${u.id}`, { role: 'user' });
            } catch (error) {
                if (error instanceof ApiError && error.code === 'last_admin')
                    error.message = LAST_ADMIN;
                throw error;
            }
            await logOut();
            navigate('/', 'Your role is now user: please log in again.');
        }
    });
    const revokeDialog = confirmDialog({
        title: 'Revoke this invitation?', yes: 'Yes, revoke',
        text: (inv) => `The invitation to ${inv.email} stops working: the link in their mail ` +
                       'can no longer be used.',
        action: async (inv) => {
            await api('DELETE', `/v1/invitations/${inv.id}`);
            load(`The invitation to ${inv.email} was revoked.`);
        }
    });

    const member = (u) => {
        const n = ++uid;
        const self = u.id === myId;
        const select = roleSelect(`u-role-${n}`, u.role);
        const status = el('p', { class: 'field-error', id: `u-role-${n}-error`, role: 'alert',
                                 hidden: true });
        select.setAttribute('aria-describedby', status.id);
        const save = el('button', { type: 'button', class: 'small', disabled: true,
                                    'aria-label': `Save role of ${u.name}` }, 'Save role');
        select.addEventListener('change', () => {
            save.disabled = select.value === u.role;
        });
        save.addEventListener('click', async (event) => {
            status.hidden = true;
            if (self && select.value === 'user')
                return demoteDialog.ask(u, event.currentTarget);
            save.disabled = true;
            try {
                await api('PATCH', `/v1/users/${u.id}`, { role: select.value });
                load(`${u.name} is now ${select.value === 'admin' ? 'an admin' : 'a user'}. ` +
                     'They need to log in again.');
            } catch (error) {
                if (error instanceof ApiError && error.status === 401)
                    return;
                status.textContent = error instanceof ApiError && error.code === 'last_admin'
                                     ? LAST_ADMIN : explain(error);
                status.hidden = false;
                save.disabled = false;
            }
        });
        return el('li', { class: 'card member', 'data-id': u.id },
            el('h3', { class: 'member-name' }, u.name,
               self ? el('span', { class: 'you' }, ' (you)') : null),
            el('p', { class: 'member-email' }, u.email),
            el('div', { class: 'member-actions' },
               el('label', { for: select.id }, el('span', { class: 'sr' }, `${u.name}: `), 'Role'),
               select, save,
               self ? null
                    : el('button', { type: 'button', class: 'danger small',
                                     'aria-label': `Remove ${u.name}`,
                                     onclick: (event) => removeDialog.ask(u, event.currentTarget) },
                         'Remove')),
            status);
    };

    // The invitation form.
    const n = ++uid;
    const email = el('input', { id: `i-email-${n}`, name: 'email', type: 'email', required: true,
                                autocomplete: 'off', maxlength: 254,
                                'aria-describedby': `i-email-${n}-error` });
    const role = roleSelect(`i-role-${n}`, 'user');
    role.setAttribute('aria-describedby', `i-role-${n}-hint i-role-${n}-error`);
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    const send = el('button', { type: 'submit', class: 'primary' }, busy, 'Send invitation');
    const box = el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const form = el('form', { class: 'card invite-form', novalidate: true,
                              'aria-label': 'Invite someone' },
        el('h2', {}, 'Invite someone'),
        box,
        el('div', { class: 'field' }, el('label', { for: email.id }, 'Email'), email,
           el('p', { class: 'field-error', id: `i-email-${n}-error`, hidden: true })),
        el('div', { class: 'field' }, el('label', { for: role.id }, 'Role'), role,
           el('p', { class: 'hint', id: `i-role-${n}-hint` },
              'Admins also manage the team, API keys, billing and settings.'),
           el('p', { class: 'field-error', id: `i-role-${n}-error`, hidden: true })),
        send);
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        box.classList.remove('upgrade');
        if (!form.checkValidity()) {
            form.reportValidity();
            return;
        }
        formError(form, null, NAMES);
        send.disabled = true;
        busy.hidden = false;
        const address = email.value.trim();
        try {
            await api('POST', '/v1/invitations', { email: address, role: role.value });
            load(`An invitation was mailed to ${address}.`);
        } catch (error) {
            if (error instanceof ApiError && error.status === 401)
                return;
            formError(form, error, NAMES);
            if (error instanceof ApiError && error.code === 'plan_limit_reached') {
                box.replaceChildren(...upgradePrompt(error));
                box.classList.add('upgrade');
            } else if (error instanceof ApiError && error.code === 'email_taken') {
                box.textContent = `${address} already has a Switchboard account, so it ` +
                                  'cannot be invited. Invite another email address.';
            } else if (error instanceof ApiError && error.code === 'conflict') {
                box.textContent = `${address} already has a pending invitation. To send a ` +
                                  'new one, revoke it below first.';
            }
        } finally {
            send.disabled = false;
            busy.hidden = true;
        }
    });

    const pending = (inv) => el('li', { class: 'card invitation', 'data-id': inv.id },
        el('h3', { class: 'invitation-email' }, inv.email),
        el('dl', {},
           el('div', {}, el('dt', {}, 'Role'), el('dd', { class: 'role' },
                                                   inv.role === 'admin' ? 'Admin' : 'User')),
           el('div', {}, el('dt', {}, 'Sent'), el('dd', {}, when(inv.created_at, localZone()))),
           el('div', {}, el('dt', {}, 'Expires'), el('dd', {}, when(inv.expires_at, localZone())))),
        el('button', { type: 'button', class: 'danger small',
                       'aria-label': `Revoke the invitation to ${inv.email}`,
                       onclick: (event) => revokeDialog.ask(inv, event.currentTarget) },
           'Revoke'));

    shell(TITLE,
          notice ? el('p', { class: 'notice', role: 'status', tabindex: '-1' }, notice) : null,
          el('p', { class: 'limit seats' }, seatsText(sub, users.length, invitations.length)),
          el('section', { 'aria-labelledby': 'team-members' },
             el('h2', { id: 'team-members' }, 'Members'),
             el('ul', { class: 'team-list' }, users.map(member))),
          form,
          el('section', { 'aria-labelledby': 'team-pending' },
             el('h2', { id: 'team-pending' }, 'Pending invitations'),
             invitations.length
                 ? el('ul', { class: 'team-list' }, invitations.map(pending))
                 : el('p', { class: 'empty' }, 'No pending invitations.'),
             el('p', { class: 'hint' }, `Times are in your browser's time zone (${localZone()}).`)),
          removeDialog.node, demoteDialog.node, revokeDialog.node);
    const focus = document.querySelector('main .notice') || document.getElementById('main');
    focus.focus();
}

export function teamPage(_which, notice) {
    return load(notice);
}
