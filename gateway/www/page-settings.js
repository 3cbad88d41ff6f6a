// gateway/www/page-settings.js — Settings (/app/settings), for every
// member of the organization:
//
//   Organization   its name and subdomain (GET /v1/organization); an
//                  admin edits them (PATCH /v1/organization, only the
//                  fields that changed): 409 subdomain_taken is shown
//                  next to the subdomain, the API's field errors next to
//                  theirs; after a save GET /v1/me is read again
//                  (api.js whoami(true)) so the top bar shows the new
//                  name, and the page is drawn again with a notice. Any
//                  other role sees both read-only.
//   Password       POST /v1/auth/password/change {current_password,
//                  new_password}: the new one twice (checked here, 10–256
//                  characters); a wrong current password (401
//                  invalid_credentials) is said next to that field. The
//                  API ends every other session of the user.
//   Sessions       "Log out everywhere": POST /v1/auth/logout {all: true},
//                  then the session is forgotten in the page (api.js
//                  forget: a second logout call with the revoked token
//                  would only earn a 401) and `/` opens with a notice.
//   Delete         (admin) the organization: the button stays disabled
//                  until the organization's exact name is typed; DELETE
//                  /v1/organization (202), then as above: forget, `/`
//                  with a notice.
//
// States: "Loading…" while the organization is read; an error in words
// with "Try again"; answers arriving after the user moved on draw
// nothing. Each form shows a spinner while it waits and its outcome in a
// status line.

import { ApiError, api, currentMe, forget, whoami } from './api.js';
import { el, explain, field, formError, localError, navigate, shell } from './ui.js';

const ORG_NAMES = { name: 'Organization name', subdomain: 'Subdomain' };
const PASSWORD_NAMES = { current_password: 'Current password', new_password: 'New password',
                         new_password_confirm: 'Confirmation' };
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function input(box) {
    return box.querySelector('input');
}

function submitButton(label) {
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    return { button: el('button', { type: 'submit', class: 'primary' }, busy, label), busy };
}

// form's submit: check(values) → fields in error (shown, nothing sent) or
// null; then action(values) with the button busy; an ApiError goes to
// formError (unless action handled it and returned).
function onSubmit(form, { button, busy }, names, check, action) {
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const values = Object.fromEntries(new FormData(form));
        const wrong = check(values);
        // The notice of an earlier save would read as this form's outcome.
        for (const notice of document.querySelectorAll('main > .notice'))
            notice.remove();
        if (wrong) {
            formError(form, localError(wrong), names);
            return;
        }
        formError(form, null, names);
        button.disabled = true;
        busy.hidden = false;
        try {
            await action(values);
        } catch (error) {
            formError(form, error, names);
        } finally {
            button.disabled = false;
            busy.hidden = true;
        }
    });
}

const errorBox = () => el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });

// ---- the organization --------------------------------------------------------

function orgSection(org, admin) {
    if (!admin)
        return el('section', { class: 'card settings-org', 'aria-labelledby': 'set-org' },
                  el('h2', { id: 'set-org' }, 'Organization'),
                  el('dl', { class: 'settings-dl' },
                     el('div', {}, el('dt', {}, 'Name'), el('dd', { class: 'org-name' }, org.name)),
                     el('div', {}, el('dt', {}, 'Subdomain'),
                        el('dd', { class: 'org-subdomain' }, org.subdomain))),
                  el('p', { class: 'hint' }, 'Only an admin of the organization can change these.'));
    const name = field('Organization name', 'name', 'text', 'organization');
    input(name).value = org.name;
    input(name).maxLength = 200;
    const subdomain = field('Subdomain', 'subdomain', 'text', 'off', {
        hint: 'Your organization\'s own address for the API. Lower-case letters, digits ' +
              'and hyphens (not first or last), up to 63 characters.' });
    input(subdomain).value = org.subdomain;
    input(subdomain).maxLength = 63;
    input(subdomain).setAttribute('spellcheck', 'false');
    input(subdomain).setAttribute('autocapitalize', 'none');
    const submit = submitButton('Save the organization');
    const form = el('form', { class: 'card settings-org', novalidate: true,
                              'aria-labelledby': 'set-org' },
                    el('h2', { id: 'set-org' }, 'Organization'),
                    errorBox(), name, subdomain, submit.button);
    onSubmit(form, submit, ORG_NAMES, (values) => {
        const fields = {};
        if (!values.name.trim())
            fields.name = 'is required';
        if (!SUBDOMAIN.test(values.subdomain.trim()))
            fields.subdomain = 'lower-case letters, digits and inner hyphens only, 1 to 63';
        return Object.keys(fields).length ? fields : null;
    }, async (values) => {
        const body = {};
        if (values.name.trim() !== org.name)
            body.name = values.name.trim();
        if (values.subdomain.trim() !== org.subdomain)
            body.subdomain = values.subdomain.trim();
        if (!Object.keys(body).length) {
            redraw('Nothing changed.');
            return;
        }
        try {
            await api('PATCH', '/v1/organization', body);
        } catch (error) {
            if (error instanceof ApiError && error.code === 'subdomain_taken')
                error.fields = { subdomain: 'this one is taken by another organization: ' +
                                            'choose another' };
            throw error;
        }
        try {
            await whoami(true);
        } catch {
            // The top bar keeps the old name until the next page; the save stands.
        }
        redraw('The organization is saved.');
    });
    return form;
}

// ---- the password ----------------------------------------------------------

