// gateway/www/ui.js — the dashboard's shared helpers: el() (every node
// made with it and text nodes: nothing the API returns is parsed as HTML),
// show(), the words for the API's error codes (explain), form fields and
// the errors shown next to them (field, formError), the signed-in page's
// frame (shell) and moving between pages (navigate, which calls the
// renderer app.js registers with setRenderer: history.pushState, never a
// page load, since the session lives in memory).

import { ApiError, logOut } from './api.js';

const root = document.getElementById('root');

// ---- DOM helpers ----------------------------------------------------------

export function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
        if (value === false || value === null || value === undefined)
            continue;
        if (name === 'class')
            node.className = value;
        else
        if (name.startsWith('on'))
            node.addEventListener(name.slice(2), value);
        else
            node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat())
        if (child !== null && child !== undefined && child !== false)
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
}

export function show(...nodes) {
    root.replaceChildren(...nodes);
}

// ---- messages for the API's error codes -----------------------------------

const FIELD_NAMES = { email: 'Email', password: 'Password', name: 'Your name',
                      organization_name: 'Business name', referral_code: 'Referral code' };

export function explain(error) {
    if (!(error instanceof ApiError))
        return 'Something went wrong in the page. Please try again.';
    switch (error.code) {
    case 'network_error':
        return 'The server cannot be reached. Check your connection and try again.';
    case 'validation_failed':
        return 'Please correct the fields marked below.';
    case 'email_taken':
        return 'An account with this email already exists. Log in instead?';
    case 'subdomain_taken':
        return 'This web address is taken: please choose another.';
    case 'invalid_credentials':
    case 'unauthenticated':
        return 'The email or password is not right.';
    case 'too_many_attempts':
    case 'rate_limited':
        return `Too many attempts. Please wait${error.retryAfter ? ` ${error.retryAfter} s` : ' a moment'} and try again.`;
    case 'service_unavailable':
    case 'timeout':
        return 'The service is busy right now. Please try again in a moment.';
    case 'forbidden':
        return 'Your role does not allow this.';
    case 'plan_limit_reached':
        return 'Your plan\'s limit is reached.';
    case 'not_found':
        return 'This no longer exists: it may have been deleted.';
    default:
        return error.message || 'Something went wrong. Please try again.';
    }
}

// ---- forms ----------------------------------------------------------------

let uid = 0;

export function field(label, name, type, autocomplete, extra = {}) {
    const id = `f-${name}-${++uid}`;
    const hint = extra.hint ? el('p', { class: 'hint', id: `${id}-hint` }, extra.hint) : null;
    const error = el('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    const input = el('input', { id, name, type, autocomplete, required: true,
                                minlength: extra.minlength, 'aria-describedby':
                                [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(' ') });
    return el('div', { class: 'field' }, el('label', { for: id }, label), input, hint, error);
}

// Shows error (an ApiError, or null to clear) in form's .form-error box and
// each field's message next to its control (names: the fields' names in
// words); focus goes to the first field in error, else to the box.
export function formError(form, error, names = FIELD_NAMES) {
    const box = form.querySelector('.form-error');
    for (const node of form.querySelectorAll('.field-error')) {
        node.hidden = true;
        node.textContent = '';
    }
    for (const input of form.querySelectorAll('[aria-invalid]'))
        input.removeAttribute('aria-invalid');
    if (!error) {
        box.hidden = true;
        return;
    }
    box.textContent = explain(error);
    box.hidden = false;
    let first = null;
    for (const [name, message] of Object.entries(error.fields || {})) {
        const input = form.elements.namedItem(name);
        if (!input)
            continue;
        input.setAttribute('aria-invalid', 'true');
        const slot = document.getElementById(`${input.id}-error`);
        if (!slot)
            continue;
        slot.textContent = `${names[name] || name}: ${message}`;
        slot.hidden = false;
        first = first || input;
    }
    (first || box).focus();
}

export function shell(title, ...content) {
    const out = el('button', { type: 'button', class: 'link', onclick: async () => {
        await logOut();
        navigate('/', 'You are logged out.');
    } }, 'Log out');
    const here = (path, exact) => (exact ? location.pathname === path
                                         : location.pathname.startsWith(path)) ? 'page' : false;
    show(el('header', { class: 'topbar' },
            el('a', { class: 'brand', href: '/app/', 'data-link': true }, 'Switchboard'),
            el('nav', { 'aria-label': 'Main' },
               el('a', { href: '/app/', 'data-link': true, 'aria-current': here('/app/', true) },
                  'Home'),
               el('a', { href: '/app/businesses', 'data-link': true,
                         'aria-current': here('/app/businesses') }, 'Businesses')),
            out),
         el('main', { id: 'main', tabindex: '-1' }, el('h1', {}, title), ...content));
    document.title = `${title} — Switchboard`;
}


// ---- routing --------------------------------------------------------------

let pendingNotice = null;
let renderer = () => {};

export function setRenderer(fn) {
    renderer = fn;
}

// The notice navigate() was given, once (the page shows it, then it goes).
export function takeNotice() {
    const notice = pendingNotice;
    pendingNotice = null;
    return notice;
}

export function navigate(path, notice) {
    pendingNotice = notice || null;
    history.pushState(null, '', path);
    renderer();
}

