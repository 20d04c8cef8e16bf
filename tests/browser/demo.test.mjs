// A person's way through `make demo` in a real browser: Debian's Chromium,
// headless, driven by playwright-core. What curl cannot see is checked here:
// the Content-Security-Policy a browser enforces (form-action applies to the
// redirects that follow a form POST), the Origin a browser sends, how the
// pages look, and that they work without JavaScript.
//
// Environment (set by run.sh): DEMO_SCRIPT, DEMO_BIN, DEMO_PLUGINS, DEMO_DIR,
// SCREENSHOTS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';

const STEP_MS = 60_000; // the sanitizer build is slow; never a bound on speed
const shots = process.env.SCREENSHOTS;

async function freePort() {
  const srv = net.createServer();
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

// Starts scripts/demo.sh in its own process group, as a terminal would run
// `make demo`. out() is everything it printed so far.
function startDemo(env, dir) {
  const child = spawn('sh', [process.env.DEMO_SCRIPT], {
    env: {
      ...process.env,
      DEMO_BIN: process.env.DEMO_BIN,
      DEMO_PLUGINS: process.env.DEMO_PLUGINS,
      DEMO_DIR: dir,
      ...env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d) => { text += d; });
  child.stderr.on('data', (d) => { text += d; });
  const exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  return { child, out: () => text, exited };
}

async function until(what, fn, ms = STEP_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, no) => { timer = setTimeout(() => no(new Error(`${what}: not within ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function groupMembers(pgid) {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '-g', String(pgid)], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // ps exits 1 when the group is empty
  }
}

describe('make demo in Chromium', () => {
  let demo, site, user, password, browser;
  const cspViolations = [];

  before(async () => {
    const [host, app, provider] = [await freePort(), await freePort(), await freePort()];
    site = `http://127.0.0.1:${host}`;
    demo = startDemo({
      MMHOST_LISTEN: `127.0.0.1:${host}`,
      DEMO_APP_LISTEN: `127.0.0.1:${app}`,
      DEMO_PROVIDER_LISTEN: `127.0.0.1:${provider}`,
    }, process.env.DEMO_DIR);
    await until('the demo to say it runs', () =>
      demo.out().includes('Ctrl-C stops everything') || demo.child.exitCode !== null);
    const m = demo.out().match(/log in as\s+(\S+)\s+with password\s+(\S+)/);
    assert.ok(m, `no credentials in the demo's output:\n${demo.out()}`);
    [, user, password] = m;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    if (demo && demo.child.exitCode === null) {
      try { process.kill(-demo.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });

  // A fresh profile's context (no cookies); every page's CSP report is kept.
  async function newPage(options = {}) {
    const ctx = await browser.newContext(options);
    ctx.setDefaultTimeout(STEP_MS);
    const page = await ctx.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`);
    });
    return page;
  }

  // Runs fn(page); on failure a screenshot of the page goes to SCREENSHOTS.
  async function step(name, page, fn) {
    try {
      await fn();
    } catch (e) {
      fs.mkdirSync(shots, { recursive: true });
      const file = path.join(shots, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      e.message += `\n(screenshot: ${file}; page ${page.url()})`;
      throw e;
    }
  }

  async function logIn(page, pw) {
    await page.fill('#login_id', user);
    await page.fill('#password', pw);
    await page.click('button[type=submit]');
  }

  test('a logged-out person opens the connect link, logs in, and is connected', async () => {
    const page = await newPage({ javaScriptEnabled: false }); // the pages need none
    const connect = `${site}/plugins/com.mattermost.apps/apps/hello-oauth2/oauth2/remote/connect`;
    await step('connect-logged-out', page, async () => {
      await page.goto(connect);
      assert.match(page.url(), /\/login\?redirect_to=/);
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
    });
    await step('wrong-password', page, async () => {
      await logIn(page, `${password}-wrong`);
      await page.getByRole('alert').filter({ hasText: 'Enter a valid email or username and/or password.' }).waitFor();
      assert.match(page.url(), /\/login$/);
    });
    await step('login-connect-provider-complete', page, async () => {
      // The form keeps where it was going: login -> connect -> 307 to the
      // provider -> complete. A strict CSP must let that chain through.
      await logIn(page, password);
      await page.getByText('You have connected your account').waitFor();
      assert.match(page.url(), /\/oauth2\/remote\/complete\?/);
    });
    await step('app-sees-connection', page, async () => {
      await until('hello-oauth2 /me to say connected', () => /me: You are connected/.test(demo.out()));
    });
    await page.context().close();
  });

  test('the landing page shows who you are, your Apps, and /login sends you on', async () => {
    const page = await newPage();
    await step('landing', page, async () => {
      await page.goto(`${site}/`);
      await page.getByRole('link', { name: 'Log in' }).click();
      await logIn(page, password);
      await page.waitForURL(`${site}/`);
      await page.getByText(`You are ${user}`).waitFor();
      const row = page.getByRole('listitem').filter({ hasText: 'Hello OAuth2' });
      await row.getByText('Connected', { exact: true }).waitFor();
      await row.getByRole('link', { name: 'Connect again' }).waitFor();
    });
    await step('login-when-signed-in', page, async () => {
      await page.goto(`${site}/login`);
      assert.equal(page.url(), `${site}/`);
      await page.goto(`${site}/login?redirect_to=%2Flogout`);
      assert.equal(page.url(), `${site}/logout`);
    });
    await step('not-found', page, async () => {
      const r = await page.goto(`${site}/no/such/page`);
      assert.equal(r.status(), 404);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    });
    await page.context().close();
  });

  test('logging out takes the button; opening /logout does not', async () => {
    const page = await newPage();
    await step('logout', page, async () => {
      await page.goto(`${site}/login`);
      await logIn(page, password);
      await page.waitForURL(`${site}/`);
      await page.goto(`${site}/logout`); // a GET shows the form only
      await page.goto(`${site}/`);
      await page.getByText(`You are ${user}`).waitFor();
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(`${site}/login`);
      await page.goto(`${site}/`);
      await page.getByText('You are not signed in.').waitFor();
    });
    await page.context().close();
  });

  test('the login button is as wide as the inputs', async () => {
    const page = await newPage();
    await step('login-layout', page, async () => {
      await page.goto(`${site}/login`);
      const input = await page.locator('#login_id').boundingBox();
      const pw = await page.locator('#password').boundingBox();
      const button = await page.getByRole('button', { name: 'Log in' }).boundingBox();
      assert.equal(Math.round(pw.width), Math.round(input.width));
      assert.equal(Math.round(button.width), Math.round(input.width));
      assert.equal(Math.round(button.x), Math.round(input.x));
    });
    await page.context().close();
  });

  test('no page broke its Content-Security-Policy', () => {
    assert.deepEqual(cspViolations, []);
  });

  test('a second demo on a taken port stops at once and says why', async () => {
    const port = new URL(site).port;
    const second = startDemo({ MMHOST_LISTEN: `127.0.0.1:${port}`, DEMO_APP_LISTEN: `127.0.0.1:${await freePort()}`, DEMO_PROVIDER_LISTEN: `127.0.0.1:${await freePort()}` },
      `${process.env.DEMO_DIR}-second`);
    const { code } = await within(second.exited, STEP_MS, 'the second demo to stop');
    assert.equal(code, 1);
    assert.match(second.out(), /cannot listen on 127\.0\.0\.1:\d+/);
    assert.doesNotMatch(second.out(), /The demo is running/);
    assert.equal(groupMembers(second.child.pid), '');
  });

  test('Ctrl-C stops the whole demo', async () => {
    process.kill(-demo.child.pid, 'SIGINT'); // what a terminal sends the group
    const { code } = await within(demo.exited, STEP_MS, 'the demo to stop');
    assert.equal(code, 130);
    await until('every demo process to end', () => groupMembers(demo.child.pid) === '');
    for (const log of ['mmhost.log', 'hello-oauth2.log', 'provider.log']) {
      const text = fs.readFileSync(path.join(process.env.DEMO_DIR, log), 'utf8');
      assert.doesNotMatch(text, /AddressSanitizer|runtime error:|LeakSanitizer/, `${log}:\n${text}`);
    }
  });
});
