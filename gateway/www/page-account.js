// gateway/www/page-account.js — the pages without a session:
//
//   /                     the plans side by side (GET /v1/billing/plans,
//                         public; plans.js plansGrid), each with a "Start
//                         with <plan>" button that moves focus to the
//                         sign-up form; sign up (POST /v1/auth/signup,
//                         with ?ref=<code> as the referral); log in (POST
//                         /v1/auth/login); "Forgot your password?" (POST
//                         /v1/auth/password/forgot, which always answers
//                         202: the page says only that a link is on its
//                         way if an account exists)
//   /reset-password       the mailed link ?token=…: the token is read and
//                         at once removed from the address bar (history,
//                         so it is neither kept in the history nor shown),
//                         kept in this module for the page's life; a new
//                         password (10–256 characters) and its
//                         confirmation (checked here, in words, next to
//                         the fields) go to POST /v1/auth/password/reset;
//                         400 invalid_token says the link is invalid, used
//                         or expired and offers to ask for a new one;
//                         success opens the log-in form with a notice.
//
// States: the plans section has its own loading, empty and error (with
// "Try again") states and draws nothing when its answer arrives after the
// visitor moved on; each form shows the API's error in words, field
// messages next to their fields, and a spinner while it waits. A form's
// answer of tokens starts the session (api.js) and opens Home.

import { ApiError, api, logIn, signUp } from './api.js';
import { el, explain, field, formError, localError, navigate, show, takeReturnPath } from './ui.js';
import { plansGrid } from './plans.js';

const NAMES = { email: 'Email', password: 'Password', name: 'Your name',
                organization_name: 'Business name', referral_code: 'Referral code',
                password_confirm: 'Confirmation' };
const RESET_NAMES = { password: 'New password', password_confirm: 'Confirmation' };

// What the next landing page does first (set just before navigate('/')):
// 'login' focuses the log-in form, 'forgot' opens "Forgot your password?".
let landingFocus = null;
// The reset link's token, once taken out of the address bar.
let resetToken = null;

function submitButton(label) {
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    const button = el('button', { type: 'submit', class: 'primary' }, busy, label);
    return { button, busy };
}

// A card form: title (its heading and accessible name), fields, a submit
// button; action(values) runs on submit; its error goes to the form
// (formError); after is shown below the button.
function cardForm({ title, submit, fields, action, names = NAMES, after = null, check = null }) {
    const { button, busy } = submitButton(submit);
    const form = el('form', { class: 'card auth', novalidate: true, 'aria-label': title },
                    el('h2', {}, title),
                    el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true }),
                    fields, button, after);
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const values = Object.fromEntries(new FormData(form));
        const wrong = check ? check(values) : null;
        if (wrong) {
            formError(form, localError(wrong), names);
            return;
        }
        if (!form.checkValidity()) {
            form.reportValidity();
            return;
        }
        formError(form, null, names);
        button.disabled = true;
        busy.hidden = false;
        try {
            await action(values, form);
        } catch (error) {
            formError(form, error, names);
        } finally {
            button.disabled = false;
            busy.hidden = true;
        }
    });
    return form;
}

function passwordChecks(values, name, confirm) {
    const fields = {};
    const password = values[name] || '';
    if (password.length < 10)
        fields[name] = 'at least 10 characters, please';
    else if (password.length > 256)
        fields[name] = 'at most 256 characters, please';
    if (values[confirm] !== password)
        fields[confirm] = 'does not match the new password';
    return Object.keys(fields).length ? fields : null;
}

// ---- the plans ----------------------------------------------------------------

async function loadPlans(box, onStart) {
    box.replaceChildren(el('p', { class: 'loading', role: 'status' }, 'Loading the plans…'));
    let answer;
    try {
        answer = await api('GET', '/v1/billing/plans');
    } catch (error) {
        if (!box.isConnected)
            return;
        box.replaceChildren(el('p', { class: 'form-error', role: 'alert' },
                               `The plans cannot be shown right now. ${explain(error)}`),
                            el('button', { type: 'button',
                                           onclick: () => loadPlans(box, onStart) }, 'Try again'));
        return;
    }
    if (!box.isConnected)
        return;             // the visitor moved on while the plans were loading
    const plans = (answer && answer.data) || [];
    if (!plans.length) {
        box.replaceChildren(el('p', { class: 'empty' }, 'No plans to show right now.'));
        return;
    }
    box.replaceChildren(plansGrid(plans, {
        action: (plan) => el('button', { type: 'button', class: 'plan-start',
                                         onclick: () => onStart(plan) },
                             `Start with ${plan.name}`)
    }));
}

// ---- the landing page -------------------------------------------------------

function forgotForm(onBack) {
    const status = el('div', { class: 'forgot-done', hidden: true, tabindex: '-1', role: 'status' });
    const form = cardForm({
        title: 'Forgot your password?', submit: 'Send me a link',
        fields: [el('p', { class: 'hint' },
                    'Give the email you log in with: we send a link to choose a new password.'),
                 field('Email', 'email', 'email', 'username')],
        action: async (values) => {
            await api('POST', '/v1/auth/password/forgot', { email: values.email.trim() });
            status.replaceChildren(
                el('p', {}, 'If an account exists for ', el('strong', {}, values.email.trim()),
                   ', a link to choose a new password is on its way. It works for 30 minutes, once.'),
                el('p', { class: 'hint' }, 'No mail after a few minutes? Check the spam folder, ' +
                                           'or ask again.'));
            status.hidden = false;
            status.focus();
        },
        after: el('p', {}, el('button', { type: 'button', class: 'link',
                                          onclick: () => onBack() }, 'Back to log in'))
    });
    form.classList.add('forgot');
    form.insertBefore(status, form.querySelector('button[type="submit"]').nextSibling);
    return form;
}

