#!/usr/bin/env node
'use strict';
// The cpyref language server over standard input and output: `cpyref-lsp --stdio`.
require('../out/src/lsp/main.js').main(process.argv.slice(2));
