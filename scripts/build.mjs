#!/usr/bin/env node
// `npm run build`, and `npm ci` / `npm install` through the "prepare" script:
// bundle the CLI into dist/iospec.cjs (see scripts/bundle.mjs).
import { buildBundle } from './bundle.mjs';

await buildBundle();
