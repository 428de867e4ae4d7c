/** `rapport simulate`: a journey played out for one customer on the time-skipping server. */
import fs from 'node:fs';
import { parse } from 'yaml';
import { formatSimulation, simulate, SimulationError } from '../simulate/simulate';

/** A JSON or YAML file, or inline JSON. */
function readDocument(option: string, value: string): unknown {
  const text = value.trim().startsWith('{') || value.trim().startsWith('[') ? value : readFile(option, value);
  try {
    return parse(text) as unknown;
  } catch (err) {
    throw new SimulationError(`${option}: not valid JSON or YAML (${(err as Error).message.split('\n')[0]})`);
  }
}

function readFile(option: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new SimulationError(`${option}: no such file ${file} (give a file, or inline JSON)`);
  }
}

export async function simulateCommand(
  file: string,
  options: { customer: string; events?: string; data?: string; start?: string; templates?: string; json?: boolean },
): Promise<void> {
  try {
    const started = Date.now();
    let ready = started;
    const result = await simulate({
      onReady: () => {
        ready = Date.now();
      },
      journeyFile: file,
      customer: readDocument('--customer', options.customer) as Record<string, unknown>,
      ...(options.events ? { events: readDocument('--events', options.events) as never } : {}),
      ...(options.data ? { triggerData: readDocument('--data', options.data) as Record<string, unknown> } : {}),
      ...(options.start ? { start: options.start } : {}),
      ...(options.templates ? { templatesDir: options.templates } : {}),
    });
    if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(`${formatSimulation(result)}\n`);
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      process.stderr.write(`start-up ${s(ready - started)}, simulation ${s(Date.now() - ready)}\n`);
    }
  } catch (err) {
    if (!(err instanceof SimulationError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}
