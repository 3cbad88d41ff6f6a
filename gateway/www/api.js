// gateway/www/api.js — the dashboard's only way to the API: same origin,
// JSON in and out, the session's tokens attached.
//
// Tokens live in memory only (this module's `session`), never in
// localStorage, sessionStorage, a cookie or a URL: a script injected into
// the page could read any of those, and the page's CSP already keeps
// foreign script out. The price is that a reload or a new tab logs out; a
// later slice can keep the refresh token in an httpOnly cookie (a gateway
// route that script cannot read) to survive reloads.
//
// An answer of 401 to a call with a session tries POST /v1/auth/refresh
// once (the API rotates the refresh token) and repeats the call; when
// that fails the session ends and onSignedOut is told. Every failure is
// thrown as an ApiError carrying the API's stable code (error.code), its
// message and, for validation_failed, the message of each field.

const session = { access: null, refresh: null, me: null };
let signedOut = () => {};

export class ApiError extends Error {
    constructor(status, body) {
        const error = (body && body.error) || {};
        super(error.message || `the server answered ${status}`);
        this.status = status;
        this.code = error.code || (status === 0 ? 'network_error' : 'internal_error');
        this.fields = error.fields || {};
        this.limit = error.limit;
        this.used = error.used;
        this.retryAfter = error.retry_after;
    }
}

export function onSignedOut(callback) {
    signedOut = callback;
}

export function signedIn() {
    return session.access !== null;
}

function keep(tokens) {
    session.access = tokens.access_token;
    session.refresh = tokens.refresh_token;
}

export function forget() {
    session.access = null;
    session.refresh = null;
    session.me = null;
}

// GET /v1/me ({user, organization, role, plan}) once per session: app.js
// awaits it before drawing a signed-in page, so that the nav knows the
// role (ui.js shell). whoami(true) reads it again (after a rename).
export async function whoami(again = false) {
    if (!session.me || again)
        session.me = await api('GET', '/v1/me');
    return session.me;
}

export function currentMe() {
    return session.me;
}

async function send(method, path, body, token) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined)
        headers['Content-Type'] = 'application/json';
    if (token)
        headers.Authorization = `Bearer ${token}`;
    let response;
    try {
        response = await fetch(path, {
            method, headers, credentials: 'same-origin', cache: 'no-store',
            body: body === undefined ? undefined : JSON.stringify(body)
        });
    } catch {
        throw new ApiError(0, { error: { code: 'network_error',
                                         message: 'The server cannot be reached.' } });
    }
    let data = null;
    if (response.status !== 204) {
        try {
            data = await response.json();
        } catch {
            data = null;
        }
    }
    if (!response.ok)
        throw new ApiError(response.status, data);
    return data;
}

async function refresh() {
    if (!session.refresh)
        return false;
    try {
        keep(await send('POST', '/v1/auth/refresh', { refresh_token: session.refresh }));
        return true;
    } catch {
        return false;
    }
}

// A call with the session's access token (one refresh on 401).
export async function api(method, path, body) {
    try {
        return await send(method, path, body, session.access);
    } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 401 || !session.access)
            throw error;
        if (await refresh())
            return send(method, path, body, session.access);
        forget();
        signedOut();
        throw error;
    }
}

export async function signUp(fields) {
    const answer = await send('POST', '/v1/auth/signup', fields);
    keep(answer);
    session.me = null;
    return answer;
}

export async function logIn(email, password) {
    const answer = await send('POST', '/v1/auth/login', { email, password });
    keep(answer);
    session.me = null;
    return answer;
}

// Tokens from elsewhere (POST /v1/invitations/accept answers them): the
// session starts with them.
export function adopt(tokens) {
    keep(tokens);
    session.me = null;
}

export async function logOut() {
    try {
        if (session.access)
            await send('POST', '/v1/auth/logout', { refresh_token: session.refresh },
                       session.access);
    } catch {
        // The tokens are forgotten here whatever the server says.
    }
    forget();
}
