// gateway/www/page-billing.js — the Billing page (/app/billing). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function billingPage() {
    shell('Billing', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
