// gateway/www/page-api-keys.js — the API keys page (/app/api-keys, admins
// only):
//
//   Create   name, role (user or admin), an optional expiry date (the key
//            stops working at the end of that day in the browser's time
//            zone) → POST /v1/api-keys. The answer's key is shown ONCE, in
//            a highlighted box with a copy button (ui.js copyRow) and the
//            words "you will not see it again"; it lives only in that box
//            (gone with Done or when the user leaves the page).
//   List     GET /v1/api-keys: name, prefix, role, created by (the
//            creator's email; "a removed user" when null), created, last
//            used ("never" when null), expiry, and revoked or expired
//            ones marked; a Refresh button reads it again (last use is
//            recorded within seconds of a call).
//   Revoke   DELETE /v1/api-keys/{id} through a confirmation dialog.
//
// Times are in the browser's time zone (ui.js when and localZone, with the
// IANA zone named on the page): a key belongs to no business. States:
// loading, empty, errors in words with a retry, "only admins" for a user
// who reaches the page by a link (a 403 from the API says the same).
// Answers that arrive after the user moved on draw nothing.

import { api, ApiError, currentMe } from './api.js';
import { adminsOnly, confirmDialog, copyRow, el, explain, formError, localZone, shell,
         when } from './ui.js';

const TITLE = 'API keys';
const WHAT = 'manage API keys';
const NAMES = { name: 'Name', role: 'Role', expires_at: 'Expires' };

let uid = 0;

