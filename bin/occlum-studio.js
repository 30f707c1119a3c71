#!/usr/bin/env node
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    console.error('occlum-studio: dist/cli.js is missing; run `npm install` (or `npm run build`) in the project first');
    process.exit(2);
  }
  throw err;
});
