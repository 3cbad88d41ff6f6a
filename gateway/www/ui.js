// gateway/www/ui.js — the dashboard's shared helpers: el() (every node
// made with it and text nodes: nothing the API returns is parsed as HTML),
// show(), the words for the API's error codes (explain), form fields and
// the errors shown next to them (field, formError), the signed-in page's
// frame (shell) and moving between pages (navigate, which calls the
// renderer app.js registers with setRenderer: history.pushState, never a
// page load, since the session lives in memory), a confirmation dialog
// (confirmDialog) and dates in a business's time zone (when, day, isoDay,
// dayStart, addDays, daysFrom, dayLabels, referenceZone, businessMap).

import { ApiError, api, currentMe, logOut } from './api.js';

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

// An error of the page's own checks (a confirmation that differs), shaped
// like the API's validation_failed so that formError shows it the same
// way: fields maps a field's name to its message.
export function localError(fields) {
    return new ApiError(400, { error: { code: 'validation_failed',
                                        message: 'Please correct the fields marked below.',
                                        fields } });
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

// The signed-in pages, in the order of the nav; admin: only for admins
// (the API would answer 403 to anyone else).
export const PAGES = [
    { path: '/app/', label: 'Home', exact: true },
    { path: '/app/businesses', label: 'Businesses' },
    { path: '/app/calls', label: 'Calls' },
    { path: '/app/orders', label: 'Orders' },
    { path: '/app/analytics', label: 'Analytics' },
    { path: '/app/team', label: 'Team', admin: true },
    { path: '/app/api-keys', label: 'API keys', admin: true },
    { path: '/app/billing', label: 'Billing', admin: true },
    { path: '/app/settings', label: 'Settings' },
    { path: '/app/help', label: 'Help' }
];

// The frame of every signed-in page: the top bar (brand, the
// organization, log out), the nav (admin pages only for admins: app.js
// reads GET /v1/me before drawing any page, see api.js whoami) and <main>
// with the page's title and content. The bar and the nav are drawn once
// and then kept, only their current page and the organization's name
// updated: a page drawn twice (loading, then loaded) must not replace a
// link under the user's pointer between its mousedown and its mouseup,
// which would swallow the click (and it spares a flicker).
export function shell(title, ...content) {
    const me = currentMe();
    const admin = !me || me.role === 'admin';
    const pages = PAGES.filter((page) => admin || !page.admin);
    const here = (page) => (page.exact ? location.pathname === page.path
                                       : location.pathname.startsWith(page.path));
    const main = el('main', { id: 'main', tabindex: '-1' }, el('h1', {}, title), ...content);
    const nav = root.querySelector(':scope > nav.mainnav');
    const kept = nav && root.querySelector(':scope > header.topbar')
                 && [...nav.querySelectorAll('a')].map((a) => a.getAttribute('href')).join(' ')
                    === pages.map((page) => page.path).join(' ');
    if (kept) {
        for (const link of nav.querySelectorAll('a')) {
            const page = pages.find((p) => p.path === link.getAttribute('href'));
            if (here(page))
                link.setAttribute('aria-current', 'page');
            else
                link.removeAttribute('aria-current');
        }
        const who = root.querySelector(':scope > header.topbar .who');
        if (who && me)
            who.textContent = me.organization.name;
        root.querySelector(':scope > main').replaceWith(main);
    }
    else {
        const out = el('button', { type: 'button', class: 'link', onclick: async () => {
            await logOut();
            navigate('/', 'You are logged out.');
        } }, 'Log out');
        show(el('header', { class: 'topbar' },
                el('a', { class: 'brand', href: '/app/', 'data-link': true }, 'Switchboard'),
                me ? el('span', { class: 'who' }, me.organization.name) : null,
                out),
             el('nav', { class: 'mainnav', 'aria-label': 'Main' },
                pages.map((page) => el('a', { href: page.path, 'data-link': true,
                                              'aria-current': here(page) ? 'page' : false },
                                       page.label))),
             main);
    }
    document.title = `${title} — Switchboard`;
}

// A modal confirmation (<dialog>: focus stays inside, Escape cancels, the
// opener gets focus back): { node, ask(item, opener) }. Put node in the
// page; ask() shows text(item) and, on the yes button, awaits
// action(item), closing on success and showing the API's error otherwise.
export function confirmDialog({ title, text, yes: yesLabel, action }) {
    let target = null, opener = null;
    const id = `confirm-${++uid}`;
    const body = el('p', { id: `${id}-text` });
    const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
    const yes = el('button', { type: 'button', class: 'danger', onclick: async () => {
        yes.disabled = true;
        try {
            await action(target);
            node.close();
        } catch (failure) {
            error.textContent = explain(failure);
            error.hidden = false;
        } finally {
            yes.disabled = false;
        }
    } }, yesLabel);
    const no = el('button', { type: 'button', onclick: () => node.close() }, 'Cancel');
    const node = el('dialog', { class: 'confirm', 'aria-labelledby': `${id}-title`,
                                'aria-describedby': `${id}-text` },
                    el('h2', { id: `${id}-title` }, title),
                    body, error, el('div', { class: 'actions' }, no, yes));
    node.addEventListener('close', () => {
        if (opener && opener.isConnected)
            opener.focus();
    });
    return {
        node,
        ask(item, from) {
            target = item;
            opener = from;
            body.textContent = text(item);
            error.hidden = true;
            node.showModal();
            no.focus();
        }
    };
}

// A secret or a link shown with a button that copies it (the Clipboard
// API; where the browser refuses, the text is selected for the user to
// copy and the button says so). label names what is copied ("Copy the
// key"); a status region announces the result.
export function copyRow(text, label) {
    const code = el('code', { class: 'copy-text' }, text);
    const status = el('span', { class: 'copy-status', role: 'status' });
    const button = el('button', { type: 'button', 'aria-label': label, onclick: async () => {
        try {
            await navigator.clipboard.writeText(text);
            status.textContent = 'Copied.';
        } catch {
            const range = document.createRange();
            range.selectNodeContents(code);
            getSelection().removeAllRanges();
            getSelection().addRange(range);
            status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
        }
    } }, 'Copy');
    return el('div', { class: 'copy-row' }, code, button, status);
}

// The page a user who is not an admin gets on an admin's page (a deep
// link: the nav does not offer it).
export function adminsOnly(title, what) {
    shell(title, el('p', { class: 'form-error', role: 'alert' },
                    `Only admins can ${what}. Ask an admin of your organization if you ` +
                    'need a change.'),
          el('p', {}, el('a', { href: '/app/', 'data-link': true }, 'Go to Home')));
}

// "€22.50" — cents of currency (ISO 4217) in the browser's locale, with
// the currency's own number of decimals (none for JPY); trim: a whole
// amount without them ("$29", for prices).
export function money(cents, currency = 'USD', { trim = false } = {}) {
    try {
        const format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
        const value = cents / 10 ** format.resolvedOptions().maximumFractionDigits;
        if (trim && Number.isInteger(value))
            return new Intl.NumberFormat(undefined, { style: 'currency', currency,
                                                      minimumFractionDigits: 0,
                                                      maximumFractionDigits: 0 }).format(value);
        return format.format(value);
    } catch {
        return `${(cents / 100).toFixed(2)} ${currency || ''}`.trim();
    }
}

// A page whose data could not be read: the error in words, "Try again"
// (retry) and an optional way back (a node).
export function failed(title, error, retry, back = null) {
    shell(title, el('p', { class: 'form-error', role: 'alert' }, explain(error)),
          el('div', { class: 'actions' },
             el('button', { type: 'button', onclick: retry }, 'Try again'), back));
}

// ---- dates and times --------------------------------------------------------
//
// Calls and orders happen at a business: their times are shown in that
// business's time zone (its IANA name, from GET /v1/businesses), with the
// zone's abbreviation, whatever the browser's zone. Without a zone (or
// with one the browser does not know) UTC is used and said.

function zoneOr(timeZone) {
    try {
        new Intl.DateTimeFormat('en', { timeZone });
        return timeZone || 'UTC';
    } catch {
        return 'UTC';
    }
}

// The browser's IANA time zone (UTC when it says none): for times that
// belong to no business (API keys, invitations), said on the page.
export function localZone() {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

// "3 Dec 2026, 21:05 CET" — iso (RFC 3339) in timeZone. (dateStyle and
// timeStyle cannot be combined with timeZoneName: the fields are named.)
export function when(iso, timeZone) {
    if (!iso)
        return '';
    return new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric',
                                                hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
                                                timeZone: zoneOr(timeZone),
                                                timeZoneName: 'short' })
        .format(new Date(iso));
}

