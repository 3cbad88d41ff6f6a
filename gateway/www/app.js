// gateway/www/app.js — the Switchboard dashboard: a single-page app on the
// public API alone (api.js), served by the gateway (gw_static.c) at `/`
// and at every `/app/<path>`, so that a deep link loads this same page.
//
//   /            sign up (with ?ref=<code> as the referral) and log in
//   /app/        Home: organization, plan and status, usage bars
//   /app/<x>     a page of later slices; unknown ones say "not found"
//
// Moving between pages is history.pushState, never a page load: the
// session's tokens live in memory (see api.js), so a reload or a link
// opened in a new tab starts signed out and lands on `/`.
//
// Every node is made with el() and text nodes: nothing the API returns is
// ever parsed as HTML. No inline script or style anywhere (the CSP
// forbids both); the bars' widths are set through the CSSOM, which the
// CSP allows.

import { api, ApiError, logIn, logOut, onSignedOut, signUp, signedIn } from './api.js';

const root = document.getElementById('root');

// ---- DOM helpers ----------------------------------------------------------

function el(tag, attrs = {}, ...children) {
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

function show(...nodes) {
    root.replaceChildren(...nodes);
}

// ---- messages for the API's error codes -----------------------------------

const FIELD_NAMES = { email: 'Email', password: 'Password', name: 'Your name',
                      organization_name: 'Business name', referral_code: 'Referral code' };

function explain(error) {
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
    default:
        return error.message || 'Something went wrong. Please try again.';
    }
}

// ---- forms ----------------------------------------------------------------

let uid = 0;

function field(label, name, type, autocomplete, extra = {}) {
    const id = `f-${name}-${++uid}`;
    const hint = extra.hint ? el('p', { class: 'hint', id: `${id}-hint` }, extra.hint) : null;
    const error = el('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    const input = el('input', { id, name, type, autocomplete, required: true,
                                minlength: extra.minlength, 'aria-describedby':
                                [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(' ') });
    return el('div', { class: 'field' }, el('label', { for: id }, label), input, hint, error);
}

function formError(form, error) {
    const box = form.querySelector('.form-error');
    for (const node of form.querySelectorAll('.field-error')) {
        node.hidden = true;
        node.textContent = '';
    }
    for (const input of form.querySelectorAll('input'))
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
        slot.textContent = `${FIELD_NAMES[name] || name}: ${message}`;
        slot.hidden = false;
        first = first || input;
    }
    (first || box).focus();
}

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

// ---- pages ----------------------------------------------------------------

