// gateway/www/page-analytics.js — the Analytics page (/app/analytics). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function analyticsPage() {
    shell('Analytics', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
