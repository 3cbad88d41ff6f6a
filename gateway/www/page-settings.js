// gateway/www/page-settings.js — the Settings page (/app/settings). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function settingsPage() {
    shell('Settings', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