// "2026-12-03": the browser's local date of d.
function localDate(d) {
    const pad = (v) => String(v).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// The end (23:59:59 local) of a date input's day, as RFC 3339 UTC.
function endOfDay(value) {
    const [y, m, d] = value.split('-').map(Number);
    return new Date(y, m - 1, d, 23, 59, 59).toISOString();
}

function keyState(k) {
    if (k.revoked_at)
        return { cls: 'revoked', text: `Revoked ${when(k.revoked_at, localZone())}` };
    if (k.expires_at && Date.parse(k.expires_at) <= Date.now())
        return { cls: 'expired', text: `Expired ${when(k.expires_at, localZone())}` };
    return { cls: 'active', text: 'Active' };
}

export async function apiKeysPage() {
    const me = currentMe();
    if (me && me.role !== 'admin')
        return adminsOnly(TITLE, WHAT);
    const at = location.pathname;
    const here = () => location.pathname === at;
    const n = ++uid;

    // ---- the list (drawn into listBox; read again after each change) ----
    const listBox = el('div', { class: 'key-list-box', 'aria-live': 'polite', 'aria-busy': 'true' },
                       el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const notice = el('p', { class: 'notice', role: 'status', tabindex: '-1', hidden: true });
    const say = (text) => {
        notice.textContent = text;
        notice.hidden = !text;
    };
    const revokeDialog = confirmDialog({
        title: 'Revoke this API key?', yes: 'Yes, revoke',
        text: (k) => `Programs using the key ${k.name} (${k.prefix}…) stop working at once. ` +
                     'This cannot be undone.',
        action: async (k) => {
            await api('DELETE', `/v1/api-keys/${k.id}`);
            await refresh();        // the notice once the list says so too
            say(`The key ${k.name} was revoked.`);
            notice.focus();
        }
    });
    const item = (k) => {
        const state = keyState(k);
        return el('li', { class: `card api-key ${state.cls}`, 'data-id': k.id },
            el('div', { class: 'key-head' },
               el('h3', { class: 'key-name' }, k.name),
               el('span', { class: `key-state ${state.cls}` }, state.text)),
            el('dl', {},
               el('div', {}, el('dt', {}, 'Prefix'),
                  el('dd', {}, el('code', { class: 'prefix' }, `${k.prefix}…`))),
               el('div', {}, el('dt', {}, 'Role'),
                  el('dd', { class: 'role' }, k.role === 'admin' ? 'Admin' : 'User')),
               el('div', {}, el('dt', {}, 'Created by'),
                  el('dd', { class: 'created-by' }, k.created_by_email || 'a removed user')),
               el('div', {}, el('dt', {}, 'Created'), el('dd', {}, when(k.created_at, localZone()))),
               el('div', {}, el('dt', {}, 'Last used'),
                  el('dd', { class: 'last-used' },
                     k.last_used_at ? when(k.last_used_at, localZone()) : 'never')),
               el('div', {}, el('dt', {}, 'Expires'),
                  el('dd', { class: 'expires' },
                     k.expires_at ? when(k.expires_at, localZone()) : 'never'))),
            k.revoked_at ? null
                : el('button', { type: 'button', class: 'danger small',
                                 'aria-label': `Revoke the key ${k.name}`,
                                 onclick: (event) => revokeDialog.ask(k, event.currentTarget) },
                     'Revoke'));
    };
    // Reads the list and draws it; false when the page is gone meanwhile.
    async function refresh() {
        listBox.setAttribute('aria-busy', 'true');
        let page;
        try {
            page = await api('GET', '/v1/api-keys');
        } catch (error) {
            if (!here() || (error instanceof ApiError && error.status === 401))
                return false;
            if (error instanceof ApiError && error.status === 403) {
                adminsOnly(TITLE, WHAT);
                return false;
            }
            listBox.replaceChildren(el('p', { class: 'form-error', role: 'alert' }, explain(error)),
                                    el('button', { type: 'button', onclick: refresh },
                                       'Try again'));
            listBox.setAttribute('aria-busy', 'false');
            return true;
        }
        if (!here())
            return false;
        const keys = page.data || [];
        listBox.replaceChildren(keys.length
            ? el('ul', { class: 'key-list' }, keys.map(item))
            : el('p', { class: 'empty' },
                 'No API key yet. Create one for a program that calls the Switchboard API.'));
        listBox.setAttribute('aria-busy', 'false');
        return true;
    }

    // ---- the form ----
    const name = el('input', { id: `k-name-${n}`, name: 'name', required: true, maxlength: 100,
                               autocomplete: 'off', 'aria-describedby': `k-name-${n}-hint k-name-${n}-error` });
    const role = el('select', { id: `k-role-${n}`, name: 'role',
                                'aria-describedby': `k-role-${n}-hint k-role-${n}-error` },
                    el('option', { value: 'user', selected: true }, 'User'),
                    el('option', { value: 'admin' }, 'Admin'));
    const expires = el('input', { id: `k-exp-${n}`, name: 'expires_at', type: 'date',
                                  min: localDate(new Date()),
                                  'aria-describedby': `k-exp-${n}-hint k-exp-${n}-error` });
    const control = (label, node, hint) => el('div', { class: 'field' },
        el('label', { for: node.id }, label), node,
        el('p', { class: 'hint', id: `${node.id}-hint` }, hint),
        el('p', { class: 'field-error', id: `${node.id}-error`, hidden: true }));
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    const create = el('button', { type: 'submit', class: 'primary' }, busy, 'Create key');
    const box = el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const form = el('form', { class: 'card key-form', novalidate: true,
                              'aria-label': 'Create an API key' },
        el('h2', {}, 'Create an API key'),
        box,
        control('Name', name, 'What the key is for, e.g. "Website orders".'),
        control('Role', role, 'User keys read everything and write businesses, calls and ' +
                              'orders; admin keys can do everything.'),
        control('Expires (optional)', expires, 'The key stops working at the end of this day ' +
                                               `(${localZone()}). Empty: it does not expire.`),
        create);
    const fresh = el('section', { class: 'new-key', 'aria-labelledby': `k-new-${n}`,
                                  tabindex: '-1', hidden: true });
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (!form.checkValidity()) {
            form.reportValidity();
            return;
        }
        formError(form, null, NAMES);
        create.disabled = true;
        busy.hidden = false;
        const body = { name: name.value.trim(), role: role.value };
        if (expires.value)
            body.expires_at = endOfDay(expires.value);
        try {
            const made = await api('POST', '/v1/api-keys', body);
            if (!here())
                return;
            form.reset();
            say('');
            showKey(made);
            await refresh();
        } catch (error) {
            if (!(error instanceof ApiError && error.status === 401))
                formError(form, error, NAMES);
        } finally {
            create.disabled = false;
            busy.hidden = true;
        }
    });

    // The new key, once.
    function showKey(made) {
        const done = el('button', { type: 'button', onclick: () => {
            fresh.replaceChildren();
            fresh.hidden = true;
            name.focus();
        } }, 'Done: I have copied it');
        fresh.replaceChildren(
            el('h2', { id: `k-new-${n}` }, `Your new key: ${made.name}`),
            el('p', { class: 'once' }, 'Copy it now and keep it somewhere safe. This is the only ' +
                                       'time it is shown: you will not see it again.'),
            copyRow(made.key, `Copy the key ${made.name}`),
            done);
        fresh.hidden = false;
        fresh.focus();
    }

    shell(TITLE,
          el('p', {}, 'Programs use an API key to call the Switchboard API for your ' +
                      'organization. ',
             el('a', { href: '/docs' }, 'Read the API reference'), '.'),
          notice, fresh, form,
          el('section', { 'aria-labelledby': `k-list-${n}` },
             el('div', { class: 'key-list-head' },
                el('h2', { id: `k-list-${n}` }, 'Your keys'),
                el('button', { type: 'button', class: 'small', onclick: () => refresh() },
                   'Refresh')),
             el('p', { class: 'hint' }, `Times are in your browser's time zone (${localZone()}).`),
             listBox),
          revokeDialog.node);
    await refresh();
}
