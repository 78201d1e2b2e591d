/**
 * Calls an async function of a package synchronously, from a worker thread, for the few places where a parser that
 * only has an async API (the HCL parser and jq, both WebAssembly) is needed while stack manifests are read, which is
 * synchronous. The caller blocks on `Atomics.wait` until the worker answers; the worker loads each package once and
 * stays for the process (unreferenced, so it never keeps the process alive).
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { StrataError } from '../errors.ts';

/** node:worker_threads, loaded when first needed: most runs start no worker, and loading it costs ~6 ms of start-up. */
export const workerThreads = () => process.getBuiltinModule('node:worker_threads');

/** The worker: imports the module by URL and runs one named export per request. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const modules = new Map();
parentPort.on('message', async ({ url, name, args, port, flag }) => {
  let reply;
  try {
    let loaded = modules.get(url);
    if (!loaded) { loaded = import(url); modules.set(url, loaded); }
    const mod = await loaded;
    const fn = mod[name] ?? mod.default?.[name];
    reply = { value: await fn(...args) };
  } catch (error) {
    reply = { error: String(error && error.message ? error.message : error) };
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

let worker: Worker | undefined;

function theWorker(): Worker {
  if (!worker) {
    worker = new (workerThreads().Worker)(WORKER_SOURCE, { eval: true });
    worker.unref();
  }
  return worker;
}

/** How long one call may take before the caller gives up (loading a WebAssembly parser takes about a second). */
const TIMEOUT_MS = 60_000;

/**
 * Runs `name(...args)` of the module at `url` (an absolute file: URL, e.g. from `import.meta.resolve`) and returns
 * its result. Arguments and results must be structured-cloneable. Errors come back as Error with the message.
 */
export function callSync<T>(url: string, name: string, args: unknown[]): T {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new (workerThreads().MessageChannel)();
  try {
    theWorker().postMessage({ url, name, args, port: port2, flag }, [port2 as MessagePort]);
    if (Atomics.wait(flag, 0, 0, TIMEOUT_MS) === 'timed-out') {
      throw new StrataError(`${name} in ${url} did not answer within ${TIMEOUT_MS / 1000}s`);
    }
    const message = workerThreads().receiveMessageOnPort(port1)?.message as { value?: T; error?: string } | undefined;
    if (!message) throw new StrataError(`${name} in ${url} gave no answer`);
    if (message.error !== undefined) throw new Error(message.error);
    return message.value as T;
  } finally {
    port1.close();
  }
}