function passwordSection() {
    const done = el('p', { class: 'notice', role: 'status', tabindex: '-1', hidden: true });
    const submit = submitButton('Change the password');
    const current = field('Current password', 'current_password', 'password', 'current-password');
    const form = el('form', { class: 'card settings-password', novalidate: true,
                              'aria-labelledby': 'set-password' },
                    el('h2', { id: 'set-password' }, 'Password'),
                    errorBox(), done, current,
                    field('New password', 'new_password', 'password', 'new-password',
                          { minlength: 10, hint: '10 to 256 characters.' }),
                    field('Confirm the new password', 'new_password_confirm', 'password',
                          'new-password'),
                    submit.button);
    onSubmit(form, submit, PASSWORD_NAMES, (values) => {
        done.hidden = true;
        const fields = {};
        if (!values.current_password)
            fields.current_password = 'is required';
        if (values.new_password.length < 10)
            fields.new_password = 'at least 10 characters, please';
        else if (values.new_password.length > 256)
            fields.new_password = 'at most 256 characters, please';
        if (values.new_password_confirm !== values.new_password)
            fields.new_password_confirm = 'does not match the new password';
        return Object.keys(fields).length ? fields : null;
    }, async (values) => {
        try {
            await api('POST', '/v1/auth/password/change',
                      { current_password: values.current_password,
                        new_password: values.new_password });
        } catch (error) {
            if (error instanceof ApiError && error.code === 'invalid_credentials') {
                error.fields = { current_password: 'is not right' };
                formError(form, error, PASSWORD_NAMES);
                const box = form.querySelector('.form-error');
                box.textContent = 'Your current password is not right: nothing was changed.';
                return;
            }
            throw error;
        }
        form.reset();
        done.textContent = 'Your password is changed. Every other session of your account ' +
                           'was logged out; this one goes on.';
        done.hidden = false;
        done.focus();
    });
    return form;
}

// ---- sessions ----------------------------------------------------------------

function sessionsSection() {
    const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
    const button = el('button', { type: 'button', class: 'everywhere' }, 'Log out everywhere');
    button.addEventListener('click', async () => {
        error.hidden = true;
        button.disabled = true;
        try {
            await api('POST', '/v1/auth/logout', { all: true });
        } catch (failure) {
            button.disabled = false;
            if (failure instanceof ApiError && failure.status === 401)
                return;             // the session ended meanwhile: app.js goes to `/`
            error.textContent = explain(failure);
            error.hidden = false;
            return;
        }
        forget();
        navigate('/', 'You are logged out on every device and browser.');
    });
    return el('section', { class: 'card settings-sessions', 'aria-labelledby': 'set-sessions' },
              el('h2', { id: 'set-sessions' }, 'Sessions'),
              el('p', {}, 'Lost a phone, or logged in on a shared computer? Log out everywhere ' +
                          'ends every session of your account, this one too. API keys keep ' +
                          'working.'),
              error, button);
}

// ---- delete the organization --------------------------------------------------

function deleteSection(org) {
    const id = 'set-delete-name';
    const typed = el('input', { id, name: 'confirm_name', type: 'text', autocomplete: 'off',
                                spellcheck: 'false', 'aria-describedby': `${id}-hint` });
    const error = el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    const button = el('button', { type: 'submit', class: 'danger', disabled: true }, busy,
                      'Delete the organization');
    typed.addEventListener('input', () => {
        button.disabled = typed.value !== org.name;
    });
    const form = el('form', { class: 'card danger-zone', novalidate: true,
                              'aria-labelledby': 'set-delete' },
                    el('h2', { id: 'set-delete' }, 'Delete the organization'),
                    el('p', {}, 'This deletes ', el('strong', {}, org.name),
                       ' at once: its businesses, calls, orders, team, API keys and ' +
                       'subscription. Everyone is logged out and the API keys stop working. ' +
                       'This cannot be undone.'),
                    error,
                    el('div', { class: 'field' },
                       el('label', { for: id }, 'Type the organization\'s name to confirm'),
                       typed,
                       el('p', { class: 'hint', id: `${id}-hint` }, 'Exactly: ',
                          el('span', { class: 'exact-name' }, org.name))),
                    button);
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (typed.value !== org.name)
            return;
        error.hidden = true;
        button.disabled = true;
        busy.hidden = false;
        try {
            await api('DELETE', '/v1/organization');
        } catch (failure) {
            button.disabled = false;
            busy.hidden = true;
            if (failure instanceof ApiError && failure.status === 401)
                return;
            error.textContent = explain(failure);
            error.hidden = false;
            error.focus();
            return;
        }
        forget();
        navigate('/', `${org.name} is deleted and you are logged out. Thank you for using ` +
                      'Switchboard.');
    });
    return form;
}

// ---- the page ----------------------------------------------------------------

let redraw = () => {};

export async function settingsPage(_which, notice) {
    redraw = (text) => settingsPage(null, text);
    shell('Settings', el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const at = location.pathname;
    let org;
    try {
        org = await api('GET', '/v1/organization');
    } catch (error) {
        if ((error instanceof ApiError && error.status === 401) || location.pathname !== at)
            return;
        shell('Settings', el('p', { class: 'form-error', role: 'alert' }, explain(error)),
              el('button', { type: 'button', onclick: () => settingsPage(null) }, 'Try again'));
        return;
    }
    if (location.pathname !== at)
        return;             // the user moved on while the organization was loading
    const me = currentMe();
    const admin = !!me && me.role === 'admin';
    shell('Settings',
          notice ? el('p', { class: 'notice', role: 'status', tabindex: '-1' }, notice) : null,
          orgSection(org, admin),
          passwordSection(),
          sessionsSection(),
          admin ? deleteSection(org) : null);
    const focus = document.querySelector('main .notice') || document.getElementById('main');
    focus.focus();
}