// "3 Dec 2026" — the calendar day of iso in timeZone.
export function day(iso, timeZone) {
    if (!iso)
        return '';
    return new Date(iso).toLocaleDateString(undefined, { day: 'numeric', month: 'short',
                                                         year: 'numeric',
                                                         timeZone: zoneOr(timeZone) });
}

// "2026-12-03": the date iso falls on in timeZone (for date inputs and
// for grouping by day).
export function isoDay(iso, timeZone) {
    const parts = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit',
                                                     day: '2-digit', timeZone: zoneOr(timeZone) })
        .formatToParts(new Date(iso));
    const get = (type) => parts.find((part) => part.type === type).value;
    return `${get('year')}-${get('month')}-${get('day')}`;
}

// The zone's offset from UTC at the instant ms, in ms (local − UTC).
function offsetAt(ms, timeZone) {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23',
                                                     year: 'numeric', month: '2-digit',
                                                     day: '2-digit', hour: '2-digit',
                                                     minute: '2-digit', second: '2-digit' })
        .formatToParts(new Date(ms));
    const get = (type) => Number(parts.find((part) => part.type === type).value);
    return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'),
                    get('second')) - Math.floor(ms / 1000) * 1000;
}

// The instant (ms) day ("2026-12-03") starts in timeZone (UTC when the
// zone is unknown to the browser).
export function dayStart(day, timeZone) {
    const [y, m, d] = day.split('-').map(Number);
    const guess = Date.UTC(y, m - 1, d);
    try {
        const first = guess - offsetAt(guess, timeZone);
        return guess - offsetAt(first, timeZone);
    } catch {
        return guess;
    }
}

