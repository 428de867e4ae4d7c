#!/usr/bin/env node
// The `rapport` command: runs the TypeScript sources through tsx.
require('tsx/cjs');
require('../client/tools/cli/main.ts');
