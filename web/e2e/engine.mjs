// Starts the real engine for the browser tests: a temporary data directory
// with the demo store imported (demo/online_retail_sample.csv.zst), served on
// a free port, its first model snapshot trained.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_KEY = 'browser-test-admin-key';
export const PUBLIC_KEY = 'browser-test-public-key';

function run(bin, args, env, log) {
  return new Promise((done, fail) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', log, log] });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`vitrina ${args[0]} exited with ${code}`))));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startEngine() {
  const bin = process.env.VITRINA_BIN ?? join(root, 'build/vitrina');
  if (!existsSync(bin)) throw new Error(`no engine binary at ${bin} (set VITRINA_BIN or build first)`);
  const dir = mkdtempSync(join(tmpdir(), 'vitrina-browser-'));
  const data = join(dir, 'data');
  const logPath = join(dir, 'vitrina.log');
  const log = openSync(logPath, 'a');
  const env = { ...process.env, VITRINA_ADMIN_KEY: ADMIN_KEY, VITRINA_PUBLIC_KEY: PUBLIC_KEY };
  await run(bin, ['import', '--data', data, '--format', 'online-retail', join(root, 'demo/online_retail_sample.csv.zst')], env, log);
  const portFile = join(dir, 'port');
  const server = spawn(bin, ['serve', '--data', data, '--port', '0', '--port-file', portFile, '--server.threads', '2'],
    { env, stdio: ['ignore', log, log] });
  let exited = null;
  server.on('exit', (code) => (exited = code));
  const engine = {
    url: '',
    dir,
    logPath,
    async api(method, path, body, key = ADMIN_KEY) {
      const response = await fetch(engine.url + path, {
        method,
        headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      if (exited === null) {
        server.kill('SIGTERM');
        for (let i = 0; i < 100 && exited === null; ++i) await sleep(100);
        if (exited === null) server.kill('SIGKILL');
      }
      if (!process.env.VITRINA_KEEP_TEST_DATA) rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 600 && !existsSync(portFile); ++i) {
    if (exited !== null) throw new Error('the engine exited at start:\n' + readFileSync(logPath, 'utf8').slice(-2000));
    await sleep(100);
  }
  engine.url = 'http://127.0.0.1:' + readFileSync(portFile, 'utf8').trim();
  // The server trains its first snapshot in the background at start.
  for (let i = 0; i < 1200; ++i) {
    const models = await engine.api('GET', '/v1/models');
    if (models.body.current && !models.body.training.running) return engine;
    await sleep(100);
  }
  await engine.stop();
  throw new Error('the first model snapshot was not trained in 120 s');
}