// day + n days ("2026-12-03", -2 → "2026-12-01").
export function addDays(day, n) {
    const [y, m, d] = day.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

// Every day from first to last, both included.
export function daysFrom(first, last) {
    const days = [];
    for (let day = first; day <= last && days.length < 400; day = addDays(day, 1))
        days.push(day);
    return days;
}

// "3 Dec" (the axis) and "Thu 3 Dec 2026" (the table) for a day.
export function dayLabels(day) {
    const date = new Date(`${day}T12:00:00Z`);
    return {
        short: date.toLocaleDateString(undefined, { day: 'numeric', month: 'short',
                                                    timeZone: 'UTC' }),
        label: date.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric',
                                                    month: 'short', year: 'numeric',
                                                    timeZone: 'UTC' })
    };
}

// The zone a page's days are counted in: business id's, else the
// organization's oldest business's (UTC without any). businesses: a Map
// from businessMap().
export function referenceZone(businesses, id = null) {
    if (id && businesses.has(id))
        return businesses.get(id).timezone;
    const oldest = [...businesses.values()].sort((a, b) =>
        String(a.created_at).localeCompare(String(b.created_at)))[0];
    return oldest ? oldest.timezone : 'UTC';
}

// Every business of the organization (following next_cursor), for names
// and time zones: a Map id → business.
export async function businessMap() {
    const map = new Map();
    let cursor = null;
    do {
        const page = await api('GET', `/v1/businesses?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        for (const business of page.data || [])
            map.set(business.id, business);
        cursor = page.next_cursor;
    } while (cursor);
    return map;
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

// The page a signed-out visitor asked for (a deep link), to open once
// they have logged in; taken once.
let returnPath = null;

export function rememberReturnPath(path) {
    returnPath = path;
}

export function takeReturnPath() {
    const path = returnPath;
    returnPath = null;
    return path;
}

export function navigate(path, notice) {
    pendingNotice = notice || null;
    history.pushState(null, '', path);
    renderer();
}