function landing(notice) {
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

function shell(title, ...content) {
    const out = el('button', { type: 'button', class: 'link', onclick: async () => {
        await logOut();
        navigate('/', 'You are logged out.');
    } }, 'Log out');
    show(el('header', { class: 'topbar' },
            el('a', { class: 'brand', href: '/app/', 'data-link': true }, 'Switchboard'),
            el('nav', { 'aria-label': 'Main' },
               el('a', { href: '/app/', 'data-link': true, 'aria-current':
                         location.pathname === '/app/' ? 'page' : false }, 'Home')),
            out),
         el('main', { id: 'main', tabindex: '-1' }, el('h1', {}, title), ...content));
    document.title = `${title} — Switchboard`;
}

const METRICS = { api_requests: 'API requests', calls: 'Calls', call_minutes: 'Call minutes',
                  orders: 'Orders', businesses: 'Businesses', users: 'Team members' };

function label(metric) {
    if (METRICS[metric])
        return METRICS[metric];
    const text = metric.replace(/_/g, ' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
}

function usageBar(metric, { used, limit }) {
    const unlimited = limit === undefined || limit === null || limit < 0;
    const ratio = unlimited ? 0 : limit === 0 ? (used > 0 ? 1 : 0) : used / limit;
    const level = unlimited ? 'ok' : ratio >= 1 ? 'over' : ratio >= 0.8 ? 'near' : 'ok';
    const fill = el('span', { class: 'fill' });
    fill.style.width = `${Math.min(100, Math.round(ratio * 100))}%`;
    const text = unlimited ? `${used} used · unlimited` : `${used} of ${limit}`;
    return el('li', { class: `usage ${level}`, 'data-metric': metric },
              el('div', { class: 'usage-head' },
                 el('span', { class: 'usage-name', id: `m-${metric}` }, label(metric)),
                 el('span', { class: 'usage-count' }, text,
                    level === 'over' ? ' · limit reached' : level === 'near' ? ' · nearly there' : '')),
              el('div', { class: 'bar', role: 'progressbar', 'aria-labelledby': `m-${metric}`,
                          'aria-valuemin': '0', 'aria-valuemax': unlimited ? false : String(limit),
                          'aria-valuenow': String(used), 'aria-valuetext': text }, fill));
}

const STATUS = { active: 'Active', trialing: 'Trial', past_due: 'Payment past due',
                 canceled: 'Canceled' };

async function home() {
    shell('Home', el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    let me, sub, usage;
    try {
        [me, sub, usage] = await Promise.all([api('GET', '/v1/me'),
                                              api('GET', '/v1/billing/subscription'),
                                              api('GET', '/v1/usage/summary')]);
    } catch (error) {
        if (signedIn())
            shell('Home', el('p', { class: 'form-error', role: 'alert' }, explain(error)),
                  el('button', { type: 'button', onclick: home }, 'Try again'));
        return;
    }
    const metrics = Object.entries(usage.metrics || {}).sort(([a], [b]) => a.localeCompare(b));
    const banners = [];
    if (sub.status === 'past_due')
        banners.push(el('p', { class: 'banner over', role: 'alert' },
                        'Your last payment did not go through: please update your payment method.'));
    if ((sub.over_limits || []).length)
        banners.push(el('p', { class: 'banner near', role: 'alert' },
                        `Over your plan's limit: ${sub.over_limits.map(label).join(', ')}.`));
    shell('Home', ...banners,
          el('section', { class: 'card summary', 'aria-labelledby': 'org-name' },
             el('h2', { id: 'org-name', class: 'org-name' }, me.organization.name),
             el('dl', {},
                el('div', {}, el('dt', {}, 'Plan'), el('dd', { class: 'plan' }, sub.plan)),
                el('div', {}, el('dt', {}, 'Status'),
                   el('dd', { class: `status ${sub.status}` }, STATUS[sub.status] || sub.status)),
                me.user ? el('div', {}, el('dt', {}, 'Signed in as'), el('dd', {}, me.user.email))
                        : null)),
          el('section', { class: 'card', 'aria-labelledby': 'usage-title' },
             el('h2', { id: 'usage-title' }, 'Usage this period'),
             el('p', { class: 'period' }, period(usage.period_start, usage.period_end)),
             metrics.length
                 ? el('ul', { class: 'usage-list' }, metrics.map(([m, v]) => usageBar(m, v)))
                 : el('p', { class: 'empty' }, 'Nothing used yet this period.')));
}

function period(start, end) {
    const day = (iso) => new Date(iso).toLocaleDateString(undefined,
                                                          { day: 'numeric', month: 'short' });
    return start && end ? `${day(start)} – ${day(end)}` : '';
}

function notFound() {
    shell('Page not found', el('p', {}, 'There is no such page. ',
                               el('a', { href: '/app/', 'data-link': true }, 'Go to Home')));
}

// ---- routing --------------------------------------------------------------

let pendingNotice = null;

function navigate(path, notice) {
    pendingNotice = notice || null;
    history.pushState(null, '', path);
    render();
}

function render() {
    const path = location.pathname;
    const notice = pendingNotice;
    pendingNotice = null;
    if (!path.startsWith('/app')) {
        if (signedIn())
            return navigate('/app/');
        return landing(notice);
    }
    if (!signedIn()) {
        history.replaceState(null, '', '/');
        return landing('Please log in to continue.');
    }
    if (path === '/app/' || path === '/app')
        return home();
    return notFound();
}

document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-link]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
        || event.shiftKey || event.altKey)
        return;
    event.preventDefault();
    navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', render);
onSignedOut(() => navigate('/', 'Your session ended. Please log in again.'));
render();
