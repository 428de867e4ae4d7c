/**
 * The workflow bundle: workflows/ compiled by the SDK's webpack, without any I/O module. A build is
 * kept in `.tools/workflow-bundles/`, named by a hash of what goes into it (the workflow and
 * definition sources and the SDK's version), so a start loads it instead of running webpack: a
 * quicker start, and none of webpack's memory in a running Rapport. The worker is given the kept
 * file's path, not its text, so the main thread does not hold the text once the workflow thread has
 * it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle, type WorkflowBundleOption } from '@temporalio/worker';
import { projectRoot, toolsDir } from '../paths';

const workflowsPath = require.resolve('../workflows');

const bundlesDir = path.join(toolsDir, 'workflow-bundles');

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .filter((f) => /\.(ts|js|json)$/.test(f))
    .sort();
}

/**
 * Modules of the workflow code loaded once per worker thread and shared by every journey in it,
 * instead of once for each cached journey: CEL (its parser, and the checked environment per place
 * in `definitions/cel.ts`) and local times (luxon, as `definitions/local-time.ts` imports it: a
 * bare `require('luxon')` would be another build of it, and dropped as free of side effects). The
 * SDK freezes what they export; they keep no state per workflow, only caches any journey may share.
 * Paths are from the project's folder.
 */
export const PRELOADED_MODULES = ['definitions/cel.ts', 'definitions/local-time.ts', 'definitions/steps/index.ts'];

/**
 * The bundle's source map is inline, as the SDK reads it, with the positions (a stack trace names
 * the TypeScript file and line) and without the sources' text, which only a worker with
 * `showStackTraceSources` sends (Rapport's do not): about half the text in every copy of the bundle
 * (2.7 million characters instead of 5.1).
 */
const DEVTOOL = 'inline-nosources-source-map';

/** The folders the bundle is built from. */
export const bundleSources = [path.join(projectRoot, 'workflows'), path.join(projectRoot, 'definitions')];

/** What the bundle is built from (the SDK's version, the sources in `dirs`): a change to any of it is a new bundle. */
export function bundleKey(dirs: string[] = bundleSources): string {
  const hash = createHash('sha256');
  for (const pkg of ['@temporalio/workflow', '@temporalio/worker']) {
    const manifest = JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string };
    hash.update(`${pkg}@${manifest.version}\n`);
  }
  hash.update(`preload ${PRELOADED_MODULES.join(',')}\n`).update(`devtool ${DEVTOOL}\n`);
  for (const dir of dirs) {
    for (const file of sourceFiles(dir)) hash.update(`${path.relative(dir, file)}\n`).update(fs.readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Builds the bundle with webpack, whatever is kept. `workflowInterceptorModules` adds workflow
 * interceptors (`npm run faults` adds its fault points; Rapport itself has none); `workflows` is
 * another entry that exports Rapport's workflows and more (the benchmarks' hand-written journey),
 * built with the same options.
 */
export async function buildWorkflowBundle(
  options: { workflowInterceptorModules?: string[]; workflows?: string } = {},
): Promise<WorkflowBundle> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: options.workflows ?? workflowsPath,
    workflowInterceptorModules: options.workflowInterceptorModules ?? [],
    // Failures' messages go through the payload codec (client/server/protection.ts).
    failureConverterPath: require.resolve('../workflows/failure-converter'),
    preloadModules: PRELOADED_MODULES.map((m) => path.join(projectRoot, m)),
    webpackConfigHook: (config) => ({ ...config, devtool: DEVTOOL }),
    logger: {
      trace() {},
      debug() {},
      info() {},
      warn: (m) => console.warn(m),
      error: (m) => console.error(m),
      log() {},
    },
  });
  // The SDK reads the source map from the comment at the end of the code (the returned `sourceMap`
  // is not used), so the code alone is the bundle.
  return { code: latin1Only(code) };
}

/**
 * `code` with each character beyond Latin-1 written as a `\u` escape. V8 keeps a string with even
 * one such character at two bytes a character, and a handful of them (dashes and ellipses in
 * comments and messages, luxon's tables of digits) made the whole bundle, its inline source map
 * included, two bytes a character in every copy a process holds. The escapes stand where the
 * characters stood: in string, template and regular expression literals they mean the same
 * character, in comments nothing. A character after an odd run of backslashes was an escape
 * itself (`\—` is `—`), so its escape takes that backslash's place.
 */
export function latin1Only(code: string): string {
  return code.replace(/(\\*)([\u0100-\uffff])/g, (_, slashes: string, char: string) => {
    const kept = slashes.length % 2 === 1 ? slashes.slice(1) : slashes;
    return `${kept}\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/**
 * The kept build for the sources as they are, built now if there is none: its path, for a worker
 * (the SDK reads it), or its code where it could not be kept (a read-only installation builds at
 * each start instead).
 */
export async function keptWorkflowBundle(): Promise<WorkflowBundleOption> {
  const file = path.join(bundlesDir, `${bundleKey()}.js`);
  if (fs.existsSync(file)) return { codePath: file };
  const bundle = await buildWorkflowBundle();
  try {
    fs.mkdirSync(bundlesDir, { recursive: true });
    // Written whole, then renamed: a process reading at the same time sees the old file or the new.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, bundle.code);
    fs.renameSync(tmp, file);
    for (const old of fs.readdirSync(bundlesDir)) {
      if (!old.endsWith('.tmp') && old !== path.basename(file)) fs.rmSync(path.join(bundlesDir, old), { force: true });
    }
    return { codePath: file };
  } catch {
    return bundle;
  }
}

/** The kept build's code (tests give it to many workers in one process). */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  const kept = await keptWorkflowBundle();
  return 'codePath' in kept ? { code: fs.readFileSync(kept.codePath, 'utf8') } : kept;
}
