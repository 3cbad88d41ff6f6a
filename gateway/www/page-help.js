// gateway/www/page-help.js — the Help page (/app/help). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function helpPage() {
    shell('Help', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
