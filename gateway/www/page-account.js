// gateway/www/page-account.js — the pages without a session:
//
//   /                     sign up (with ?ref=<code> as the referral) and
//                         log in
//
// A form's answer of tokens starts the session (api.js) and opens Home.

import { logIn, signUp } from './api.js';
import { el, field, formError, navigate, show } from './ui.js';

function authForm(title, submitLabel, fields, action) {
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    const button = el('button', { type: 'submit', class: 'primary' }, busy, submitLabel);
    const form = el('form', { class: 'card auth', novalidate: true, 'aria-label': title },
                    el('h2', {}, title),
                    el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true }),
                    fields, button);
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
            await action(Object.fromEntries(new FormData(form)));
            navigate('/app/');
        } catch (error) {
            formError(form, error);
        } finally {
            button.disabled = false;
            busy.hidden = true;
        }
    });
    return form;
}

export function landingPage(notice) {
    const ref = new URLSearchParams(location.search).get('ref');
    const signup = authForm('Create your account', 'Sign up', [
        field('Your name', 'name', 'text', 'name'),
        field('Business name', 'organization_name', 'text', 'organization'),
        field('Email', 'email', 'email', 'email'),
        field('Password', 'password', 'password', 'new-password',
              { minlength: 10, hint: 'At least 10 characters.' })
    ], (values) => signUp({ ...values, ...(ref ? { referral_code: ref } : {}) }));
    const login = authForm('Log in', 'Log in', [
        field('Email', 'email', 'email', 'username'),
        field('Password', 'password', 'password', 'current-password')
    ], (values) => logIn(values.email, values.password));
    show(el('header', { class: 'topbar' }, el('span', { class: 'brand' }, 'Switchboard')),
         el('main', { id: 'main', class: 'landing' },
            el('section', { class: 'hero' },
               el('h1', {}, 'Your phone line, answered.'),
               el('p', {}, 'Switchboard takes your calls and orders while you run your business.')),
            notice ? el('p', { class: 'notice', role: 'status' }, notice) : null,
            ref ? el('p', { class: 'notice', role: 'status' },
                     `You were invited with the referral code ${ref}.`) : null,
            el('div', { class: 'auth-grid' }, signup, login)));
    document.title = 'Switchboard — sign up or log in';
}

// /reset-password?token=… (the mailed link). Not built yet.
export function resetPasswordPage() {
    show(el('main', { id: 'main', class: 'landing' }, el('p', {}, 'This page is not built yet.')));
}
