/**
 * The workflow bundle: workflows/ compiled by the SDK's webpack, without any I/O module. A build is
 * kept in `.tools/workflow-bundles/`, named by a hash of what goes into it (the workflow and
 * definition sources and the SDK's version), so a start loads it instead of running webpack: a
 * quicker start, and none of webpack's memory in a running Rapport.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
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

/** The folders the bundle is built from. */
export const bundleSources = [path.join(projectRoot, 'workflows'), path.join(projectRoot, 'definitions')];

/** What the bundle is built from (the SDK's version, the sources in `dirs`): a change to any of it is a new bundle. */
export function bundleKey(dirs: string[] = bundleSources): string {
  const hash = createHash('sha256');
  for (const pkg of ['@temporalio/workflow', '@temporalio/worker']) {
    const manifest = JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string };
    hash.update(`${pkg}@${manifest.version}\n`);
  }
  hash.update(`preload ${PRELOADED_MODULES.join(',')}\n`);
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
export function buildWorkflowBundle(
  options: { workflowInterceptorModules?: string[]; workflows?: string } = {},
): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: options.workflows ?? workflowsPath,
    workflowInterceptorModules: options.workflowInterceptorModules ?? [],
    // Failures' messages go through the payload codec (client/server/protection.ts).
    failureConverterPath: require.resolve('../workflows/failure-converter'),
    preloadModules: PRELOADED_MODULES.map((m) => path.join(projectRoot, m)),
    logger: {
      trace() {},
      debug() {},
      info() {},
      warn: (m) => console.warn(m),
      error: (m) => console.error(m),
      log() {},
    },
  });
}

/** The bundle for the sources as they are: the kept build, or a new one, then kept. */
export async function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  const file = path.join(bundlesDir, `${bundleKey()}.json`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as WorkflowBundleWithSourceMap;
  } catch {
    // Not built yet for these sources (or unreadable): built now.
  }
  const bundle = await buildWorkflowBundle();
  try {
    fs.mkdirSync(bundlesDir, { recursive: true });
    // Written whole, then renamed: a process reading at the same time sees the old file or the new.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ code: bundle.code, sourceMap: bundle.sourceMap }));
    fs.renameSync(tmp, file);
    for (const old of fs.readdirSync(bundlesDir)) {
      if (old.endsWith('.json') && old !== path.basename(file)) fs.rmSync(path.join(bundlesDir, old), { force: true });
    }
  } catch {
    // A read-only installation builds at each start instead.
  }
  return bundle;
}
