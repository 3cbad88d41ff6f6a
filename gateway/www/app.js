// gateway/www/app.js — the Switchboard dashboard: a single-page app on the
// public API alone (api.js), served by the gateway (gw_static.c) at `/`
// and at every `/app/<path>`, so that a deep link loads this same page.
//
//   /            sign up (with ?ref=<code> as the referral) and log in
//   /app/        Home: organization, plan and status, usage bars
//   /app/businesses[/new|/<id>]  the businesses (page-businesses.js)
//   /app/<x>     a page of later slices; unknown ones say "not found"
//
// Moving between pages is history.pushState, never a page load: the
// session's tokens live in memory (see api.js), so a reload or a link
// opened in a new tab starts signed out and lands on `/`.
//
// The shared helpers are in ui.js, each page beyond Home in a module of
// its own. Every node is made with el() and text nodes: nothing the API returns is
// ever parsed as HTML. No inline script or style anywhere (the CSP
// forbids both); the bars' widths are set through the CSSOM, which the
// CSP allows.

import { api, logIn, onSignedOut, signUp, signedIn } from './api.js';
import { el, explain, field, formError, navigate, setRenderer, shell, show, takeNotice } from './ui.js';
import { businessesPage } from './page-businesses.js';

const root = document.getElementById('root');

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
    const at = location.pathname;
    let me, sub, usage;
    try {
        [me, sub, usage] = await Promise.all([api('GET', '/v1/me'),
                                              api('GET', '/v1/billing/subscription'),
                                              api('GET', '/v1/usage/summary')]);
    } catch (error) {
        if (signedIn() && location.pathname === at)
            shell('Home', el('p', { class: 'form-error', role: 'alert' }, explain(error)),
                  el('button', { type: 'button', onclick: home }, 'Try again'));
        return;
    }
    if (location.pathname !== at)
        return;             // the user moved on while Home was loading
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

function render() {
    const path = location.pathname;
    const notice = takeNotice();
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
    const businesses = path.match(/^\/app\/businesses(?:\/(new|[0-9a-f-]{36}))?\/?$/);
    if (businesses)
        return businessesPage(businesses[1] || null, notice);
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
setRenderer(render);
window.addEventListener('popstate', render);
onSignedOut(() => navigate('/', 'Your session ended. Please log in again.'));
render();
