/** The `rapport` command line. */
import { Command } from 'commander';
import { startCommand } from './start';
import { validateCommand } from './validate';

const program = new Command()
  .name('rapport')
  .description('Customer journeys as durable, versioned, testable Temporal workflows.')
  .showHelpAfterError();

program
  .command('start')
  .description(
    'Run Rapport: Temporal, the customer database, the worker and the HTTP API (configured by environment variables; see the README)',
  )
  .action(startCommand);

program
  .command('validate')
  .description('Check journey definitions and report every problem with its line and column')
  .argument('<files...>', 'journey YAML files')
  .option('--templates <dir>', 'the templates folder (default: definitions/templates)')
  .option('--json', 'print the result as JSON')
  .action(validateCommand);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
