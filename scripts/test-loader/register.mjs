// `node --import <this file>`: the test runner's TypeScript loader (see hooks.mjs for why not tsx).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
