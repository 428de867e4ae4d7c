/** The `rapport` command line. Exit codes: 0 done, 1 failed (invalid input, refused by the API), 2 usage. */
import { Command, Option } from 'commander';
import { RapportApiError } from '../../sdk';
import { SCOPES } from '../../../activities/store/api-keys';
import { CUSTOMER_SORTS } from '../../../activities/store/customer-sorts';
import type * as Accounts from './accounts';
import type * as Audit from './audit';
import type * as Customers from './customers';
import type * as Import from './import';
import type * as Journeys from './journeys';
import type * as Ops from './ops';
import type * as Preview from './preview';
import type * as Report from './report';
import type * as Simulate from './simulate';
import type * as Start from './start';
import type * as Test from './test';
import type * as Validate from './validate';

// Each command's module is loaded when the command runs, so that `rapport events send` starts
// without the engine `rapport start` loads (tsx's CommonJS hook, which runs the command line,
// serves `require`, not `import()`).
/* eslint-disable @typescript-eslint/no-require-imports */
const load = {
  accounts: () => require('./accounts') as typeof Accounts,
  audit: () => require('./audit') as typeof Audit,
  customers: () => require('./customers') as typeof Customers,
  importing: () => require('./import') as typeof Import,
  journeys: () => require('./journeys') as typeof Journeys,
  ops: () => require('./ops') as typeof Ops,
  preview: () => require('./preview') as typeof Preview,
  report: () => require('./report') as typeof Report,
  simulate: () => require('./simulate') as typeof Simulate,
  start: () => require('./start') as typeof Start,
  test: () => require('./test') as typeof Test,
  validate: () => require('./validate') as typeof Validate,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The action that runs command `name` of the module `load` gives. */
function run<M, K extends keyof M>(module: () => M, name: K) {
  return (...args: unknown[]) => (module()[name] as (...a: unknown[]) => void | Promise<void>)(...args);
}

const program = new Command()
  .name('rapport')
  .description('Customer journeys as durable, versioned, testable Temporal workflows.')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

const connection = (cmd: Command) =>
  cmd
    .option('--url <url>', 'the Rapport API (default: $RAPPORT_URL or http://127.0.0.1:3000)')
    .option('--api-key <key>', 'an API key (default: $RAPPORT_API_KEY)');

program
  .command('start')
  .description(
    'Run Rapport: Temporal, the customer database, the worker and the HTTP API (configured by environment variables; see the README)',
  )
  .addOption(
    new Option(
      '--role <role>',
      'what this process runs: all; api (the HTTP API and the router); worker (the Temporal worker). Default $RAPPORT_ROLE or all',
    ).choices(['all', 'api', 'worker']),
  )
  .action(run(load.start, 'startCommand'));

program
  .command('validate')
  .description('Check journey definitions and report every problem with its line and column')
  .argument('<files...>', 'journey YAML files')
  .option('--templates <dir>', 'the templates folder (default: definitions/templates)')
  .option('--json', 'print the result as JSON')
  .action(run(load.validate, 'validateCommand'));

connection(
  program
    .command('publish')
    .description('Validate journeys and publish each as its next version; shows what changes for the customers inside')
    .argument('<files...>', 'journey YAML files')
    .option('--dry-run', 'only show what publishing would change')
    .option('--templates <dir>', 'the templates folder (default: definitions/templates)')
    .option('--json', 'print the result as JSON'),
).action(run(load.journeys, 'publishCommand'));

program
  .command('graph')
  .description('Draw a journey: a Mermaid flowchart, or an HTML page to open in a browser')
  .argument('<file>', 'a journey YAML file')
  .option('--format <format>', 'mermaid or html (default: from --out, else mermaid)')
  .option('--out <file>', 'write to this file instead of the terminal')
  .option('--templates <dir>', 'the templates folder (default: definitions/templates)')
  .action(run(load.journeys, 'graphCommand'));

connection(
  program
    .command('report')
    .description('Did the journey work: entered, steps, messages, the goal, exits, and split paths compared')
    .argument('<journey>')
    .option('--version <n>', 'one version (default: all together)')
    .option('--since <day>', 'first day counted, YYYY-MM-DD (UTC)')
    .option('--until <day>', 'the day after the last counted, YYYY-MM-DD (UTC)')
    .option('--svg <file>', 'also write the funnel as an SVG chart')
    .option('--json', 'print JSON'),
).action(run(load.report, 'reportCommand'));

const insights = program
  .command('insights')
  .description('The customer value models: chance of being active, orders to come, lifetime value');
connection(
  insights
    .command('fit')
    .description('Fit the models on every customer’s orders now (admin key)')
    .option('--as-of <time>', 'fit on the orders up to this ISO 8601 time instead')
    .option('--json', 'print JSON'),
).action((o: { url?: string; apiKey?: string; json?: boolean; asOf?: string }) =>
  load.report().insightsCommand('fit', o),
);
connection(insights.command('show').description('The newest fit').option('--json', 'print JSON')).action(
  (o: { url?: string; apiKey?: string; json?: boolean }) => load.report().insightsCommand('show', o),
);

const journeys = program.command('journeys').description('List, show, pause and resume published journeys');
connection(
  journeys.command('list').description('Every journey, its newest version and status').option('--json', 'print JSON'),
).action(run(load.journeys, 'journeysList'));
connection(
  journeys
    .command('show')
    .description('A journey: versions, and where its customers are')
    .argument('<journey>')
    .option('--json', 'print JSON'),
).action(run(load.journeys, 'journeysShow'));
connection(
  journeys
    .command('pause')
    .description('Stop new enrollments (customers inside go on)')
    .argument('<journey>')
    .option('--json', 'print JSON'),
).action((id: string, o: { url?: string; apiKey?: string; json?: boolean }) =>
  load.journeys().journeysSetStatus(id, 'pause', o),
);
connection(
  journeys
    .command('resume')
    .description('Take new enrollments again')
    .argument('<journey>')
    .option('--json', 'print JSON'),
).action((id: string, o: { url?: string; apiKey?: string; json?: boolean }) =>
  load.journeys().journeysSetStatus(id, 'resume', o),
);

const previewOptions = (cmd: Command) =>
  connection(
    cmd
      .argument('<journey>', 'a published journey')
      .argument('<step>', 'the id of one of its send steps')
      .requiredOption(
        '--customer <ref|json>',
        'who gets it: an email, a phone (+E.164), system:id or a customer id (their facts are read), or inline JSON facts such as \'{"firstName": "Ada", "email": "ada@example.com"}\' (the rest as a new customer has them)',
      )
      .option('--version <n>', 'a published version (default: the newest)')
      .option('--event <json>', 'the data of the event that enrolled the customer, as templates read it (event.data)')
      .option('--json', 'print JSON'),
  );
previewOptions(
  program
    .command('preview')
    .description(
      "Show a send step's message as a customer would get it: email headers, text and HTML, or SMS text with its encoding and segments; a preferred-channel step shows the channel the customer would get, and why",
    ),
).action(run(load.preview, 'previewCommand'));
previewOptions(
  program
    .command('send-test')
    .description(
      'Send a send step\'s message for real through the configured mailer or SMS sender to another address, marked as a test ("[TEST] " and, for email, the header X-Rapport-Test: 1); no customer\'s record, cap or ledger changes',
    )
    .requiredOption('--to <address>', 'an email address, or a phone number in E.164 form (+15551234567)'),
).action(run(load.preview, 'sendTestCommand'));

const customers = program
  .command('customers')
  .description('One customer: profile, identities, consent, metrics, journeys, timeline');
connection(
  customers
    .command('show')
    .description('Everything Rapport knows about a customer')
    .argument('<customer>', 'id, email or phone')
    .option('--json', 'print JSON'),
).action(run(load.customers, 'customersShow'));
connection(
  customers
    .command('list')
    .description(
      'Customers found and ranked: one page (a table: id, name or email, stage, orders, revenue, value, RFM segment)',
    )
    .option('--where <cel>', 'a CEL condition over customer, such as \'customer.rfm.segment == "at_risk"\'')
    .addOption(new Option('--sort <key>', 'rank by (default revenue)').choices([...CUSTOMER_SORTS]))
    .addOption(new Option('--order <order>', 'largest or smallest first (default desc)').choices(['asc', 'desc']))
    .option('--limit <n>', 'customers to show (default 50, at most 1000)')
    .option('--json', 'print JSON (with the cursor of the next page)'),
).action(run(load.customers, 'customersList'));
connection(
  customers
    .command('export')
    .description('Every customer the filter finds, ranked, as CSV or JSON lines; progress on stderr')
    .option('--where <cel>', 'a CEL condition over customer')
    .addOption(new Option('--sort <key>', 'rank by (default revenue)').choices([...CUSTOMER_SORTS]))
    .addOption(new Option('--order <order>', 'largest or smallest first (default desc)').choices(['asc', 'desc']))
    .addOption(new Option('--format <format>', 'csv or jsonl').choices(['csv', 'jsonl']).makeOptionMandatory())
    .option('--out <file>', 'write to this file (default: standard output)'),
).action(run(load.customers, 'customersExport'));

const accounts = program
  .command('accounts')
  .description('Accounts (client organisations): contacts, revenue, value, timeline');
connection(
  accounts
    .command('show')
    .description('An account: its contacts, the orders placed for it, its predicted value and latest timeline')
    .argument('<account>', 'the account id, as the other system gives it')
    .option('--json', 'print JSON'),
).action(run(load.accounts, 'accountsShow'));

connection(
  program
    .command('explain')
    .description('Why a customer got, or did not get, each message; where they are and what they wait for')
    .argument('<customer>', 'id, email or phone')
    .argument('[journey]', 'only this journey')
    .option('--json', 'print JSON'),
).action(run(load.customers, 'explainCommand'));

connection(
  program
    .command('simulate')
    .description(
      'Play a journey out for one customer on the time-skipping server (real workflow, policy and templates; messages captured, nothing sent) and print what happens, in simulated time',
    )
    .argument('<journey>', 'the journey YAML file')
    .option(
      '--customer <file|json>',
      'the customer: a JSON or YAML file, or inline JSON such as \'{"email": "ada@example.com", "firstName": "Ada", "timezone": "Europe/Paris", "orders": [{"total": 40, "placedAt": "-30d"}]}\'; with --from, fields that replace the copy\'s',
    )
    .option(
      '--from <customer>',
      'simulate a copy of a live customer as they are now (id, email or phone), read through the API; nothing is sent to them or written',
    )
    .option(
      '--events <file|json>',
      'events at offsets from the enrollment: [{"at": "+2d", "type": "app.activated", "data": {}}]',
    )
    .option('--data <json>', 'the data of the event that enrolls the customer')
    .option('--start <time>', 'when the customer enrolls (ISO 8601; default now)')
    .option('--templates <dir>', 'the templates folder (default: definitions/templates)')
    .option('--json', 'print the run as JSON'),
).action(run(load.simulate, 'simulateCommand'));

program
  .command('test')
  .description(
    'Run scenario files (<journey>.scenarios.yaml): each scenario plays the journey out on the time-skipping server and checks its expectations',
  )
  .argument('[files...]', 'scenario files (default: every one in definitions/journeys and RAPPORT_JOURNEYS_DIRS)')
  .option('--coverage', 'list the steps and branches no scenario reached')
  .option('--templates <dir>', 'the templates folder (default: definitions/templates)')
  .option('--json', 'print the results as JSON')
  .action(run(load.test, 'testCommand'));

const events = program.command('events').description('Send events to Rapport, and see what became of them');
connection(
  events
    .command('send')
    .description('Send one event; prints which journeys enrolled the customer and which moved along')
    .argument('<type>', 'the event type, such as order.placed')
    .requiredOption(
      '--customer <ref>',
      'who: an email, a phone (+E.164), system:id (another system’s id) or a customer id',
    )
    .option('--data <json>', 'the event data, a JSON object')
    .option('--profile <json>', 'profile fields to set, a JSON object such as \'{"firstName": "Ada"}\'')
    .option('--id <id>', 'the event id (default: a new one); the same id again has no second effect')
    .option('--json', 'print the receipt as JSON'),
).action(run(load.ops, 'eventsSend'));
connection(
  events
    .command('show')
    .description('What became of an event: accepted, routed or parked, and why')
    .argument('<id>', 'the event id')
    .option('--json', 'print the receipt as JSON'),
).action(run(load.ops, 'eventsShow'));
connection(
  events
    .command('retry')
    .description('Route a parked event again, after fixing what stopped it')
    .argument('<id>', 'the event id')
    .option('--json', 'print the receipt as JSON'),
).action(run(load.ops, 'eventsRetry'));
connection(
  events
    .command('backlog')
    .description('What the router has still to do: events waiting to be routed, waiting for a retry and parked')
    .option('--json', 'print JSON'),
).action(run(load.ops, 'eventsBacklog'));

connection(
  program
    .command('reconcile')
    .description(
      'Compare active enrollments and open send claims with Temporal now (a worker does it every minute): failed, terminated or missing journeys are recorded as failed, orphaned claims closed',
    )
    .option('--min-age <seconds>', 'leave what is younger than this alone (default 60)')
    .option('--json', 'print the report as JSON'),
).action(run(load.ops, 'reconcileNow'));

const tasks = program.command('tasks').description('Tasks the journeys created for people');
connection(
  tasks
    .command('list')
    .description('Open tasks, by team')
    .option('--team <team>', 'only this team’s')
    .option('--status <status>', 'open (default), completed, timed_out or cancelled')
    .option('--json', 'print JSON'),
).action(run(load.ops, 'tasksList'));
connection(
  tasks
    .command('complete')
    .description('Complete a task with an outcome; a journey waiting for it goes on')
    .argument('<id>', 'the task id')
    .requiredOption('--outcome <outcome>', 'what came of it, such as resolved')
    .option('--note <note>', 'a note for the record')
    .option('--json', 'print JSON'),
).action(run(load.ops, 'tasksComplete'));

const keys = program
  .command('keys')
  .description('API keys: until the first one exists, the API answers this machine only');
connection(
  keys
    .command('create')
    .description(
      'Create an API key; it is printed once. Without --url, RAPPORT_URL or an API key, it is written straight to the customer database of this machine’s Rapport (its settings: DATABASE_URL or the data folder)',
    )
    .requiredOption('--name <name>', 'who uses it, such as shop-backend')
    .requiredOption('--scopes <scopes>', `comma-separated: ${SCOPES.join(', ')}`)
    .option('--json', 'print JSON'),
).action(run(load.ops, 'keysCreate'));
connection(keys.command('list').description('API keys, never their secrets').option('--json', 'print JSON')).action(
  run(load.ops, 'keysList'),
);
connection(
  keys.command('revoke').description('Revoke an API key').argument('<id>', 'the key id').option('--json', 'print JSON'),
).action(run(load.ops, 'keysRevoke'));

connection(
  program
    .command('audit')
    .description(
      'Who did what, newest first: publishing, pausing and resuming journeys, tasks completed, erasures, merges, API keys, imports, model fits (admin key)',
    )
    .option('--action <action>', 'one action, such as journey.pause, or a family, such as journey')
    .option('--target <target>', 'what was acted on, such as journey:welcome or customer:<id>')
    .option('--actor <actor>', "an API key's name or id, local or cli")
    .option('--since <time>', 'from this day (YYYY-MM-DD, UTC) or ISO 8601 time')
    .option('--until <time>', 'before this day or time')
    .option('--limit <n>', 'entries to show, at most 500 (default: 100)')
    .option('--cursor <next>', 'the next page, as the previous one said')
    .option('--json', 'print JSON'),
).action(run(load.audit, 'auditCommand'));

connection(
  program
    .command('import')
    .description(
      'Load customers (with their consent), past orders or suppressions from a CSV or JSON-lines file; bad rows are reported with their line numbers and the rest go in. Imported orders update metrics but enroll nobody.',
    )
    .argument('<kind>', 'customers, orders or suppressions')
    .argument('<file>', 'a .csv file with a header line, or .jsonl (one JSON object per line)')
    .option('--format <format>', 'csv or jsonl (default: from the file name)')
    .option(
      '--map <pairs>',
      'rename columns to Rapport fields, such as "cust=externalId,day=occurredAt,amount=total"; "!" inverts a yes/no column, as in "unsubscribed=!consent.email.marketing". Fields: customerId, email, phone, externalId, externalSystem, firstName, lastName, timezone, locale, preferredChannel, consent.<email|sms>.<purpose> with consentedAt, consentSource, consentIp, consentMethod (customers; other columns become attributes); orderId, occurredAt, total, currency, quantity, product, category (orders); email or phone, reason, at, detail, channel (suppressions)',
    )
    .option('--system <name>', 'the system external ids come from, such as shop (default: import)')
    .option('--delimiter <char>', 'the CSV column separator (default: ,)')
    .option('--batch <rows>', 'rows per request, at most 1000 (default: 500)')
    .option('--json', 'print the report as JSON'),
).action(run(load.importing, 'importCommand'));

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${err instanceof RapportApiError || err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
