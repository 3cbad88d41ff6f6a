// gateway/www/page-invitation.js — /accept-invitation?token=… (the link
// auth-svc mails with an invitation; a public page, drawn with or without
// a session).
//
// The token is read from the address and removed from it at once
// (history.replaceState), so that it stays out of the history, of a
// bookmark and of a screenshot; this module keeps it in memory for the
// form. The form asks for the new member's name and a password (10–256
// characters) and sends POST /v1/invitations/accept {token, name,
// password}; its 201 tokens start the session (api.js adopt) and Home
// opens. States: no token in the link (says so), the form, busy while
// sending, 400 invalid_token (the invitation is invalid, used, revoked or
// expired: ask the admin for a new one), 409 email_taken (log in
// instead), field errors next to their fields, any other error in words.
// A session already open in the tab (another account) is logged out
// first, so that the call goes without a session's token and the new
// member's session replaces it (api.js handles the session's tokens:
// adopt).

import { adopt, api, ApiError, logOut, signedIn } from './api.js';
import { el, field, formError, navigate, show } from './ui.js';

let token = null;           // the link's token, once taken off the address

const INVALID = 'This invitation can no longer be used: it is invalid, already used, revoked ' +
                'or expired. Ask an admin of your organization to send you a new invitation.';

function page(...content) {
    show(el('header', { class: 'topbar' }, el('span', { class: 'brand' }, 'Switchboard')),
         el('main', { id: 'main', class: 'landing', tabindex: '-1' }, ...content));
    document.title = 'Accept your invitation — Switchboard';
}

export function acceptInvitationPage() {
    const params = new URLSearchParams(location.search);
    if (params.has('token')) {
        token = params.get('token');
        history.replaceState(null, '', location.pathname);
    }
    if (!token) {
        page(el('h1', {}, 'Accept your invitation'),
             el('p', { class: 'form-error', role: 'alert' },
                'This link has no invitation in it. Open the link from your invitation mail ' +
                'again, or ask an admin of your organization for a new invitation.'),
             el('p', {}, el('a', { href: '/' }, 'Go to the log-in page')));
        return;
    }
    const password = field('Password', 'password', 'password', 'new-password',
                           { minlength: 10, hint: 'At least 10 characters (at most 256).' });
    password.querySelector('input').setAttribute('maxlength', '256');
    const name = field('Your name', 'name', 'text', 'name');
    name.querySelector('input').setAttribute('maxlength', '100');
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    const button = el('button', { type: 'submit', class: 'primary' }, busy, 'Join the team');
    const box = el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const form = el('form', { class: 'card auth accept-invitation', novalidate: true,
                              'aria-label': 'Accept your invitation' },
                    el('p', {}, 'Choose your name and a password to join your team on ' +
                                'Switchboard. You log in with the email the invitation was ' +
                                'sent to.'),
                    box, name, password, button);
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (!form.checkValidity()) {
            form.reportValidity();
            return;
        }
        formError(form, null);
        button.disabled = true;
        busy.hidden = false;
        try {
            if (signedIn())
                await logOut();     // a session of another account ends first
            const tokens = await api('POST', '/v1/invitations/accept', {
                token, name: form.elements.namedItem('name').value.trim(),
                password: form.elements.namedItem('password').value });
            token = null;
            adopt(tokens);
            navigate('/app/', 'Welcome to the team!');
        } catch (error) {
            formError(form, error);
            if (error instanceof ApiError && error.code === 'invalid_token') {
                box.textContent = INVALID;
            } else if (error instanceof ApiError && error.code === 'email_taken') {
                box.replaceChildren('An account with this email already exists. ',
                                    el('a', { href: '/' }, 'Log in instead'), '.');
            }
        } finally {
            button.disabled = false;
            busy.hidden = true;
        }
    });
    page(el('h1', {}, 'Accept your invitation'), form);
    name.querySelector('input').focus();
}
