#!/usr/bin/env node
// appliance-js build BOT.(js|ts) [-o BOT.wasm]
//
// Bundles a bot module (JavaScript or TypeScript, with the SDK and any npm
// packages it imports) with esbuild, embeds the bundle's source map so a
// crash names the bot's own files and lines, and turns it into a component
// of world `command-event-bot` with ComponentizeJS (SpiderMonkey, the bot's
// top level pre-initialised by Wizer). Versions: package.json, pinned.

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORLD = 'command-event-bot';
// The node provides wasi:cli, io, clocks, random and filesystem, not wasi:http.
const DISABLED_FEATURES = ['http', 'fetch-event'];

function usage(message) {
  if (message) console.error(`error: ${message}`);
  console.error('usage: appliance-js build BOT.(js|ts) [-o BOT.wasm]');
  process.exit(2);
}

/** guest-sdk/wit in this repository, or the copy `appliance new` writes beside the SDK. */
async function witDir() {
  for (const dir of [join(SDK, '..', 'wit'), join(SDK, 'wit')]) {
    try {
      if ((await stat(join(dir, 'world.wit'))).isFile()) return dir;
    } catch {
      // try the next place
    }
  }
  throw new Error(`no world.wit in ${join(SDK, '..', 'wit')} or ${join(SDK, 'wit')}`);
}

async function build(entry, out) {
  const started = Date.now();
  const esbuild = await import('esbuild');
  const { componentize } = await import('@bytecodealliance/componentize-js');
  const work = await mkdtemp(join(tmpdir(), 'appliance-js-'));
  try {
    const name = basename(entry, extname(entry));
    const bundlePath = join(work, `${name}.js`);
    // The component's three exports, around the bot the module exports.
    const main = join(work, 'main.js');
    await writeFile(
      main,
      `import bot from ${JSON.stringify(resolve(entry))};\n` +
        `import { exportsOf } from 'appliance-sdk';\n` +
        `const exports = exportsOf(bot);\n` +
        `export function handleInteraction(interaction) { return exports.handleInteraction(interaction); }\n` +
        `export function handleEvent(event) { return exports.handleEvent(event); }\n` +
        `export function commands() { return exports.commands(); }\n`,
    );
    const bundled = await esbuild.build({
      entryPoints: [main],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      outfile: bundlePath,
      write: false,
      sourcemap: 'external',
      external: ['appliance:bot/*', 'wasi:*'],
      alias: { 'appliance-sdk': join(SDK, 'src', 'index.js') },
      logLevel: 'error',
    });
    const code = bundled.outputFiles.find((f) => f.path.endsWith('.js')).text;
    const map = JSON.parse(bundled.outputFiles.find((f) => f.path.endsWith('.map')).text);
    // Sources relative to where the build runs (the bot's project).
    const absolute = map.sources.map((s) => resolve(work, s));
    const sources = absolute.map((s) => relative(process.cwd(), s));
    // The SDK and the glue above: a crash's stack leaves their frames out.
    const internal = absolute.flatMap((s, i) => (s === main || s.startsWith(join(SDK, 'src')) ? [i] : []));
    const sourceMap = { file: `${name}.js`, sources, internal, mappings: map.mappings };
    // Appended after the code, so no line of the map moves.
    await writeFile(bundlePath, `${code}\nglobalThis.__applianceSourceMap = ${JSON.stringify(sourceMap)};\n`);

    const { component } = await componentize({
      sourcePath: bundlePath,
      witPath: await witDir(),
      worldName: WORLD,
      disableFeatures: DISABLED_FEATURES,
    });
    await writeFile(out, component);
    const mib = (component.length / 1024 / 1024).toFixed(1);
    console.error(`built ${out} (${mib} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (command !== 'build') usage(command ? `unknown command ${JSON.stringify(command)}` : 'no command');
  let entry;
  let out;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '-o' || rest[i] === '--out') out = rest[++i];
    else if (rest[i].startsWith('-')) usage(`unknown option ${rest[i]}`);
    else if (entry === undefined) entry = rest[i];
    else usage(`one bot module at a time (got ${entry} and ${rest[i]})`);
  }
  if (!entry) usage('name the bot module');
  try {
    await stat(entry);
  } catch {
    usage(`${entry} does not exist`);
  }
  out ??= `${basename(entry, extname(entry))}.wasm`;
  await build(entry, out);
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`error: ${error.message ?? error}`);
  process.exit(1);
});