export function landingPage(notice) {
    const ref = new URLSearchParams(location.search).get('ref');
    const focus = landingFocus;
    landingFocus = null;
    const signup = cardForm({
        title: 'Create your account', submit: 'Sign up',
        fields: [
            field('Your name', 'name', 'text', 'name'),
            field('Business name', 'organization_name', 'text', 'organization'),
            field('Email', 'email', 'email', 'email'),
            field('Password', 'password', 'password', 'new-password',
                  { minlength: 10, hint: 'At least 10 characters.' })
        ],
        action: async (values) => {
            await signUp({ ...values, ...(ref ? { referral_code: ref } : {}) });
            navigate('/app/');
        }
    });
    signup.id = 'signup';
    const column = el('div', { class: 'login-column' });
    let forgot = null;
    const openLogin = () => {
        if (forgot)
            forgot.hidden = true;
        login.hidden = false;
        login.querySelector('input').focus();
    };
    const openForgot = () => {
        if (!forgot) {
            forgot = forgotForm(openLogin);
            column.append(forgot);
        }
        const typed = login.elements.namedItem('email').value;
        const email = forgot.elements.namedItem('email');
        if (typed && !email.value)
            email.value = typed;
        login.hidden = true;
        forgot.hidden = false;
        email.focus();
    };
    const login = cardForm({
        title: 'Log in', submit: 'Log in',
        fields: [field('Email', 'email', 'email', 'username'),
                 field('Password', 'password', 'password', 'current-password')],
        action: async (values) => {
            await logIn(values.email, values.password);
            navigate(takeReturnPath() || '/app/');
        },
        after: el('p', { class: 'forgot-link' },
                  el('button', { type: 'button', class: 'link', onclick: openForgot },
                     'Forgot your password?'))
    });
    column.append(login);
    const plans = el('div', { class: 'plans-box' });
    show(el('header', { class: 'topbar' }, el('span', { class: 'brand' }, 'Switchboard')),
         el('main', { id: 'main', class: 'landing' },
            el('section', { class: 'hero' },
               el('h1', {}, 'Your phone line, answered.'),
               el('p', {}, 'Switchboard takes your calls and orders while you run your business.')),
            notice ? el('p', { class: 'notice', role: 'status' }, notice) : null,
            ref ? el('p', { class: 'notice', role: 'status' },
                     `You were invited with the referral code ${ref}.`) : null,
            el('div', { class: 'auth-grid' }, signup, column),
            el('section', { class: 'plans', 'aria-labelledby': 'plans-title' },
               el('h2', { id: 'plans-title' }, 'Plans'),
               el('p', { class: 'hint' }, 'Every account starts on the free plan; ' +
                                          'change plans any time from Billing.'),
               plans)));
    document.title = 'Switchboard — sign up or log in';
    loadPlans(plans, () => {
        signup.scrollIntoView({ block: 'start' });
        signup.elements.namedItem('name').focus();
    });
    if (focus === 'login')
        login.elements.namedItem('email').focus();
    else if (focus === 'forgot')
        openForgot();
}

// ---- /reset-password?token=… --------------------------------------------------

function askAgain(text) {
    return el('a', { href: '/', 'data-link': true,
                     onclick: () => { landingFocus = 'forgot'; } }, text);
}

export function resetPasswordPage() {
    const fromUrl = new URLSearchParams(location.search).get('token');
    if (fromUrl !== null) {
        resetToken = fromUrl;
        history.replaceState(null, '', '/reset-password');
    }
    const frame = (...content) => {
        show(el('header', { class: 'topbar' }, el('a', { class: 'brand', href: '/', 'data-link': true },
                                                   'Switchboard')),
             el('main', { id: 'main', class: 'landing reset' }, ...content));
        document.title = 'Choose a new password — Switchboard';
    };
    if (!resetToken) {
        frame(el('h1', {}, 'Choose a new password'),
              el('p', { class: 'form-error', role: 'alert' },
                 'This link is incomplete: open the link from the mail again, or ',
                 askAgain('ask for a new one'), '.'));
        return;
    }
    const invalid = el('div', { class: 'form-error invalid-link', role: 'alert', tabindex: '-1',
                                hidden: true },
                       'This link is invalid, used or expired — ',
                       askAgain('ask for a new one'), '.');
    const form = cardForm({
        title: 'Choose a new password', submit: 'Set the new password', names: RESET_NAMES,
        fields: [
            field('New password', 'password', 'password', 'new-password',
                  { minlength: 10, hint: '10 to 256 characters.' }),
            field('Confirm the new password', 'password_confirm', 'password', 'new-password')
        ],
        check: (values) => passwordChecks(values, 'password', 'password_confirm'),
        action: async (values, self) => {
            invalid.hidden = true;
            try {
                await api('POST', '/v1/auth/password/reset',
                          { token: resetToken, password: values.password });
            } catch (error) {
                if (error instanceof ApiError && (error.code === 'invalid_token'
                                                  || (error.fields && error.fields.token))) {
                    formError(self, null, RESET_NAMES);
                    invalid.hidden = false;
                    invalid.focus();
                    return;
                }
                throw error;
            }
            resetToken = null;
            landingFocus = 'login';
            navigate('/', 'Your new password is set: log in with it. ' +
                          'Every other session of your account was logged out.');
        }
    });
    form.insertBefore(invalid, form.querySelector('.form-error'));
    frame(el('h1', {}, 'Reset your password'), form);
    form.elements.namedItem('password').focus();
}
