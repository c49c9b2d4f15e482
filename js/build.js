// Builds dist/t.js from src/t.js: __VERSION__ becomes package.json's version, then terser.
// Usage: node build.js [OUTPUT]   (default dist/t.js; check_built.sh passes a temp file)
'use strict';
const fs = require('fs');
const path = require('path');
const { minify } = require('terser');

const version = require('./package.json').version;
const source = fs.readFileSync(path.join(__dirname, 'src', 't.js'), 'utf8')
  .replace(/__VERSION__/g, version);
const output = process.argv[2] || path.join(__dirname, 'dist', 't.js');

minify(source, {
  ecma: 2015,
  compress: { arrows: true, passes: 3, unsafe: true, unsafe_arrows: true },
  mangle: true,
  format: { comments: false, wrap_func_args: false },
}).then((result) => {
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, result.code + '\n');
}).catch((error) => {
  console.error(error);
  process.exit(1);
});
