// Opens the gateway's spend page in headless Chromium, as a finance user would, and prints one
// JSON object with what the page shows (read from the DOM's data-* attributes), every request
// the browser made, and the CSV files its links download.
//
// usage: node spend_page.mjs URL TOKEN SCREENSHOT_PATH
//   URL    the page, e.g. http://127.0.0.1:PORT/ui
//   TOKEN  the admin token, given as the Basic password after the page's 401 challenge
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const [url, token, screenshot] = process.argv.slice(2);
if (!url || !token || !screenshot) {
  console.error('usage: node spend_page.mjs URL TOKEN SCREENSHOT_PATH');
  process.exit(2);
}
const gatewayOrigin = new URL(url).origin;

// The machine has no internet for the browser: nothing of Chromium's own may reach out.
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

async function launch(dir, options) {
  return chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
    ...options,
  });
}

async function readPage(page) {
  // Runs in the page, so its row reader is defined inline: the page's CSP allows no eval.
  return page.evaluate(() => {
    // Every table row of `selector` as an object of its cells' data-field -> data-value (and
    // the text shown, as `FIELD_text`).
    const rowsOf = (selector) => [...document.querySelectorAll(`${selector} tbody tr`)]
      .filter((tr) => tr.querySelector('[data-field]'))
      .map((tr) => {
        const row = {};
        for (const td of tr.querySelectorAll('[data-field]')) {
          row[td.dataset.field] = td.dataset.value;
          row[`${td.dataset.field}_text`] = td.textContent;
        }
        return row;
      });
    const win = document.getElementById('window');
    const totals = {};
    for (const dd of document.querySelectorAll('[data-total]')) {
      if (dd.tagName === 'DD') totals[dd.dataset.total] = dd.textContent;
    }
    const tables = {};
    const charts = {};
    for (const group of ['route', 'tenant', 'model']) {
      tables[group] = rowsOf(`table[data-group="${group}"]`);
      const chart = document.querySelector(`[data-chart="${group}"]`);
      charts[group] = chart && chart.tagName.toLowerCase() === 'svg'
        ? {
          series: Number(chart.dataset.series),
          segments: [...chart.querySelectorAll('rect')].map((r) => ({
            day: r.dataset.day, key: r.dataset.key, cost: Number(r.dataset.cost),
          })),
        }
        : { series: 0, segments: [], text: chart ? chart.textContent : null };
    }
    const headings = [...document.querySelectorAll('h2')].map((h) => h.textContent);
    return {
      title: document.title,
      window: { since: win.dataset.since, until: win.dataset.until },
      headings,
      totals,
      tables,
      charts,
      budgets: rowsOf('table[data-budgets]'),
      shares: rowsOf('table[data-shares]').map((r, i) => ({
        side: document.querySelectorAll('table[data-shares] tbody tr')[i].dataset.side, ...r,
      })),
      top: rowsOf('table[data-top]'),
      savings: document.querySelector('[data-savings]')?.dataset.savings ?? null,
      savingsFigures: Object.assign({}, ...rowsOf('table[data-savings="recorded"]')),
      idle: document.querySelector('[data-idle]')?.dataset.idle ?? null,
      csvLinks: Object.fromEntries(
        [...document.querySelectorAll('a[data-csv]')].map((a) => [a.dataset.csv, a.getAttribute('href')]),
      ),
      text: document.body.innerText,
    };
  });
}

// Clicks the CSV link of `name` and returns the downloaded file's text and suggested name.
async function download(page, name) {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.click(`a[data-csv="${name}"]`),
  ]);
  const path = await file.path();
  return { filename: file.suggestedFilename(), text: readFileSync(path, 'utf8') };
}

const requests = [];
const consoleErrors = [];
const dir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
let out;
try {
  // First without credentials: the page must not show. Headless Chromium cannot answer the
  // Basic challenge (a person would get a prompt), so the navigation fails; the context's own
  // request client shows the 401 and its challenge.
  const anonymous = await launch(join(dir, 'anonymous'));
  const anonPage = await anonymous.newPage();
  let navigation;
  try {
    navigation = { status: (await anonPage.goto(url)).status() };
  } catch (e) {
    navigation = { error: e.message.split('\n')[0] };
  }
  const anonResponse = await anonymous.request.get(url, { failOnStatusCode: false });
  const unauthenticated = {
    navigation,
    status: anonResponse.status(),
    challenge: anonResponse.headers()['www-authenticate'] ?? null,
  };
  await anonymous.close();

  const context = await launch(join(dir, 'finance'), {
    httpCredentials: { username: 'finance', password: token },
  });
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  const response = await page.goto(url, { waitUntil: 'load' });
  const headers = await response.allHeaders();
  const shown = await readPage(page);
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  const csv = {};
  for (const name of ['route', 'tenant', 'model', 'day', 'top']) {
    csv[name] = await download(page, name);
  }
  await context.close();
  const foreign = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== gatewayOrigin);
  out = {
    status: response.status(),
    contentSecurityPolicy: headers['content-security-policy'] ?? null,
    unauthenticated,
    ...shown,
    csv,
    requests,
    foreignRequests: foreign,
    consoleErrors,
    screenshot,
  };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
