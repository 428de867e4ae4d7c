/** The workflow bundle: workflows/ compiled once by the SDK's webpack, without any I/O module. */
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

export const workflowsPath = require.resolve('../workflows');

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
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
