// gateway/www/app.js — the Switchboard dashboard: a single-page app on the
// public API alone (api.js), served by the gateway (gw_static.c) at `/`,
// at every `/app/<path>` and at the mailed links' `/reset-password` and
// `/accept-invitation`, so that a deep link loads this same page.
//
// This file only routes: each page is a module of its own (page-*.js),
// the shared helpers are in ui.js. ROUTES below is the one list of paths;
// ui.js PAGES is the nav.
//
// Moving between pages is history.pushState, never a page load. A page
// load (a reload, a link opened in a new tab, coming back from Stripe)
// first resumes the session the gateway's httpOnly cookie holds (api.js
// resume), so a signed-in user stays signed in. Before any signed-in page
// is drawn, GET /v1/me is read once (api.js whoami) so that the nav knows
// the user's role.
//
// Every node is made with el() and text nodes: nothing the API returns is
// ever parsed as HTML. No inline script or style anywhere (the CSP
// forbids both).

import { onSignedOut, resume, signedIn, whoami } from './api.js';
import { el, explain, navigate, rememberReturnPath, setRenderer, shell, show,
         takeNotice } from './ui.js';
import { landingPage, resetPasswordPage } from './page-account.js';
import { acceptInvitationPage } from './page-invitation.js';
import { homePage } from './page-home.js';
import { businessesPage } from './page-businesses.js';
import { callsPage } from './page-calls.js';
import { ordersPage } from './page-orders.js';
import { analyticsPage } from './page-analytics.js';
import { teamPage } from './page-team.js';
import { apiKeysPage } from './page-api-keys.js';
import { billingPage } from './page-billing.js';
import { settingsPage } from './page-settings.js';
import { helpPage } from './page-help.js';

const ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

// [pattern, page]: page(first capture or null, notice) draws it.
const ROUTES = [
    [/^\/app\/?$/, homePage],
    [new RegExp(`^/app/businesses(?:/(new|${ID}))?/?$`), businessesPage],
    [new RegExp(`^/app/calls(?:/(${ID}))?/?$`), callsPage],
    [new RegExp(`^/app/orders(?:/(${ID}))?/?$`), ordersPage],
    [/^\/app\/analytics\/?$/, analyticsPage],
    [/^\/app\/team\/?$/, teamPage],
    [/^\/app\/api-keys\/?$/, apiKeysPage],
    [/^\/app\/billing(?:\/(success|canceled))?\/?$/, billingPage],
    [/^\/app\/settings\/?$/, settingsPage],
    [/^\/app\/help\/?$/, helpPage]
];

// Pages that need no session (the mailed links): drawn whether or not
// one exists.
const PUBLIC = { '/reset-password': resetPasswordPage,
                 '/accept-invitation': acceptInvitationPage };

function notFound() {
    shell('Page not found', el('p', {}, 'There is no such page. ',
                               el('a', { href: '/app/', 'data-link': true }, 'Go to Home')));
}

async function render() {
    const path = location.pathname;
    const notice = takeNotice();
    if (PUBLIC[path])
        return PUBLIC[path](notice);
    if (!signedIn()) {
        await resume();             // the session the cookie holds (api.js)
        if (location.pathname !== path)
            return;
    }
    if (!path.startsWith('/app')) {
        if (signedIn())
            return navigate('/app/');
        return landingPage(notice);
    }
    if (!signedIn()) {
        rememberReturnPath(`${path}${location.search}`);    // opened after logging in
        history.replaceState(null, '', '/');
        return landingPage('Please log in to continue.');
    }
    try {
        await whoami();
    } catch (error) {
        if (signedIn() && location.pathname === path)
            show(el('main', { id: 'main', class: 'landing' },
                    el('p', { class: 'form-error', role: 'alert' }, explain(error)),
                    el('button', { type: 'button', onclick: render }, 'Try again')));
        return;
    }
    if (location.pathname !== path)
        return;             // the user moved on meanwhile
    for (const [pattern, page] of ROUTES) {
        const match = path.match(pattern);
        if (match)
            return page(match[1] || null, notice);
    }
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
