// gateway/www/page-help.js — the Help page (/app/help), for every role:
//
//   - links to the guides (/docs/guides/<name>, the Markdown files of
//     docs/guides/ rendered at build time; the list below is theirs) and
//     to the API reference (/docs). They open in a new tab: leaving the
//     dashboard's page would end the session, whose tokens live in memory
//     only (api.js).
//   - a contact form: subject (one line, at most 200 characters) and
//     message (at most 10,000, with a live count) → POST
//     /v1/support/requests → 202 {id, priority}: the page says the request
//     was sent, names its reference, says a confirmation mail went to the
//     user's address and whether the plan's priority support applies
//     (priority: plans with the feature priority_support).
//
// The rules (required, lengths, one line) are the API's: the form does not
// repeat them beyond the browser's maxlength, and the API's 400
// validation_failed messages appear next to their fields (ui.js
// formError). Other errors in words (explain) above the form; the button
// is disabled while the request is on its way.

import { api, currentMe } from './api.js';
import { el, formError, shell } from './ui.js';

const GUIDES = [
    ['getting-started', 'Getting started',
     'Sign up, add a business, record a call, read usage, create an API key.'],
    ['api-guide', 'API guide',
     'Authentication, errors, pagination, idempotency, plan limits, rate limits.'],
    ['migrating', 'Migrating from a single-tenant installation',
     'Moving an older, one-customer database into Switchboard.'],
    ['operators', 'Operator guide',
     'Running Switchboard: processes, settings, scaling, backups, secrets.']
];
const SUBJECT_MAX = 200;
const MESSAGE_MAX = 10000;
const NAMES = { subject: 'Subject', message: 'Message' };

function newTab(href, text, cls) {
    return el('a', { href, target: '_blank', rel: 'noopener', class: cls || null },
              text, el('span', { class: 'sr' }, ' (opens in a new tab)'));
}

function control(label, node, hint) {
    const id = node.id;
    const hintNode = hint ? el('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
    node.setAttribute('aria-describedby', [hint && `${id}-hint`, `${id}-error`]
                                          .filter(Boolean).join(' '));
    return el('div', { class: 'field' }, el('label', { for: id }, label), node, hintNode,
              el('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

function contactForm(done) {
    const subject = el('input', { id: 'support-subject', name: 'subject', type: 'text',
                                  maxlength: SUBJECT_MAX, required: true, autocomplete: 'off' });
    const message = el('textarea', { id: 'support-message', name: 'message', rows: 8,
                                     maxlength: MESSAGE_MAX, required: true });
    const count = el('span', { class: 'counter', id: 'support-message-count' });
    const counted = () => {
        const n = message.value.length;
        count.textContent = `${n.toLocaleString()} of ${MESSAGE_MAX.toLocaleString()} characters`;
        count.classList.toggle('near', n > MESSAGE_MAX * 0.9);
    };
    message.addEventListener('input', counted);
    counted();
    const box = el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const submit = el('button', { type: 'submit', class: 'primary' }, 'Send request');
    const form = el('form', { class: 'card support-form', novalidate: true,
                              'aria-labelledby': 'contact-title' },
                    el('h2', { id: 'contact-title' }, 'Contact support'),
                    box,
                    control('Subject', subject, `One line, up to ${SUBJECT_MAX} characters.`),
                    control('Message', message,
                            'What happened, and what you expected. Please do not include ' +
                            'passwords or API keys.'),
                    el('p', { class: 'hint counter-line' }, count),
                    submit);
    message.setAttribute('aria-describedby',
                         `${message.getAttribute('aria-describedby')} support-message-count`);
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        formError(form, null, NAMES);
        submit.disabled = true;
        submit.textContent = 'Sending…';
        try {
            const answer = await api('POST', '/v1/support/requests',
                                     { subject: subject.value.trim(), message: message.value });
            done(answer, subject.value.trim());
        } catch (error) {
            formError(form, error, NAMES);
            submit.disabled = false;
            submit.textContent = 'Send request';
        }
    });
    return form;
}

function sent(answer, subject, again) {
    const me = currentMe();
    const email = me && me.user && me.user.email;
    return el('section', { class: 'card support-sent', 'aria-labelledby': 'sent-title',
                           tabindex: '-1' },
              el('h2', { id: 'sent-title' }, 'Your request was sent'),
              el('p', {}, `“${subject}” reached our support team. Its reference is `,
                 el('code', { class: 'support-id' }, answer.id), '.'),
              el('p', { class: 'support-mail' },
                 email ? `We sent a confirmation to ${email}.`
                       : 'We sent a confirmation to your email address.'),
              el('p', { class: `support-priority${answer.priority ? ' priority' : ''}` },
                 answer.priority
                     ? 'Your plan includes priority support: your request is answered first.'
                     : 'Requests are answered in the order they arrive; plans with priority ' +
                       'support are answered first.'),
              el('button', { type: 'button', onclick: again }, 'Send another request'));
}

export function helpPage() {
    const slot = el('div', { class: 'support-slot' });
    const showForm = () => {
        slot.replaceChildren(contactForm((answer, subject) => {
            const node = sent(answer, subject, () => {
                showForm();
                document.getElementById('support-subject').focus();
            });
            slot.replaceChildren(node);
            node.focus();
        }));
    };
    showForm();
    shell('Help',
          el('section', { class: 'card help-docs', 'aria-labelledby': 'guides-title' },
             el('h2', { id: 'guides-title' }, 'Guides'),
             el('ul', { class: 'guide-list' }, GUIDES.map(([name, title, what]) =>
                 el('li', {}, newTab(`/docs/guides/${name}`, title, 'guide-link'),
                    el('p', { class: 'hint' }, what)))),
             el('p', {}, newTab('/docs/guides/', 'All guides'), ' · ',
                newTab('/docs', 'API reference', 'reference-link'),
                ' (every route, with examples)')),
          slot);
    document.getElementById('main').focus();
}
