// Bundles the extension and its scan worker into dist/ with esbuild (CommonJS), and copies
// the three wasm files beside them: web-tree-sitter's CJS build looks for its runtime wasm in
// the bundle's folder, and the C and C++ grammars are loaded from there too.
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist, { recursive: true });

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node18', sourcemap: false, minify: true, logLevel: 'warning', external: ['vscode', 'tree-sitter-c/tree-sitter-c.wasm', 'tree-sitter-cpp/tree-sitter-cpp.wasm'] };
esbuild.buildSync({ ...common, entryPoints: [path.join(root, 'src/extension/extension.ts')], outfile: path.join(dist, 'extension.js') });
esbuild.buildSync({ ...common, entryPoints: [path.join(root, 'src/node/worker.ts')], outfile: path.join(dist, 'worker.js') });
esbuild.buildSync({ ...common, entryPoints: [path.join(root, 'src/node/scan-worker.ts')], outfile: path.join(dist, 'scan-worker.js') });
fs.copyFileSync(require.resolve('web-tree-sitter/tree-sitter.wasm'), path.join(dist, 'tree-sitter.wasm'));
fs.copyFileSync(require.resolve('tree-sitter-c/tree-sitter-c.wasm'), path.join(dist, 'tree-sitter-c.wasm'));
fs.copyFileSync(require.resolve('tree-sitter-cpp/tree-sitter-cpp.wasm'), path.join(dist, 'tree-sitter-cpp.wasm'));
for (const f of fs.readdirSync(dist)) console.log(`dist/${f} ${fs.statSync(path.join(dist, f)).size} bytes`);
