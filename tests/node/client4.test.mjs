// Mattermost's own JavaScript client (Client4 from @mattermost/client)
// against a real mmhost: login, getMe, createUserAccessToken, logout.
// Then an admin installs an App with two HTTP requests and a user runs one of
// its calls with executeAppCall; the tokens the App receives authenticate as
// the App. run.sh starts the host and the test App and passes MMHOST_URL,
// MMHOST_ADMIN, MMHOST_PASSWORD and TEST_APP_URL.
import test from 'node:test';
import assert from 'node:assert/strict';
import client from '@mattermost/client';

const {Client4} = client;
const url = process.env.MMHOST_URL;
const admin = process.env.MMHOST_ADMIN;
const password = process.env.MMHOST_PASSWORD;
const appUrl = process.env.TEST_APP_URL;

function newClient(token) {
    const c = new Client4();
    c.setUrl(url);
    c.setIncludeCookies(false);
    if (token) {
        c.setToken(token);
    }
    return c;
}

test('login returns the user and sets the token from the Token header', async () => {
    const c = newClient();
    const me = await c.login(admin, password);
    assert.equal(me.username, admin);
    assert.equal(me.roles, 'system_user system_admin');
    assert.equal(me.password, undefined);
    assert.equal(c.getToken().length, 26);
    const again = await c.getMe();
    assert.equal(again.id, me.id);
});

test('a wrong password is a ClientError with the server id and 401', async () => {
    const c = newClient();
    await assert.rejects(c.login(admin, 'not-the-password'), (err) => {
        assert.equal(err.status_code, 401);
        assert.equal(err.server_error_id, 'api.user.login.invalid_credentials_email_username');
        return true;
    });
});

test('createUserAccessToken gives a token that works alone', async () => {
    const c = newClient();
    const me = await c.login(admin, password);
    const pat = await c.createUserAccessToken(me.id, 'client4 test');
    assert.equal(pat.user_id, me.id);
    assert.equal(pat.description, 'client4 test');
    assert.equal(pat.token.length, 26);
    const other = newClient(pat.token);
    const viaPat = await other.getMe();
    assert.equal(viaPat.id, me.id);
});

test('logout revokes the session', async () => {
    const c = newClient();
    await c.login(admin, password);
    const token = c.getToken();
    await c.logout();
    const stale = newClient(token);
    await assert.rejects(stale.getMe(), (err) => {
        assert.equal(err.status_code, 401);
        assert.equal(err.server_error_id, 'api.context.session_expired.app_error');
        return true;
    });
});

test('getMe without a token is 401', async () => {
    await assert.rejects(newClient().getMe(), (err) => err.status_code === 401);
});

test('an App installed with two requests answers executeAppCall with working tokens', async () => {
    const admin = newClient();
    await admin.login(process.env.MMHOST_ADMIN, password);
    const apps = `${url}/plugins/com.mattermost.apps/api/v1`;
    const post = (path, body) => fetch(`${apps}${path}`, {
        method: 'POST',
        headers: {Authorization: `Bearer ${admin.getToken()}`, 'Content-Type': 'application/json'},
        body: JSON.stringify(body),
    });
    const manifest = {
        app_id: 'node-app',
        display_name: 'Node App',
        homepage_url: 'https://example.com',
        requested_permissions: ['act_as_bot', 'act_as_user', 'remote_oauth2'],
        http: {root_url: appUrl},
    };
    assert.equal((await post('/update-app-listing', manifest)).status, 200);
    const installed = await post('/install-app', {app_id: 'node-app', deploy_type: 'http'});
    assert.equal(installed.status, 200);

    const me = await admin.getMe();
    const user = await admin.createUser({username: 'caller', email: 'caller@example.com', password: 'caller-password'});
    assert.equal(user.username, 'caller');
    const c = newClient();
    await c.login('caller', 'caller-password');
    const res = await c.executeAppCall({
        path: '/echo',
        expand: {acting_user: 'summary', acting_user_access_token: 'all'},
        context: {app_id: 'node-app', location: '/command'},
    }, false);
    assert.equal(res.type, 'ok');
    assert.equal(res.app_metadata.bot_username, 'node-app');
    const ctx = res.data.context;
    assert.equal(ctx.app_id, 'node-app');
    assert.equal(ctx.acting_user.username, 'caller');
    assert.notEqual(ctx.acting_user.id, me.id);

    const asBot = await newClient(ctx.bot_access_token).getMe();
    assert.equal(asBot.is_bot, true);
    assert.equal(asBot.id, ctx.bot_user_id);
    const asUser = await newClient(ctx.acting_user_access_token).getMe();
    assert.equal(asUser.username, 'caller');
});
